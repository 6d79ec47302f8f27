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


def test_predict_checks_its_outputs_before_any_work_and_keeps_old_files(tiny_checkpoint, tmp_path, capsys):
    import os

    from PIL import Image

    folder = tmp_path / "7"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (64, 64), (40 * i, 60, 90)).save(folder / f"frame_{i:06d}.png")
    base = ["predict", str(folder), "--checkpoint", str(tiny_checkpoint), "--device", "cpu"]
    # a directory as --out: refused at once, in one line, before the checkpoint is even loaded
    assert main([*base[:3], str(tmp_path / "no-such-checkpoint"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and f"--out {tmp_path} is a directory" in err
    # a symlink is written through: the link stays, its target gets the events
    target = tmp_path / "real.json"
    target.write_text("old")
    (tmp_path / "link.json").symlink_to(target)
    assert main([*base, "--out", str(tmp_path / "link.json")]) == 0
    assert (tmp_path / "link.json").is_symlink() and json.loads(target.read_text())["videos"][0]["video_id"] == "7"
    # a run that fails half-way leaves the previous --probs file as it was, and no temporary file
    probs = tmp_path / "probs.csv"
    probs.write_text("previous run\n")
    (folder / "frame_000003.png").write_bytes(b"not a png")
    assert main([*base, "--out", str(tmp_path / "e.json"), "--probs", str(probs)]) == 2
    assert probs.read_text() == "previous run\n" and not list(tmp_path.glob(".probs.csv.*"))
    # a FIFO named like a frame is refused, not read forever
    (folder / "frame_000003.png").unlink()
    os.mkfifo(folder / "frame_000004.png")
    assert main([*base, "--out", str(tmp_path / "e.json")]) == 2
    assert "frame_000004.png is not a regular file" in capsys.readouterr().err
