"""Shared fixtures: small models and checkpoints built on the fly (nothing is downloaded)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from benchmarks.serving import launch_app
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


@pytest.fixture(scope="session")
def running_app(tmp_path_factory):
    """The app (`python app.py`) on the bundled models, on a free port, for the whole session: its URL, its
    process id and its log."""
    with launch_app(sys.executable, REPO, tmp_path_factory.mktemp("app") / "app.log") as app:
        yield app


@pytest.fixture(scope="session")
def app_url(running_app):
    """The session app's URL."""
    return running_app.url
