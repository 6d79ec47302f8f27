import json
import subprocess
import sys

from diffclip.cli import main


def test_info_prints_checkpoint_config(tiny_checkpoint, capsys):
    assert main(["info", str(tiny_checkpoint)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["attention"] == "diff" and len(out["labels"]) == 17 and out["parameters"] > 1_000_000


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
