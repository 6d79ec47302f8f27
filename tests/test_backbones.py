import json

import open_clip
import pytest
import torch

from diffclip import backbones
from diffclip.backbones import (
    BIOMEDCLIP_HUB_ID,
    BIOMEDCLIP_OPEN_CLIP_CONFIG,
    CLIP_MEAN,
    CLIP_STD,
    WeightsUnavailableError,
    biomedclip,
    load_clip_vision_weights,
    tiny,
)


@pytest.fixture(scope="module")
def offline_biomedclip_clip(tmp_path_factory):
    """open_clip's BiomedCLIP, built offline from the same vision config (a small text tower stands in
    for PubMedBERT, which needs a download), with random weights."""
    cfg = {
        "embed_dim": BIOMEDCLIP_OPEN_CLIP_CONFIG["model_cfg"]["embed_dim"],
        "vision_cfg": BIOMEDCLIP_OPEN_CLIP_CONFIG["model_cfg"]["vision_cfg"],
        "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 32, "heads": 2, "layers": 1},
    }
    path = tmp_path_factory.mktemp("oc") / "BiomedCLIP-offline-test.json"
    path.write_text(json.dumps(cfg))
    open_clip.add_model_config(path)
    torch.manual_seed(5)
    return open_clip.create_model("BiomedCLIP-offline-test", pretrained=None).eval()


def test_open_clip_state_dict_loads_without_missing_or_unexpected_vision_keys(offline_biomedclip_clip):
    state = offline_biomedclip_clip.state_dict()
    assert "visual.head.proj.weight" in state
    assert any(k.startswith("visual.trunk.blocks.11.attn.qkv") for k in state)
    tower = biomedclip()
    vision = {k[len("visual."):] for k in state if k.startswith("visual.")}
    assert vision == set(tower.state_dict())
    load_clip_vision_weights(tower, state)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected = offline_biomedclip_clip.encode_image(x)
        got = tower.eval()(x)
    assert got.shape == (2, 512)
    assert (got - expected).abs().max().item() <= 1e-5


def test_pretrained_loading_goes_through_the_hub_checkpoint(offline_biomedclip_clip, tmp_path, monkeypatch):
    ckpt = tmp_path / "open_clip_pytorch_model.bin"
    torch.save(offline_biomedclip_clip.state_dict(), ckpt)
    seen = {}

    def fake_download(hub_id=BIOMEDCLIP_HUB_ID, cache_dir=None, local_files_only=False):
        seen["id"] = hub_id
        return ckpt

    monkeypatch.setattr(backbones, "download_biomedclip_checkpoint", fake_download)
    tower = biomedclip(pretrained=True).eval()
    assert seen["id"] == BIOMEDCLIP_HUB_ID
    ref = offline_biomedclip_clip.visual.state_dict()
    for key, value in tower.state_dict().items():
        assert torch.equal(value, ref[key]), key


def test_missing_weights_error_names_hub_id_and_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(WeightsUnavailableError) as info:
        biomedclip(pretrained=True, cache_dir=tmp_path)
    msg = str(info.value)
    assert BIOMEDCLIP_HUB_ID in msg
    assert str(tmp_path) in msg
    assert "hf download microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224" in msg


def test_vision_state_dict_mismatch_is_reported():
    tower = tiny()
    with pytest.raises(KeyError, match="visual"):
        load_clip_vision_weights(tower, {"text.weight": torch.zeros(1)})
    bad = {f"visual.{k}": v for k, v in tower.state_dict().items() if "head.proj" not in k}
    with pytest.raises(KeyError, match="head.proj.weight"):
        load_clip_vision_weights(tower, bad)


def test_biomedclip_and_tiny_architecture():
    tower = biomedclip()
    trunk = tower.trunk
    assert len(trunk.blocks) == 12 and trunk.blocks[0].attn.num_heads == 12
    assert trunk.blocks[0].attn.head_dim == 64 and trunk.blocks[0].attn.qkv.bias is not None
    assert trunk.global_pool == "token" and trunk.patch_embed.patch_size == (16, 16)
    assert tower.head.proj.in_features == 768 and tower.head.proj.out_features == 512
    assert tower.head.proj.bias is None
    small = tiny()
    assert len(small.trunk.blocks) == 6 and small.trunk.embed_dim == 192
    assert small.trunk.patch_embed.patch_size == (16, 16) and small.trunk.patch_embed.img_size == (224, 224)
    with torch.no_grad():
        assert small.eval()(torch.randn(1, 3, 224, 224)).shape == (1, small.embed_dim)
    pre = backbones.BACKBONES["biomedclip"].preprocess
    assert pre.mean == CLIP_MEAN and pre.std == CLIP_STD
    assert pre.image_size == 224 and pre.interpolation == "bicubic"


def test_unknown_backbone():
    with pytest.raises(ValueError, match="unknown backbone 'resnet'"):
        backbones.build_backbone("resnet")


def test_uint8_normalisation_matches_the_float_route_on_every_value():
    from diffclip.backbones import Preprocess

    pre = Preprocess()
    x = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16).expand(2, 3, 16, 16)
    fused = pre.normalize_uint8(x)
    assert fused.dtype == torch.float32
    assert (fused - pre.normalize(x.float() / 255.0)).abs().max().item() <= 1e-6
    assert fused[0, 0, 0, 0].item() == pytest.approx(-pre.mean[0] / pre.std[0], abs=1e-6)
    assert fused[1, 2, 15, 15].item() == pytest.approx((1 - pre.mean[2]) / pre.std[2], abs=1e-6)
