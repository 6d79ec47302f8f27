"""The app's tabs, in display order. A new tab is one module that defines ``TAB`` (a :class:`Tab`: id, title
and builder) and one entry in ``TAB_MODULES``; a tab that opens a frame in the Frames tab reaches it through
``AppContext.frames`` (so Frames comes first)."""

from __future__ import annotations

import importlib

from .base import AppContext, Tab

TAB_MODULES = ("frames", "clip", "compare", "errors", "noise_lab", "card", "words")

TABS: list[Tab] = [importlib.import_module(f".{name}", __name__).TAB for name in TAB_MODULES]

__all__ = ["TABS", "TAB_MODULES", "AppContext", "Tab"]
