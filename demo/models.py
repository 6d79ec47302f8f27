"""The models the demo serves, loaded once and shared by all sessions."""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path

from diffclip.device import PRECISIONS
from diffclip.inference import Predictor

log = logging.getLogger(__name__)

try:  # Hugging Face Spaces ZeroGPU: GPU-bound functions are decorated with spaces.GPU
    import spaces

    _spaces_gpu = spaces.GPU
except ImportError:  # anywhere else only the mark below
    _spaces_gpu = None


def gpu(fn):
    """Mark an event function that runs a model: it gets a ZeroGPU slot on Spaces, and it belongs in the
    model's concurrency group (``AppContext.model_work``; tests/test_serving.py checks each event against
    this mark, so a new tab's events need no list kept by hand)."""
    fn.runs_model = True
    return _spaces_gpu(fn) if _spaces_gpu is not None else fn


class ModelBank:
    """The main checkpoint and an optional comparison checkpoint, loaded lazily."""

    def __init__(self, checkpoint: str | Path, compare: str | Path | None = None, device: str = "auto",
                 precision: str = "auto") -> None:
        self.paths = {"main": Path(checkpoint), "compare": Path(compare) if compare else None}
        self.device = device
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; use {', '.join(PRECISIONS)}")
        self.precision = precision
        self._lock = threading.Lock()
        for name, path in self.paths.items():
            if path is not None and not path.is_dir():
                raise FileNotFoundError(f"{name} checkpoint {path} does not exist")

    @functools.cached_property
    def main(self) -> Predictor:
        with self._lock:
            return Predictor(self.paths["main"], device=self.device, batch_size=16, precision=self.precision)

    @functools.cached_property
    def compare(self) -> Predictor | None:
        if self.paths["compare"] is None:
            return None
        with self._lock:
            return Predictor(self.paths["compare"], device=self.device, batch_size=16,
                             precision=self.precision)

    def pair(self) -> tuple[Predictor, Predictor | None]:
        """(standard attention, differential attention) for the Compare view, whichever is which."""
        a, b = self.main, self.compare
        if b is None:
            return a, None
        return (b, a) if a.model.attention_semantics.differential else (a, b)
