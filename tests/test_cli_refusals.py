"""The command line refuses what it cannot use in one line, before any model runs (issue 27, item 7): a
device or a FIFO as input, an unknown device, a ground truth that is a device, outputs where nothing can be
written (root "may" write in /proc by its permission bits, and cannot)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from diffclip.cli import main

REPO = Path(__file__).resolve().parents[1]
CKPT = str(REPO / "demo" / "weights" / "diff")
FRAME = str(REPO / "demo" / "examples" / "frames" / "blood.png")


@pytest.fixture()
def fifo(tmp_path):
    path = tmp_path / "frames.fifo"
    os.mkfifo(path)
    return str(path)


@pytest.mark.parametrize(("args", "line"), [
    (["predict", "/dev/zero", "--checkpoint", CKPT, "--out", "{tmp}/e.json"],
     "diffclip predict: error: input /dev/zero is not a regular file or a folder (a device or a FIFO?)"),
    (["predict", "{fifo}", "--checkpoint", CKPT, "--out", "{tmp}/e.json"],
     "is not a regular file or a folder (a device or a FIFO?)"),
    (["predict", FRAME, "--checkpoint", CKPT, "--device", "bogus", "--out", "{tmp}/e.json"],
     "diffclip predict: error: unknown device 'bogus'; use auto, cpu, cuda, cuda:N or mps"),
    (["evaluate", "--gt", "/dev/zero", "--pred", "{tmp}/e.json"],
     "diffclip evaluate: error: ground-truth file /dev/zero is not a regular file"),
    (["predict", FRAME, "--checkpoint", CKPT, "--out", "/proc/a.json"],
     "diffclip predict: error: --out /proc/a.json: cannot write in /proc"),
    (["predict", FRAME, "--checkpoint", CKPT, "--out", "{tmp}/e.json", "--probs", "/proc/p.csv"],
     "diffclip predict: error: --probs /proc/p.csv: cannot write in /proc"),
    (["explain", FRAME, "--checkpoint", CKPT, "--label", "blood", "--out", "/proc/x/panel.png"],
     "diffclip explain: error: --out /proc/x/panel.png: cannot write in /proc"),
])
def test_refused_in_one_line(args, line, tmp_path, fifo, capsys):
    args = [a.format(tmp=tmp_path, fifo=fifo) for a in args]
    assert main(args) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert line.format(fifo=fifo) in err[-1] and "Traceback" not in captured.err
    assert "predictor on" not in captured.err + captured.out  # refused before the model loaded
    assert not list(tmp_path.glob("*.json"))
