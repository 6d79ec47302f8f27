"""What the Captum-based methods share: progress counting, the black baseline and the token-grid tap."""

from __future__ import annotations

import contextlib

import torch
import torch.nn as nn

from diffclip.backbones import Preprocess

from .base import Progress


class Counting(nn.Module):
    """Wraps the model's logits and reports progress as samples go through it."""

    def __init__(self, model: nn.Module, expected: int, progress: Progress) -> None:
        super().__init__()
        self.model, self.expected, self.progress, self.seen = model, max(expected, 1), progress, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        self.seen += x.shape[0]
        if self.progress is not None:
            self.progress(min(1.0, self.seen / self.expected))
        return out


def baseline_like(x: torch.Tensor, pre: Preprocess) -> torch.Tensor:
    """A black image in the model's normalised input space (the dark field of a capsule frame), through
    the model's own normalisation."""
    return pre.normalize_uint8(torch.zeros(x.shape, dtype=torch.uint8, device=x.device)).to(x.dtype)


def black_baseline(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return baseline_like(x, model.config.preprocess)


@contextlib.contextmanager
def token_grid_tap(model: nn.Module):
    """Temporarily route the last block's ``norm1`` output through a grid-shaped identity layer, so that
    Captum's LayerGradCam reads the patch tokens as a (B, C, gh, gw) feature map (the prefix tokens, e.g.
    CLS, pass by it). This is the usual ViT Grad-CAM layer: patch tokens reach the CLS token (and so the
    logits) in the last block only through its attention, whose input this is. The tap swaps a module
    of the model: callers run alone on it (``exclusive``)."""
    prefix_tokens = model.layout.prefix_tokens
    block = model.last_block()
    norm = block.norm1

    class Grid(nn.Module):
        def forward(self, patches: torch.Tensor) -> torch.Tensor:
            b, p, c = patches.shape
            side = int(round(p**0.5))
            if side * side != p:
                raise ValueError(f"{p} patch tokens do not form a square grid")
            return patches.transpose(1, 2).reshape(b, c, side, side)

    class Tap(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm, self.grid = norm, Grid()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.norm(x)
            g = self.grid(y[:, prefix_tokens:])
            return torch.cat([y[:, :prefix_tokens], g.flatten(2).transpose(1, 2)], dim=1)

    tap = Tap()
    block.norm1 = tap
    try:
        yield tap.grid
    finally:
        block.norm1 = norm
