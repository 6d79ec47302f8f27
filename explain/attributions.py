"""Captum attributions for one label, each returned as an H x W map.

One verb across methods, as in Captum: :func:`attribute` (``method`` = ig, noise_tunnel, saliency,
occlusion, gradcam). Each takes a ``progress(fraction)`` callback and a size knob that trades time for
quality: ``steps`` (Integrated Gradients), ``samples`` (NoiseTunnel), ``window`` (Occlusion).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from captum.attr import IntegratedGradients, LayerGradCam, NoiseTunnel, Occlusion, Saliency

from diffclip.backbones import Preprocess

Progress = Callable[[float], None] | None
METHODS = ("ig", "noise_tunnel", "saliency", "occlusion", "gradcam")


@dataclass
class Attribution:
    """An attribution map (H, W) for one image and label, with what produced it."""

    map: np.ndarray
    method: str
    label: int
    delta: float | None = None  # IG convergence delta: sum(attr) - (f(x) - f(baseline))
    signed: bool = True


class _Counting(nn.Module):
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


def integrated_gradients(model, x, label, baseline, steps=64, internal_batch_size=16, progress: Progress = None):
    """Integrated Gradients (Sundararajan et al. 2017), Riemann-trapezoid path with ``steps`` points,
    batched internally. Returns (attributions (1, C, H, W), convergence delta)."""
    wrapped = _Counting(model, steps * x.shape[0], progress)
    ig = IntegratedGradients(wrapped)
    attr, delta = ig.attribute(x, baselines=baseline, target=label, n_steps=steps,
                               internal_batch_size=internal_batch_size, return_convergence_delta=True)
    return attr, float(delta.abs().max())


@contextlib.contextmanager
def token_grid_tap(model: nn.Module, prefix_tokens: int = 1):
    """Temporarily route the last block's ``norm1`` output through a grid-shaped identity layer, so
    that Captum's LayerGradCam can read it as a (B, C, gh, gw) feature map. Patch tokens influence the
    CLS token (and so the logits) only through attention, hence the input of the last attention."""
    block = model.backbone.trunk.blocks[-1]
    norm = block.norm1

    class Grid(nn.Module):
        def forward(self, patches: torch.Tensor) -> torch.Tensor:
            b, p, c = patches.shape
            side = int(round(p**0.5))
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


def attribute(
    model: nn.Module,
    x: torch.Tensor,
    label: int,
    method: str = "ig",
    steps: int = 64,
    samples: int = 8,
    window: int = 32,
    progress: Progress = None,
    internal_batch_size: int = 16,
) -> Attribution:
    """Attribute the logit of ``label`` to the pixels of one image ``x`` (1, 3, H, W) with ``method``."""
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {', '.join(METHODS)}")
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"expected one image of shape (1, 3, H, W), got {tuple(x.shape)}")
    model.eval()
    pre = model.config.preprocess
    baseline = baseline_like(x, pre)
    h, w = x.shape[-2:]
    with torch.enable_grad():
        if method == "ig":
            attr, delta = integrated_gradients(model, x, label, baseline, steps, internal_batch_size, progress)
            return Attribution(attr.sum(1)[0].detach().cpu().numpy(), method, label, delta)
        if method == "noise_tunnel":
            wrapped = _Counting(model, samples * steps, progress)
            nt = NoiseTunnel(IntegratedGradients(wrapped))
            attr = nt.attribute(x, baselines=baseline, target=label, nt_type="smoothgrad", nt_samples=samples,
                                nt_samples_batch_size=1, stdevs=0.15, n_steps=steps,
                                internal_batch_size=internal_batch_size)
            return Attribution(attr.sum(1)[0].detach().cpu().numpy(), method, label)
        if method == "saliency":
            wrapped = _Counting(model, 1, progress)
            attr = Saliency(wrapped).attribute(x.clone().requires_grad_(True), target=label, abs=True)
            return Attribution(attr.max(1).values[0].detach().cpu().numpy(), method, label, signed=False)
        if method == "occlusion":
            stride = max(1, window // 2)
            n_windows = (1 + max(0, h - window) // stride) * (1 + max(0, w - window) // stride)
            wrapped = _Counting(model, n_windows + 1, progress)
            attr = Occlusion(wrapped).attribute(x, sliding_window_shapes=(x.shape[1], window, window),
                                                strides=(x.shape[1], stride, stride), baselines=baseline,
                                                target=label, perturbations_per_eval=internal_batch_size)
            return Attribution(attr.sum(1)[0].detach().cpu().numpy(), method, label)
        # gradcam on the 14 x 14 token grid, upsampled
        with token_grid_tap(model) as grid_layer:
            wrapped = _Counting(model, 1, progress)
            cam = LayerGradCam(wrapped, grid_layer).attribute(x, target=label, relu_attributions=True)
        up = F.interpolate(cam.detach(), size=(h, w), mode="bilinear", align_corners=False)
        return Attribution(up[0, 0].cpu().numpy(), method, label, signed=False)
