"""`diffclip import-paper`: the paper script's best_model.pth (written here by a restatement of the paper's model
class, tests/paper_model.py, with random weights) becomes one of our checkpoints whose logits equal the paper
model's, in both weight sets; files that are not such a checkpoint are refused with a sentence naming what is
wrong; and the imported checkpoint is served by `diffclip info`, `diffclip predict` and the app."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paper_model import PaperModel, paper_checkpoint, with_shadow  # noqa: E402

from diffclip.checkpoint import load_checkpoint  # noqa: E402
from diffclip.cli import main  # noqa: E402

MICRO = {"trunk_name": "vit_tiny_patch16_224", "out_dim": 64, "depth": 2, "num_heads": 4, "embed_dim": 64,
         "img_size": 64}


@pytest.fixture(scope="module")
def micro_paper(tmp_path_factory):
    """A micro paper model, its best_model.pth and optimal_thresholds.npy beside it, and its EMA shadow."""
    root = tmp_path_factory.mktemp("paper")
    model = PaperModel(**MICRO).eval()
    shadow = paper_checkpoint(model, root / "best_model.pth")
    np.save(root / "optimal_thresholds.npy", np.linspace(0.2, 0.6, 17))
    return root, model, shadow


def _logits(model, size, seed=1):
    x = torch.randn(4, 3, size, size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model.eval()(x), x


@pytest.mark.parametrize("weights", ["model", "ema"])
def test_both_weight_sets_give_the_paper_models_logits(micro_paper, tmp_path, weights, capsys):
    root, model, shadow = micro_paper
    out = tmp_path / weights
    assert main(["import-paper", str(root / "best_model.pth"), "--out", str(out), "--weights", weights,
                 "--backbone", "micro"]) == 0
    assert "logits equal the paper's forward" in capsys.readouterr().out
    reference = model if weights == "model" else with_shadow(PaperModel(**MICRO), shadow)
    if weights == "ema":  # the shadow holds parameters only: the BatchNorm statistics stay the model's
        reference.load_state_dict({**model.state_dict(), **shadow})
    expected, x = _logits(reference, 64)
    ours, config = load_checkpoint(out)
    with torch.no_grad():
        assert (ours(x) - expected).abs().max() <= 1e-5
    assert config["attention"] == "diff_paper" and config["backbone"] == "micro"
    assert config["training"]["weights"] == weights and config["training"]["epoch"] == 3
    assert config["training"]["val_mAP"] == pytest.approx(0.42) and config["training"]["seed"] == 42
    # the thresholds beside the checkpoint, in label order
    assert list(config["thresholds"].values()) == pytest.approx(np.linspace(0.2, 0.6, 17).tolist())


def test_a_biomedclip_size_checkpoint_imports_exactly(tmp_path):
    """The paper's own size (ViT-B/16, 12 blocks of 768, projection to 512), random weights built offline, in
    both weight sets."""
    model = PaperModel(seed=3).eval()
    shadow = paper_checkpoint(model, tmp_path / "best_model.pth")
    for weights in ("ema", "model"):
        assert main(["import-paper", str(tmp_path / "best_model.pth"), "--out", str(tmp_path / weights),
                     "--weights", weights]) == 0
        reference = PaperModel(seed=3)
        reference.load_state_dict({**model.state_dict(), **(shadow if weights == "ema" else {})})
        expected, x = _logits(reference, 224)
        ours, config = load_checkpoint(tmp_path / weights)
        with torch.no_grad():
            assert (ours(x) - expected).abs().max() <= 1e-5, weights
        assert config["backbone"] == "biomedclip" and set(config["thresholds"].values()) == {0.5}


class NotData:
    """Anything a pickle would need code to rebuild."""


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("diffclip import-paper: error:")
    return err


def test_files_that_are_not_the_papers_checkpoint_are_refused_with_a_sentence(micro_paper, tmp_path, capsys):
    root, model, _ = micro_paper
    ckpt = torch.load(root / "best_model.pth", weights_only=False)

    def attempt(state, *extra, name="x.pth"):
        path = tmp_path / name
        if state is not None:
            torch.save(state, path)
        return main(["import-paper", str(path), "--out", str(tmp_path / "out"), "--backbone", "micro", *extra])

    assert attempt({**ckpt, "note": NotData()}) == 2
    assert "needs code to be run to open it" in _err(capsys)
    assert attempt({"weights": ckpt["model_state_dict"]}) == 2
    assert "has no 'model_state_dict'" in _err(capsys)
    broken = dict(ckpt["model_state_dict"])
    del broken["model.visual.trunk.blocks.1.attn.k_proj.weight"]
    assert attempt({**ckpt, "model_state_dict": broken}, "--weights", "model") == 2
    assert "block 1's attention lacks k_proj.weight" in _err(capsys)
    assert attempt({**ckpt, "model_state_dict": {**ckpt["model_state_dict"], "adapter.weight": torch.ones(2)}},
                   "--weights", "model") == 2
    assert "keys the paper's model does not have: adapter.weight" in _err(capsys)
    no_ema = {k: v for k, v in ckpt.items() if k != "ema_shadow"}
    assert attempt(no_ema) == 2
    assert "no 'ema_shadow'" in _err(capsys)
    assert main(["import-paper", str(root / "best_model.pth"), "--out", str(tmp_path / "out")]) == 2
    assert "does not fit the biomedclip backbone" in _err(capsys)
    np.save(tmp_path / "three.npy", np.array([0.1, 0.2, 0.3]))
    assert attempt(ckpt, "--thresholds", str(tmp_path / "three.npy")) == 2
    assert "expected 17 numbers, one per label" in _err(capsys)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint at all")
    assert attempt(None, name="junk.pth") == 2
    assert "is not a PyTorch checkpoint" in _err(capsys)
    assert not (tmp_path / "out").exists()  # nothing is written by a refused import
    with pytest.raises(pickle.UnpicklingError):  # the refusal is torch's own weights_only check
        torch.load(tmp_path / "x.pth", weights_only=True)


def test_the_imported_checkpoint_is_served(micro_paper, tmp_path, capsys):
    from PIL import Image

    root, _, _ = micro_paper
    out = tmp_path / "imported"
    assert main(["import-paper", str(root / "best_model.pth"), "--out", str(out), "--backbone", "micro"]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["attention"] == "diff_paper" and info["training"]["file"] == "best_model.pth"
    Image.new("RGB", (64, 64), (150, 60, 40)).save(tmp_path / "f.png")
    assert main(["predict", str(tmp_path / "f.png"), "--checkpoint", str(out), "--out", str(tmp_path / "e.json"),
                 "--probs", str(tmp_path / "p.csv")]) == 0
    assert (tmp_path / "e.json").is_file()
    from demo.models import ModelBank
    from demo.ui import build_demo

    demo = build_demo(ModelBank(out, None, "cpu", "fp32"))
    predict = next(f.fn for f in demo.fns.values() if f.api_name == "predict_frame")
    result = predict(str(tmp_path / "f.png"))
    assert len(result["scores"]) == 17
