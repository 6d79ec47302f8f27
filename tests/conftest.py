"""Shared fixtures: small models and checkpoints built on the fly (nothing is downloaded)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch

from diffclip.checkpoint import save_checkpoint
from diffclip.factory import build_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A randomly initialised tiny diff model saved as a checkpoint directory."""
    torch.manual_seed(1)
    model = build_model("tiny", "diff").eval()
    # Non-trivial BatchNorm statistics so that eval-mode outputs depend on them.
    with torch.no_grad():
        model.head.bn.running_mean.uniform_(-0.5, 0.5)
        model.head.bn.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny-diff"
    thresholds = [0.3 + 0.01 * i for i in range(len(model.labels))]
    save_checkpoint(model, path, thresholds=thresholds, training={"data": "random init", "seed": 1})
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """The app (`python app.py`) on the bundled models, on a free port, for the whole session."""
    port = _free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--port", str(port)], cwd=REPO, stdout=fh,
                                stderr=subprocess.STDOUT, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):
            if proc.poll() is not None:
                raise RuntimeError(f"app exited: {log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError(f"app did not start: {log.read_text()[-3000:]}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


