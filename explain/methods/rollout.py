"""Attention rollout (Abnar & Zuidema 2020) over all layers, from the cached maps."""

from __future__ import annotations

from .base import ExplainContext, Explainer, Explanation, Options
from .registry import register


def _compute(ctx: ExplainContext, label: int, opt: Options) -> Explanation:
    return Explanation(ctx.analysis.rollout, False, "attention rollout (positive part)")


ROLLOUT = register(Explainer("rollout", "Attention rollout", _compute, family="attention", exclusive=False))
