"""Saliency (Simonyan et al. 2014): the largest absolute input gradient over the colour channels."""

from __future__ import annotations

from captum.attr import Saliency

from .base import ExplainContext, Explainer, Explanation, Options
from .captum_tools import Counting
from .registry import register


def _compute(ctx: ExplainContext, label: int, opt: Options) -> Explanation:
    wrapped = Counting(ctx.model, 1, ctx.progress)
    attr = Saliency(wrapped).attribute(ctx.x.clone().requires_grad_(True), target=label, abs=True)
    return Explanation(attr.max(1).values[0].detach().cpu().numpy(), False,
                       "Saliency: the largest absolute gradient of the label's logit over the colour channels")


SALIENCY = register(Explainer("saliency", "Saliency", _compute, exclusive=False))
