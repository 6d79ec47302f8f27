"""The Model card tab: what each served checkpoint is, how it runs here and what it is not for."""

from __future__ import annotations

import gradio as gr

from ..model_card import model_card
from .base import AppContext, Tab


def build(ctx: AppContext) -> None:
    bank = ctx.bank
    cards = [model_card(bank.main, str(bank.paths["main"]))]
    if bank.compare is not None:
        cards.append(model_card(bank.compare, str(bank.paths["compare"])))
    gr.Markdown("\n\n---\n\n".join(cards))


CARD = Tab("card", "Model card", build)
