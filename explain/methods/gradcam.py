"""Grad-CAM (Selvaraju et al. 2017) with Captum's LayerGradCam on the 14 x 14 token grid, upsampled."""

from __future__ import annotations

import torch.nn.functional as F
from captum.attr import LayerGradCam

from .base import Attribution, ExplainContext, Explainer, Options
from .captum_tools import Counting, token_grid_tap
from .registry import register


def _compute(ctx: ExplainContext, label: int, opt: Options) -> Attribution:
    x = ctx.x
    with token_grid_tap(ctx.model) as grid_layer:
        wrapped = Counting(ctx.model, 1, ctx.progress)
        cam = LayerGradCam(wrapped, grid_layer).attribute(x, target=label, relu_attributions=True)
    up = F.interpolate(cam.detach(), size=x.shape[-2:], mode="bilinear", align_corners=False)
    return Attribution(up[0, 0].cpu().numpy(), False, "gradcam")


# The tap swaps a module of the shared model and Captum hooks it: Grad-CAM runs alone on the model.
GRADCAM = register(Explainer("gradcam", "Grad-CAM (token grid)", _compute, exclusive=True))
