"""Saliency (Simonyan et al. 2014): the largest absolute input gradient over the colour channels."""

from __future__ import annotations

import torch
from captum.attr import Saliency

from .base import ExplainContext, Explainer, Explanation, Options
from .captum_tools import Counting
from .registry import register

CAPTION = "Saliency: the largest absolute gradient of the label's logit over the colour channels"


def _maps(model: torch.nn.Module, x: torch.Tensor, labels: int | list[int]) -> list[Explanation]:
    # Captum takes one target per frame; in eval mode the frames of a batch do not touch one another's gradients
    attr = Saliency(model).attribute(x.clone().requires_grad_(True), target=labels, abs=True)
    return [Explanation(a.max(0).values.detach().cpu().numpy(), False, CAPTION) for a in attr]


def _compute(ctx: ExplainContext, label: int, opt: Options) -> Explanation:
    return _maps(Counting(ctx.model, 1, ctx.progress), ctx.x, label)[0]


def _batched(model: torch.nn.Module, x: torch.Tensor, labels: list[int]) -> list[Explanation]:
    return _maps(model, x, labels)


SALIENCY = register(Explainer("saliency", "Saliency", _compute, exclusive=False, batched=_batched))
