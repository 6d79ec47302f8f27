"""The app's tabs, in display order. A new tab is one module with a builder and one entry here; a tab
that opens a frame in the Frames tab reaches it through ``AppContext.frames`` (so Frames comes first)."""

from .base import AppContext, Tab
from .card import CARD
from .clip import CLIP
from .compare import COMPARE
from .errors import ERRORS
from .frames import FRAMES
from .noise_lab import NOISE_LAB

TABS: list[Tab] = [FRAMES, CLIP, COMPARE, ERRORS, NOISE_LAB, CARD]

__all__ = ["TABS", "AppContext", "Tab"]
