"""Gradient-weighted attention relevance (Chefer, Gur & Wolf, ICCV 2021) for the label."""

from __future__ import annotations

from .. import attention_readout as M
from .base import ExplainContext, Explainer, Explanation, Options
from .registry import register

CAPTION = "gradient-weighted attention"


def _compute(ctx: ExplainContext, label: int, opt: Options) -> Explanation:
    return Explanation(M.gradient_weighted_attention(ctx.model, ctx.x, label)[0], False, CAPTION)


def _batched(model, x, labels: list[int]) -> list[Explanation]:
    return [Explanation(m, False, CAPTION) for m in M.gradient_weighted_attention(model, x, labels)]


GRADATTN = register(Explainer("gradattn", "Gradient-weighted attention", _compute, family="attention",
                             exclusive=False, batched=_batched))
