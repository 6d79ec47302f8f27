"""Timeline plot of one video: per-label probability curves, thresholds, predicted events, the ground
truth under them (when known), the part of the video that was not analysed, and a marked frame.

The x axis counts the video's own frame numbers (a seconds axis on top when the frame rate is known);
one row per label, its name on the y axis, its probability from 0 to 1."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .atomic import atomic_path
from .events import typical_step
from .labels import GROUP_COLOURS, LABELS, LANDMARKS, LESIONS, SECTIONS, label_group
from .postprocess import runs

#: The layout, read back by :func:`sample_at` and :func:`draw_marker`: the rows span LEFT..RIGHT of the
#: figure's width, and all but TOP_IN and BOTTOM_IN inches of its height (ROW_IN per label).
LEFT, RIGHT = 0.15, 0.95
WIDTH_IN, DPI = 12.0, 100
ROW_IN, TOP_IN, BOTTOM_IN = 0.5, 1.2, 0.55
MARKER_RGB = (255, 127, 14)
TRUTH_BAND = (-0.36, -0.06)  # data coordinates of a row: the truth bar sits under the curve's 0
YLIM = (-0.4, 1.04)

Segments = Mapping[str, Sequence[tuple[int, int]]]


def anatomy_first(labels: Sequence[str]) -> list[str]:
    """Sections in passage order, then landmarks, then lesions, then anything else."""
    order = [*SECTIONS, *LANDMARKS, *LESIONS]
    return sorted(labels, key=lambda lab: order.index(lab) if lab in order else len(order))


def sample_span(x: np.ndarray, s: int, e: int) -> tuple[float, float]:
    """Frame-number span [start, stop) that sampled rows s..e stand for: each sampled frame covers the
    frames up to the next sample (at most one typical step), as the RARE-VISION events do."""
    step = typical_step(x)
    stop = x[e] + step if e + 1 >= len(x) else min(x[e + 1], x[e] + step)
    return float(x[s]), float(stop)


def x_limits(frames: np.ndarray, extent: int | None = None) -> tuple[float, float]:
    """The x range drawn: the first sampled frame to the end of the video (``extent`` frames) or of the
    last sample."""
    x = np.asarray(frames, dtype=float)
    if not len(x):
        return 0.0, float(extent or 1)
    end = sample_span(x, len(x) - 1, len(x) - 1)[1]
    return min(0.0, x[0]), float(max(end, extent or 0))


def sample_at(x_pixel: float, width_pixels: float, frames: np.ndarray, extent: int | None = None) -> int:
    """Index of the sampled frame nearest to a click at ``x_pixel`` on a timeline image ``width_pixels``
    wide (the rows span LEFT..RIGHT of the width)."""
    lo, hi = x_limits(frames, extent)
    fraction = (x_pixel / max(width_pixels, 1.0) - LEFT) / (RIGHT - LEFT)
    frame = lo + min(max(fraction, 0.0), 1.0) * (hi - lo)
    return int(np.argmin(np.abs(np.asarray(frames, dtype=float) - frame)))


def frame_x(frame: float, frames: np.ndarray, extent: int | None = None) -> float:
    """The horizontal pixel of video frame ``frame`` on a timeline image (the inverse of :func:`sample_at`)."""
    lo, hi = x_limits(frames, extent)
    return (LEFT + (frame - lo) / max(hi - lo, 1e-9) * (RIGHT - LEFT)) * WIDTH_IN * DPI


def draw_marker(rgb: np.ndarray, frame: int, frames: np.ndarray, extent: int | None = None) -> np.ndarray:
    """A copy of a timeline image (drawn without marker) with frame ``frame`` marked by an orange line
    across the rows: pixels instead of a redraw, so that moving the marker costs milliseconds."""
    out = np.array(rgb, copy=True)
    x = int(round(frame_x(frame, frames, extent)))
    top, bottom = int(TOP_IN * DPI), out.shape[0] - int(BOTTOM_IN * DPI)
    out[top:bottom, max(x - 1, 0) : x + 1] = MARKER_RGB
    return out


def _truth_segments(truth, frames: np.ndarray, labels: Sequence[str]) -> dict[str, list[tuple[float, float]]]:
    """Truth as [start, stop) frame spans per label, from per-label segments (inclusive frame numbers)
    or from an (N, L) boolean array over the sampled frames."""
    if isinstance(truth, Mapping):
        return {lab: [(float(s), float(e) + 1.0) for s, e in segs] for lab, segs in truth.items()}
    truth = np.asarray(truth, bool)
    return {lab: [sample_span(frames, s, e) for s, e in runs(truth[:, j])] for j, lab in enumerate(labels)}


def timeline_figure(
    frames: np.ndarray,
    probs: np.ndarray,
    thresholds: Sequence[float],
    active: np.ndarray | None = None,
    labels: Sequence[str] = LABELS,
    title: str = "",
    truth: Segments | np.ndarray | None = None,
    marker: int | None = None,
    extent: int | None = None,
    fps: float | None = None,
    marker_legend: bool = False,
    clock: tuple[np.ndarray, np.ndarray] | None = None,
):
    """A matplotlib figure with one row per label: probability (0 to 1), threshold (dashed), predicted
    events after the temporal post-processing (shaded), and, when given: the ground ``truth`` (a black
    bar under each row; per-label inclusive frame segments or an (N, L) array), a ``marker`` frame, the
    video's length ``extent`` in frames (the part after the last sample is hatched "not analysed") and
    its frame rate ``fps`` (a seconds axis on top), or its ``clock``: frame numbers and their presentation
    times in seconds, interpolated for the seconds axis (variable-frame-rate videos, where ``frame / fps`` is
    not the time). ``marker_legend`` names the marker in the legend when it is added afterwards
    (:func:`draw_marker`)."""
    order = anatomy_first(labels)
    n = len(order)
    height = ROW_IN * n + TOP_IN + BOTTOM_IN
    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)  # no pyplot: no global backend, no shared state
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)
    x = np.asarray(frames, dtype=float)
    lo, hi = x_limits(x, extent)
    analysed_end = sample_span(x, len(x) - 1, len(x) - 1)[1] if len(x) else lo
    spans_truth = _truth_segments(truth, x, labels) if truth is not None else {}
    for row, lab in enumerate(order):
        ax = axes[row, 0]
        j = list(labels).index(lab)
        colour = GROUP_COLOURS[label_group(lab)]
        if active is not None:
            for s, e in runs(active[:, j]):
                a, b = sample_span(x, s, e)
                ax.axvspan(a, b, ymin=(0 - YLIM[0]) / (YLIM[1] - YLIM[0]), ymax=1, color=colour, alpha=0.22, lw=0)
        if truth is not None:
            ax.axhspan(*TRUTH_BAND, color="0.93", lw=0)  # the truth lane, so that "no truth" reads as empty
            for a, b in spans_truth.get(lab, []):
                ax.axvspan(a, b, ymin=(TRUTH_BAND[0] - YLIM[0]) / (YLIM[1] - YLIM[0]),
                           ymax=(TRUTH_BAND[1] - YLIM[0]) / (YLIM[1] - YLIM[0]), color="black", lw=0)
        # one sample draws no line: a dot then
        ax.plot(x, probs[:, j], color=colour, lw=1.0, marker="o" if len(x) == 1 else None, ms=3)
        ax.axhline(thresholds[j], color="0.35", ls="--", lw=0.7)
        if analysed_end < hi:
            ax.axvspan(analysed_end, hi, facecolor="0.85", edgecolor="0.6", hatch="///", lw=0, alpha=0.5)
        if marker is not None:
            ax.axvline(marker, color=np.array(MARKER_RGB) / 255, lw=1.6)
        ax.set_ylim(*YLIM)
        ax.set_yticks([0, 1])
        ax.yaxis.tick_right()
        ax.tick_params(axis="y", labelsize=6, length=2, pad=1)
        ax.set_ylabel(lab, rotation=0, ha="right", va="center", fontsize=9, color=colour)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    if analysed_end < hi:
        axes[0, 0].text((analysed_end + hi) / 2, 0.5, "not analysed", ha="center", va="center", fontsize=8,
                        color="0.2", bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85})
    axes[-1, 0].set_xlabel("frame number in the video")
    axes[-1, 0].set_xlim(lo, hi if hi > lo else lo + 1)
    seconds = _seconds_axis(fps, clock)
    if seconds is not None:
        top = axes[0, 0].secondary_xaxis("top", functions=seconds)
        top.set_xlabel("seconds", fontsize=8)
        top.tick_params(labelsize=7)
    fig.supylabel("label (each row: probability 0 to 1)", fontsize=9, x=0.01)
    fig.suptitle(title or "Per-label probability and events", fontsize=12, y=1 - 0.08 / height)
    fig.legend(handles=_legend(truth is not None, marker is not None or marker_legend, analysed_end < hi),
               loc="upper center", ncol=6, fontsize=8, frameon=False, bbox_to_anchor=(0.5, 1 - 0.32 / height))
    fig.subplots_adjust(left=LEFT, right=RIGHT, top=1 - TOP_IN / height, bottom=BOTTOM_IN / height, hspace=0.12)
    return fig


def _seconds_axis(fps: float | None, clock: tuple[np.ndarray, np.ndarray] | None):
    """(frame -> seconds, seconds -> frame) for the top axis, or None: the ``clock``'s timestamps
    (interpolated, extrapolated at the last interval's pace) before a constant ``fps``."""
    if clock is not None:
        numbers, times = (np.asarray(a, dtype=float) for a in clock)
        ok = np.isfinite(times)
        numbers, times = numbers[ok], times[ok]
        if len(numbers) > 1 and np.all(np.diff(numbers) > 0) and np.all(np.diff(times) > 0):
            rate = (numbers[-1] - numbers[-2]) / (times[-1] - times[-2])

            def to_seconds(f):
                f = np.asarray(f, dtype=float)
                return np.where(f > numbers[-1], times[-1] + (f - numbers[-1]) / rate, np.interp(f, numbers, times))

            def to_frames(t):
                t = np.asarray(t, dtype=float)
                return np.where(t > times[-1], numbers[-1] + (t - times[-1]) * rate, np.interp(t, times, numbers))

            return to_seconds, to_frames
    if fps:
        return (lambda f: f / fps, lambda s: s * fps)
    return None


def _legend(truth: bool, marker: bool, cut: bool) -> list:
    handles = [Line2D([], [], color="0.2", lw=1.0, label="probability"),
               Line2D([], [], color="0.35", ls="--", lw=0.7, label="threshold"),
               Patch(color="0.5", alpha=0.3, label="predicted event (after smoothing)")]
    if truth:
        handles.append(Patch(color="black", label="truth (ground-truth JSON)"))
    if marker:
        handles.append(Line2D([], [], color=np.array(MARKER_RGB) / 255, lw=1.6, label="selected frame"))
    if cut:
        handles.append(Patch(facecolor="0.85", hatch="///", edgecolor="0.6", alpha=0.5, label="not analysed"))
    return handles


def save_timeline(path: str | Path, *args, **kwargs) -> Path:
    """Draw :func:`timeline_figure` and write it as PNG."""
    fig = timeline_figure(*args, **kwargs)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")
    return Path(path)
