"""The models the demo serves, loaded once and shared by all sessions."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

from diffclip.device import PRECISIONS
from diffclip.inference import Predictor
from diffclip.json_input import read_json

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
    """The main checkpoint, an optional comparison checkpoint and optional further ones (the Compare tab
    compares any two), each loaded on first use and then shared by all sessions."""

    def __init__(self, checkpoint: str | Path, compare: str | Path | None = None, device: str = "auto",
                 precision: str = "auto", extra: Iterable[str | Path] = ()) -> None:
        self.paths = {"main": Path(checkpoint), "compare": Path(compare) if compare else None}
        self.extra = [Path(p) for p in extra]
        self.device = device
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; use {', '.join(PRECISIONS)}")
        self.precision = precision
        self._lock = threading.Lock()
        self._loaded: dict[Path, Predictor] = {}
        for name, path in [*self.paths.items(), *(("extra", p) for p in self.extra)]:
            if path is not None and not path.is_dir():
                raise FileNotFoundError(f"{name} checkpoint {path} does not exist")
        self.names = self._name_models()

    def _name_models(self) -> dict[str, Path]:
        """Each served checkpoint by its attention variant (read from its config.json, no model loaded)."""
        names: dict[str, Path] = {}
        for path in [self.paths["main"], self.paths["compare"], *self.extra]:
            if path is None or path in names.values():
                continue
            config = path / "config.json"
            name = read_json(config).get("attention", path.name) if config.is_file() else path.name
            if name in names:  # two checkpoints of one variant: the folder tells them apart
                name = f"{name} ({path.name if path.name != names[name].name else path})"
            names[name] = path
        return names

    def _load(self, path: Path) -> Predictor:
        with self._lock:
            if path not in self._loaded:
                self._loaded[path] = Predictor(path, device=self.device, batch_size=16, precision=self.precision)
            return self._loaded[path]

    @property
    def main(self) -> Predictor:
        return self._load(self.paths["main"])

    @property
    def compare(self) -> Predictor | None:
        return None if self.paths["compare"] is None else self._load(self.paths["compare"])

    def get(self, name: str) -> Predictor:
        """The served model called ``name`` (:attr:`names`)."""
        if name not in self.names:
            raise ValueError(f"no model called {name!r} is served; choose one of {', '.join(self.names)}")
        return self._load(self.names[name])

    def pair(self) -> tuple[Predictor, Predictor | None]:
        """(standard attention, differential attention) for the Compare view, whichever is which."""
        a, b = self.main, self.compare
        if b is None:
            return a, None
        return (b, a) if a.model.attention_semantics.differential else (a, b)
