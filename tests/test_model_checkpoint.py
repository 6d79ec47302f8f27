import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from diffclip import LABELS, build_model
from diffclip.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from diffclip.cli import main


@pytest.mark.parametrize("attention", ["vanilla", "diff", "diff_paper", "diff_preserving"])
def test_model_logits_and_attention_maps(attention):
    model = build_model("tiny", attention).eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        logits = model(x)
        logits2, maps = model(x, return_attention=True)
    assert logits.shape == (2, len(LABELS))
    assert (logits - logits2).abs().max().item() <= 1e-5
    assert len(maps) == 6
    heads = 6 if attention in ("vanilla", "diff_preserving") else 3
    assert maps[0].a1.shape == (2, heads, 197, 197)
    assert (maps[0].a2 is None) == (attention == "vanilla")


def test_build_model_rejects_bad_names():
    with pytest.raises(ValueError, match="unknown attention variant 'sparse'"):
        build_model("tiny", "sparse")
    with pytest.raises(ValueError, match="unknown backbone"):
        build_model("vit_huge", "diff")
    with pytest.raises(ValueError, match="duplicates"):
        build_model("tiny", "diff", labels=["polyp", "polyp"])


def test_checkpoint_round_trip_gives_identical_logits(tiny_checkpoint):
    model, config = load_checkpoint(tiny_checkpoint)
    assert not model.training
    assert config["backbone"] == "tiny" and config["attention"] == "diff"
    assert config["labels"] == list(LABELS)
    assert config["thresholds"]["mouth"] == pytest.approx(0.3)
    assert config["preprocess"]["interpolation"] == "bicubic"
    assert config["training"] == {"data": "random init", "seed": 1}
    # save again from the loaded model, reload, compare with the original weights file
    x = torch.randn(3, 3, 224, 224)
    original = load_file(tiny_checkpoint / "model.safetensors")
    for key, value in model.state_dict().items():
        assert torch.equal(value, original[key])
    with torch.no_grad():
        a = model(x)
        b = build_model("tiny", "diff", weights=str(tiny_checkpoint)).eval()(x)
    assert torch.equal(a, b)


def test_round_trip_with_custom_labels(tmp_path):
    labels = ["polyp", "ulcer", "blood"]
    model = build_model("tiny", "vanilla", labels=labels).eval()
    save_checkpoint(model, tmp_path / "c", thresholds={"ulcer": 0.7}, metrics={"mAP": 0.5})
    loaded, config = load_checkpoint(tmp_path / "c" / "config.json")
    assert loaded.labels == tuple(labels)
    assert config["thresholds"] == {"polyp": 0.5, "ulcer": 0.7, "blood": 0.5}
    assert config["metrics"] == {"mAP": 0.5}
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_missing_paths(tmp_path, tiny_checkpoint):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_checkpoint(tmp_path / "nowhere")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text((tiny_checkpoint / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match=r"half/model\.safetensors"):
        load_checkpoint(tmp_path / "half")


def _copy(src, dst):
    dst.mkdir()
    for name in ("config.json", "model.safetensors"):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_pickles_are_refused(tmp_path, tiny_checkpoint):
    model, _ = load_checkpoint(tiny_checkpoint)
    pt = tmp_path / "model.pt"
    torch.save(model.state_dict(), pt)
    with pytest.raises(CheckpointError, match=r"model\.pt.*pickle"):
        load_checkpoint(pt)
    ckpt = _copy(tiny_checkpoint, tmp_path / "pickled")
    torch.save(model.state_dict(), ckpt / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"pickled/model\.safetensors.*pickle"):
        load_checkpoint(ckpt)
    # a raw (pre-zip) pickle starts with the PROTO opcode 0x80 and no safetensors header after it
    torch.save(model.state_dict(), ckpt / "model.safetensors", _use_new_zipfile_serialization=False)
    assert (ckpt / "model.safetensors").read_bytes()[:1] == b"\x80"
    with pytest.raises(CheckpointError, match=r"pickle"):
        load_checkpoint(ckpt)


def test_safetensors_whose_header_length_starts_with_0x80_load(tmp_path, tiny_checkpoint):
    """0x80 is a pickle's first byte and also a valid low byte of a safetensors header length."""
    model, _ = load_checkpoint(tiny_checkpoint)
    ckpt = _copy(tiny_checkpoint, tmp_path / "x80")
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    with safe_open(str(tiny_checkpoint / "model.safetensors"), framework="pt") as fh:
        meta = dict(fh.metadata() or {})
    for pad in range(0, 2048, 8):  # headers are padded to 8 bytes: 0x80 is reachable by padding
        save_file(state, ckpt / "model.safetensors", metadata={**meta, "pad": "x" * pad})
        if (ckpt / "model.safetensors").read_bytes()[0] == 0x80:
            break
    assert (ckpt / "model.safetensors").read_bytes()[0] == 0x80
    loaded, _ = load_checkpoint(ckpt)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values(), strict=True))


def test_cli_info_loads_an_fp16_copy_of_the_bundled_model(tmp_path, capsys):
    bundled = Path(__file__).resolve().parents[1] / "demo" / "weights" / "diff"
    ckpt = _copy(bundled, tmp_path / "fp16")
    with safe_open(str(bundled / "model.safetensors"), framework="pt") as fh:
        meta = fh.metadata()
        half = {k: fh.get_tensor(k).half() if fh.get_tensor(k).is_floating_point() else fh.get_tensor(k)
                for k in fh.keys()}
    save_file(half, ckpt / "model.safetensors", metadata=meta)
    assert main(["info", str(ckpt)]) == 0
    assert json.loads(capsys.readouterr().out)["attention"] == "diff"
    full, _ = load_checkpoint(bundled)
    copy, _ = load_checkpoint(ckpt)
    pairs = [(a, b) for a, b in zip(full.state_dict().values(), copy.state_dict().values(), strict=True)
             if a.is_floating_point()]
    # rounded to fp16 (relative error <= 2^-11) and back: close, but not equal
    assert all(torch.allclose(a, b, rtol=2**-11, atol=1e-7) for a, b in pairs)
    assert any(not torch.equal(a, b) for a, b in pairs)


def test_label_mismatch_names_file_and_key(tmp_path, tiny_checkpoint):
    ckpt = _copy(tiny_checkpoint, tmp_path / "labels")
    config = json.loads((ckpt / "config.json").read_text())
    config["labels"] = list(reversed(config["labels"]))
    del config["thresholds"]
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"labels/model\.safetensors: key 'labels'"):
        load_checkpoint(ckpt)


def test_shape_mismatch_names_file_and_key(tmp_path, tiny_checkpoint):
    ckpt = _copy(tiny_checkpoint, tmp_path / "shapes")
    tensors = load_file(ckpt / "model.safetensors")
    tensors["head.fc.weight"] = tensors["head.fc.weight"][:5]
    save_file(tensors, ckpt / "model.safetensors")  # no label metadata: the shape check must catch it
    with pytest.raises(CheckpointError, match=r"shapes/model\.safetensors: key 'head\.fc\.weight' has shape \(5, 256\)"):
        load_checkpoint(ckpt)


def test_missing_tensor_and_wrong_architecture(tmp_path, tiny_checkpoint):
    ckpt = _copy(tiny_checkpoint, tmp_path / "arch")
    config = json.loads((ckpt / "config.json").read_text())
    config["attention"] = "diff_preserving"
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"arch/model\.safetensors: key 'backbone\.trunk\.blocks\.0\.attn\.lambda_a' is missing from the weights \(24 missing, 30 unexpected"):
        load_checkpoint(ckpt)
    config["attention"] = "linear"
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"arch/config\.json: unknown attention variant 'linear'"):
        load_checkpoint(ckpt)


def test_bad_config_json(tmp_path, tiny_checkpoint):
    ckpt = _copy(tiny_checkpoint, tmp_path / "json")
    (ckpt / "config.json").write_text('{\n  "backbone": "tiny",\n  oops\n}')
    with pytest.raises(CheckpointError, match=r"json/config\.json: invalid JSON at line 3"):
        load_checkpoint(ckpt)
    (ckpt / "config.json").write_text('{"backbone": "tiny", "labels": ["polyp"]}')
    with pytest.raises(CheckpointError, match="missing key 'attention'"):
        load_checkpoint(ckpt)


def test_garbage_weights(tmp_path, tiny_checkpoint):
    ckpt = _copy(tiny_checkpoint, tmp_path / "garbage")
    (ckpt / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(CheckpointError, match=r"garbage/model\.safetensors: not a readable safetensors"):
        load_checkpoint(ckpt)


def test_the_checkpoints_preprocess_is_read_back_and_checked(tmp_path, tiny_checkpoint):
    ckpt = _copy(tiny_checkpoint, tmp_path / "pre")
    config = json.loads((ckpt / "config.json").read_text())
    assert config["preprocess"]["image_size"] == 224 and config["preprocess"]["interpolation"] == "bicubic"
    config["preprocess"].update(mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25], interpolation="bilinear")
    (ckpt / "config.json").write_text(json.dumps(config))
    model, _ = load_checkpoint(ckpt)
    pre = model.config.preprocess
    assert (pre.mean, pre.std, pre.interpolation) == ((0.5, 0.5, 0.5), (0.25, 0.25, 0.25), "bilinear")
    x = pre.normalize_uint8(torch.full((1, 3, 2, 2), 255, dtype=torch.uint8))
    assert torch.allclose(x, torch.full_like(x, 2.0))  # (1 - 0.5) / 0.25
    config["preprocess"]["image_size"] = 336
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="image_size 336 does not fit the tiny backbone"):
        load_checkpoint(ckpt)
    config["preprocess"] = {"image_size": 224}
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="mean"):
        load_checkpoint(ckpt)


def test_build_model_from_a_checkpoint_keeps_its_own_head_and_checks_the_rest(tmp_path):
    save_checkpoint(build_model("micro", "diff", se_reduction=4), tmp_path / "se4")
    model = build_model("micro", "diff", weights=str(tmp_path / "se4"))
    assert model.config.se_reduction == 4 and model.head.se.fc1.out_features == 64 // 4
    with pytest.raises(ValueError, match="holds backbone=micro, attention=diff"):
        build_model("micro", "vanilla", weights=str(tmp_path / "se4"))


def test_broken_checkpoint_values_are_refused_at_load(tmp_path, tiny_checkpoint):
    for key, value, message in [("se_reduction", 0, "se_reduction must be a whole number >= 1, got 0"),
                                ("dropout", "high", "dropout must be a number in \\[0, 1\\), got 'high'"),
                                ("thresholds", [float("nan")] * 17, "thresholds must be finite numbers")]:
        ckpt = _copy(tiny_checkpoint, tmp_path / key)
        config = json.loads((ckpt / "config.json").read_text())
        config[key] = value
        (ckpt / "config.json").write_text(json.dumps(config))
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(ckpt)
    ckpt = _copy(tiny_checkpoint, tmp_path / "nan-weights")
    state = load_file(ckpt / "model.safetensors")
    state["head.fc.bias"][3] = float("inf")
    with safe_open(str(tiny_checkpoint / "model.safetensors"), framework="pt") as fh:
        save_file(state, ckpt / "model.safetensors", metadata=fh.metadata())
    with pytest.raises(CheckpointError, match="key 'head.fc.bias' holds NaN or infinite values"):
        load_checkpoint(ckpt)
