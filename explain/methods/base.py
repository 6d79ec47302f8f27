"""The one shape every explanation method has: an :class:`Explainer` (a name, a title and a ``compute``
function with one signature) that returns one :class:`Explanation` value."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:  # the analysis module imports this one; only the type is needed here
    from ..analysis import FrameAnalysis

Progress = Callable[[float], None] | None


@dataclass(frozen=True)
class Options:
    """Knobs shared by all methods; each method reads the ones it needs. ``steps`` (Integrated
    Gradients, each NoiseTunnel copy: the most points on the path; fewer are used once the attributions add
    up), ``samples`` (NoiseTunnel), ``window`` (Occlusion, pixels), ``layer`` and ``head`` (single-layer
    attention; head None = mean), ``internal_batch_size`` (points or perturbations per model pass)."""

    layer: int = -1
    head: int | None = None
    steps: int = 64
    samples: int = 4
    window: int = 32
    internal_batch_size: int = 16

    def __post_init__(self) -> None:
        for name in ("steps", "samples", "window", "internal_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")


@dataclass
class ExplainContext:
    """What a method may use: the frame's analysis (cached maps, rollout, input), the model and its
    device, and a progress callback taking the fraction done."""

    analysis: FrameAnalysis
    model: torch.nn.Module
    device: torch.device
    progress: Progress = None

    @property
    def x(self) -> torch.Tensor:
        """The normalised (1, 3, S, S) input on the model's device."""
        return self.analysis.x.to(self.device)


@dataclass
class Explanation:
    """One explanation of one frame for one label: a map (H, W) or (gh, gw), whether it is signed
    (draw it with a diverging colormap centred at 0), a caption, and method-specific numbers in
    ``meta`` (e.g. Integrated Gradients' convergence ``delta``)."""

    map: np.ndarray
    signed: bool
    caption: str
    method: str = ""
    label: int = -1
    meta: dict = field(default_factory=dict)

    @property
    def delta(self) -> float | None:
        return self.meta.get("delta")


@dataclass(frozen=True)
class Explainer:
    """A registered method. ``compute(ctx, label, options)`` returns an :class:`Explanation`.
    ``uses`` names the :class:`Options` fields that change its result (so callers know what to cache
    on); ``family`` is "attention" (read from the attention maps) or "attribution" (Captum, runs the
    model). ``exclusive`` methods may change the model while they run (Captum's layer hooks, a swapped
    module, torch's global generator), so they run alone on it (:class:`diffclip.locks.ModelLock`). It is
    the default: a new method that hooks the model cannot race other users unnoticed; one that only reads
    the model opts in to sharing it with ``exclusive=False``."""

    name: str
    title: str
    compute: Callable[[ExplainContext, int, Options], Explanation]
    family: str = "attribution"
    uses: tuple[str, ...] = ()
    listed: bool = True  # offered in the attribution menus (the single-layer map has its own panels)
    exclusive: bool = True
    #: optional: the maps of several frames at once, ``batched(model, x (B, 3, S, S), labels)`` -> B
    #: explanations equal to ``compute``'s (the report draws many; :func:`~.registry.explain_many`)
    batched: Callable[[torch.nn.Module, torch.Tensor, list[int]], list[Explanation]] | None = None
