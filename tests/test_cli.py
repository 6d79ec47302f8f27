import json
import subprocess
import sys

from diffclip.cli import main


def test_info_prints_checkpoint_config(tiny_checkpoint, capsys):
    assert main(["info", str(tiny_checkpoint)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["attention"] == "diff" and len(out["labels"]) == 17 and out["parameters"] > 1_000_000
    assert out["inference"]["precision"] in ("fp32", "bf16", "fp16") and out["inference"]["requested"] == "auto"


def test_info_and_predict_say_which_precision_runs(tiny_checkpoint, capsys, monkeypatch, tmp_path):
    from PIL import Image

    from diffclip import device as device_mod

    monkeypatch.setattr(device_mod, "cpu_has_fast_bf16", lambda: True)
    assert main(["info", str(tiny_checkpoint), "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["inference"] == {"device": "cpu", "precision": "bf16", "requested": "auto"}
    assert main(["info", str(tiny_checkpoint), "--device", "cpu", "--precision", "fp32"]) == 0
    assert json.loads(capsys.readouterr().out)["inference"]["precision"] == "fp32"
    Image.new("RGB", (64, 64), (120, 40, 30)).save(tmp_path / "f.png")
    args = ["predict", str(tmp_path / "f.png"), "--checkpoint", str(tiny_checkpoint), "--device", "cpu",
            "--out", str(tmp_path / "e.json")]
    assert main(args) == 0
    assert "on cpu in bf16" in capsys.readouterr().out
    assert main([*args, "--precision", "fp32"]) == 0
    assert "on cpu in fp32" in capsys.readouterr().out


def test_errors_are_one_plain_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("diffclip info: error: checkpoint") and "missing does not exist" in err
    assert "Traceback" not in err


def test_console_script_help():
    out = subprocess.run(
        [sys.executable, "-m", "diffclip.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "info" in out and "usage: diffclip" in out
