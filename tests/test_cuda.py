"""CUDA checks, run by benchmarks/gpu_check.sh on a machine with a GPU (deselected elsewhere by the
`-m "not cuda"` default in pyproject.toml)."""

import numpy as np
import pytest
import timm
import torch

from diffclip.attention import ATTENTION_VARIANTS, convert_attention, record_attention
from diffclip.inference import Predictor

pytestmark = pytest.mark.cuda


@pytest.fixture(autouse=True)
def _exact_matmul():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def test_cuda_is_there():
    assert torch.cuda.is_available(), "these tests need a CUDA GPU"


@pytest.mark.parametrize("variant", list(ATTENTION_VARIANTS))
def test_fast_path_matches_maps_path_on_cuda(variant):
    torch.manual_seed(0)
    vit = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=17).eval()
    convert_attention(vit, variant)
    vit = vit.cuda()
    for name, p in vit.named_parameters():
        if "lambda" in name:
            p.data.normal_(0, 0.3)
    x = torch.randn(4, 3, 224, 224, device="cuda")
    with torch.no_grad():
        fast = vit(x)
        with record_attention():
            slow = vit(x)
        assert (fast - slow).abs().max().item() <= 1e-3
        with torch.autocast("cuda", dtype=torch.bfloat16):
            fast_bf16 = vit(x).float()
    assert (fast_bf16 - fast).abs().max().item() <= 0.1 * fast.abs().max().item()


def test_predictor_on_cuda_matches_cpu(tiny_checkpoint):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (240, 260, 3), dtype=np.uint8) for _ in range(8)]
    cpu = Predictor(tiny_checkpoint, device="cpu", precision="fp32")(frames).probs
    gpu = Predictor(tiny_checkpoint, device="cuda", precision="auto")
    assert gpu.amp_dtype in (torch.bfloat16, torch.float16)
    assert np.abs(gpu(frames).probs - cpu).max() <= 0.01


def test_pipeline_with_worker_processes_on_cuda(tiny_checkpoint, tmp_path):
    from diffclip.pipeline import predict_sources
    from diffclip.video import folder_source
    from training.synthetic import generate

    generate(tmp_path / "s", videos=1, frames=64, seed=1, progress=False, workers=1)
    gpu = Predictor(tiny_checkpoint, device="cuda", precision="fp32", batch_size=16)
    src = folder_source(tmp_path / "s" / "1")
    (with_workers,), _ = predict_sources(gpu, [src], progress=False, workers=4)
    (threaded,), _ = predict_sources(gpu, [src], progress=False, workers=0)
    cpu = Predictor(tiny_checkpoint, device="cpu", precision="fp32", batch_size=16)
    (on_cpu,), _ = predict_sources(cpu, [src], progress=False, workers=0)
    assert np.array_equal(with_workers.frames, threaded.frames)
    assert np.abs(with_workers.probs - threaded.probs).max() <= 1e-5
    assert np.abs(with_workers.probs - on_cpu.probs).max() <= 1e-3
