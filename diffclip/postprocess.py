"""Temporal post-processing of per-frame probabilities, label by label, as the paper's code does it
(docs/design.md, "The paper's recipe"): threshold -> median filter -> drop short runs -> fill gaps.

One unit everywhere: windows, shortest runs and gaps count **sampled frames**, i.e. rows of the
probability sequence (what the model scored), never seconds and never the video's own frame numbers.
`diffclip predict --median-window/--min-length/--max-gap` and the app's Clip tab both use it; at 5
sampled frames per second the default median window of 7 spans 1.4 s of video."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) index pairs of the True runs of a 1-D boolean array."""
    mask = np.asarray(mask, dtype=bool)
    if mask.size == 0:
        return []
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(s), int(e) - 1) for s, e in zip(edges[::2], edges[1::2], strict=True)]


@dataclass(frozen=True)
class PostProcess:
    """Per label: threshold -> median filter -> drop short runs -> merge short gaps (docs/design.md).
    All three count sampled frames (rows of the probability sequence): ``median_window`` (odd) is the
    median filter's width, runs shorter than ``min_length`` are dropped, gaps of at most ``max_gap``
    are filled."""

    median_window: int = 7
    min_length: int = 3
    max_gap: int = 5

    def seconds(self, sampled_fps: float) -> dict[str, float]:
        """The three lengths in seconds of video when frames are sampled at ``sampled_fps`` per second."""
        return {"median_window": self.median_window / sampled_fps, "min_length": self.min_length / sampled_fps,
                "max_gap": self.max_gap / sampled_fps}

    def __post_init__(self) -> None:
        if self.median_window < 1 or self.median_window % 2 == 0:
            raise ValueError(f"median_window must be a positive odd number, got {self.median_window}")
        if self.min_length < 1 or self.max_gap < 0:
            raise ValueError("min_length must be >= 1 and max_gap >= 0")


DEFAULT_POSTPROCESS = PostProcess()


def median_filter_binary(active: np.ndarray, window: int) -> np.ndarray:
    """Majority vote over a centred window (a median filter on 0/1). The ends are handled as scipy's
    default ``mode="reflect"`` (the sequence mirrored about its end), as the paper's code does."""
    if window == 1:
        return np.asarray(active, bool).copy()
    return median_filter(np.asarray(active, np.uint8), size=window, mode="reflect").astype(bool)


def drop_short_runs(active: np.ndarray, min_length: int) -> np.ndarray:
    out = np.asarray(active, bool).copy()
    for s, e in runs(out):
        if e - s + 1 < min_length:
            out[s : e + 1] = False
    return out


def merge_gaps(active: np.ndarray, max_gap: int) -> np.ndarray:
    """Fill gaps of at most ``max_gap`` frames between two runs."""
    out = np.asarray(active, bool).copy()
    spans = runs(out)
    for (_, e1), (s2, _) in zip(spans, spans[1:], strict=False):
        if s2 - e1 - 1 <= max_gap:
            out[e1 + 1 : s2] = True
    return out


def postprocess(probs: np.ndarray, thresholds: np.ndarray, config: PostProcess = DEFAULT_POSTPROCESS) -> np.ndarray:
    """(N, L) probabilities -> (N, L) boolean activity after the temporal pipeline, label by label."""
    probs = np.asarray(probs)
    active = probs >= np.asarray(thresholds)[None, :]
    out = np.zeros_like(active)
    for j in range(active.shape[1]):
        col = median_filter_binary(active[:, j], config.median_window)
        col = drop_short_runs(col, config.min_length)
        out[:, j] = merge_gaps(col, config.max_gap)
    return out


#: Why a label is on or off on a frame after :func:`postprocess` (see :func:`activity_reasons`).
INACTIVE, ACTIVE_OWN, ACTIVE_SMOOTHED, SUPPRESSED = 0, 1, 2, 3


def activity_reasons(probs: np.ndarray, thresholds: np.ndarray, active: np.ndarray) -> np.ndarray:
    """(N, L) codes: ``ACTIVE_OWN`` where a label is active and its own probability reaches its
    threshold, ``ACTIVE_SMOOTHED`` where it is active only because the median filter or the gap filling
    switched it on (probability below the threshold), ``SUPPRESSED`` where the probability reaches the
    threshold but the filter or the shortest-run rule switched it off, ``INACTIVE`` elsewhere."""
    above = np.asarray(probs) >= np.asarray(thresholds)[None, :]
    active = np.asarray(active, bool)
    out = np.full(above.shape, INACTIVE, dtype=np.int8)
    out[active & above] = ACTIVE_OWN
    out[active & ~above] = ACTIVE_SMOOTHED
    out[~active & above] = SUPPRESSED
    return out
