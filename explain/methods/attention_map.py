"""The attention map of one layer (head mean or one head): the map the layer's semantics say to show."""

from __future__ import annotations

from .base import ExplainContext, Explainer, Explanation, Options
from .registry import register


def _compute(ctx: ExplainContext, label: int, opt: Options) -> Explanation:
    a = ctx.analysis
    kind = a.shown_kind
    where = f"layer {opt.layer % a.num_layers}, {'head mean' if opt.head is None else f'head {opt.head}'}"
    return Explanation(a.cls_map(kind, opt.layer, opt.head), a.semantics.signed, f"{kind} {where}")


ATTENTION = register(Explainer("attention", "Attention (one layer)", _compute, family="attention",
                               uses=("layer", "head"), listed=False, exclusive=False))
