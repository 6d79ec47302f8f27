"""Timeline plot of one video: per-label probability curves, thresholds and detected events."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .atomic import atomic_path
from .labels import GROUP_COLOURS, LABELS, LANDMARKS, LESIONS, SECTIONS, label_group
from .postprocess import runs


def anatomy_first(labels: Sequence[str]) -> list[str]:
    """Sections in passage order, then landmarks, then lesions, then anything else."""
    order = [*SECTIONS, *LANDMARKS, *LESIONS]
    return sorted(labels, key=lambda lab: order.index(lab) if lab in order else len(order))


def timeline_figure(
    frames: np.ndarray,
    probs: np.ndarray,
    thresholds: Sequence[float],
    active: np.ndarray | None = None,
    labels: Sequence[str] = LABELS,
    title: str = "",
    truth: np.ndarray | None = None,
    marker: int | None = None,
):
    """A matplotlib figure with one row per label: probability, threshold (dashed), detected events
    (shaded) and, if given, the ground truth (a bar under the curve) and a marked frame."""
    order = anatomy_first(labels)
    n = len(order)
    fig = Figure(figsize=(12, 0.42 * n + 1.0))  # no pyplot: no global backend, no shared state
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)
    x = np.asarray(frames)
    for row, lab in enumerate(order):
        ax = axes[row, 0]
        j = list(labels).index(lab)
        colour = GROUP_COLOURS[label_group(lab)]
        if active is not None:
            for s, e in runs(active[:, j]):
                ax.axvspan(x[s], x[e], color=colour, alpha=0.18, lw=0)
        if truth is not None:
            for s, e in runs(truth[:, j]):
                ax.axvspan(x[s], x[e], ymin=0, ymax=0.12, color="black", alpha=0.7, lw=0)
        ax.plot(x, probs[:, j], color=colour, lw=0.9)
        ax.axhline(thresholds[j], color="0.3", ls="--", lw=0.7)
        if marker is not None:
            ax.axvline(marker, color="orange", lw=1.2)
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.set_ylabel(lab, rotation=0, ha="right", va="center", fontsize=8, color=colour)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[-1, 0].set_xlabel("frame")
    if len(x):
        axes[-1, 0].set_xlim(x[0], x[-1] if x[-1] > x[0] else x[0] + 1)
    heading = title or "per-label probability"
    note = "dashed: threshold, shaded: detected events" + (", black bar: ground truth" if truth is not None else "")
    fig.suptitle(f"{heading}\n{note}", fontsize=10)
    fig.subplots_adjust(left=0.16, right=0.98, top=1 - 0.9 / (0.42 * n + 1.0), bottom=0.6 / (0.42 * n + 1.0), hspace=0.15)
    return fig


def save_timeline(path: str | Path, *args, **kwargs) -> Path:
    """Draw :func:`timeline_figure` and write it as PNG."""
    fig = timeline_figure(*args, **kwargs)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    return Path(path)
