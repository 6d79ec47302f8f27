"""The Model card tab: what each served checkpoint is, how well it did on which data, how it runs here
and what it is not for."""

from __future__ import annotations

import gradio as gr

from ..model_card import comparison, model_card
from .base import AppContext, Tab


def build(ctx: AppContext) -> None:
    bank = ctx.bank
    served = [("main", bank.main, bank.paths["main"])]
    if bank.compare is not None:
        served.append(("compare", bank.compare, bank.paths["compare"]))
    served += [(name, bank.get(name), path) for name, path in bank.names.items() if path in bank.extra]
    parts = [model_card(predictor, path) for _, predictor, path in served]
    if len(served) > 1:
        parts.insert(0, comparison(served))
    gr.Markdown("\n\n---\n\n".join(parts), elem_id="model-card")


TAB = Tab("card", "Model card", build)
