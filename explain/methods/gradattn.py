"""Gradient-weighted attention relevance (Chefer, Gur & Wolf, ICCV 2021) for the label."""

from __future__ import annotations

from .. import attention_readout as M
from .base import ExplainContext, Explainer, Explanation, Options
from .registry import register


def _compute(ctx: ExplainContext, label: int, opt: Options) -> Explanation:
    return Explanation(M.gradient_weighted_attention(ctx.model, ctx.x, label)[0], False, "gradient-weighted attention")


GRADATTN = register(Explainer("gradattn", "Gradient-weighted attention", _compute, family="attention",
                             exclusive=False))
