"""Grad-CAM (Selvaraju et al. 2017) the usual ViT way, with Captum's LayerGradCam.

The layer is the last block's tokens before its attention (the output of ``blocks[-1].norm1``); prefix
tokens (CLS) are dropped and the patch tokens reshaped to the token grid (14 x 14 at 224 px); channel
weights are the spatial mean of the label logit's gradients; cam = ReLU(sum_c w_c A_c), upsampled
bilinearly to the input. ``tests/test_explain.py`` checks it against a plain-torch restatement.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from captum.attr import LayerGradCam

from .base import ExplainContext, Explainer, Explanation, Options, Progress
from .captum_tools import Counting, token_grid_tap
from .registry import register


def grad_cam(model: nn.Module, x: torch.Tensor, label: int, progress: Progress = None) -> torch.Tensor:
    """(B, 1, H, W) Grad-CAM of ``label``'s logit on the token grid, upsampled to the input's size.
    Swaps a module of ``model`` while it runs: hold the model alone."""
    with token_grid_tap(model) as grid_layer:
        wrapped = Counting(model, x.shape[0], progress)
        cam = LayerGradCam(wrapped, grid_layer).attribute(x, target=label, relu_attributions=True)
    return F.interpolate(cam.detach(), size=x.shape[-2:], mode="bilinear", align_corners=False)


def _compute(ctx: ExplainContext, label: int, opt: Options) -> Explanation:
    up = grad_cam(ctx.model, ctx.x, label, ctx.progress)
    return Explanation(up[0, 0].cpu().numpy(), False, "Grad-CAM on the last block's token grid (positive part)")


# The tap swaps a module of the shared model and Captum hooks it: Grad-CAM runs alone on the model.
GRADCAM = register(Explainer("gradcam", "Grad-CAM (token grid)", _compute))
