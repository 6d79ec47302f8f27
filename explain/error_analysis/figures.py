"""Figures of an error analysis report: the per-label precision-recall curves as one small-multiples PNG,
each with its average precision and the operating point at the label's threshold."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np

from diffclip.error_analysis.frame_metrics import pr_curve

COLUMNS = 6
CURVE = "#1f77b4"
POINT = "#d62728"


def small_multiples(rows: int):
    """A Figure (no pyplot) of ``rows`` x :data:`COLUMNS` panels, 1.9 inches each, spaced by hand: matplotlib's
    constrained layout took about half of each figure's drawing time for the same look."""
    from matplotlib.figure import Figure

    height = 1.9 * rows
    fig = Figure(figsize=(1.9 * COLUMNS, height), dpi=100, facecolor="white")
    axes = fig.subplots(rows, COLUMNS, squeeze=False)
    # margins in inches, turned into fractions: room for two-line titles above, axis labels left and below
    fig.subplots_adjust(left=0.45 / (1.9 * COLUMNS), right=1 - 0.1 / (1.9 * COLUMNS), bottom=0.35 / height,
                        top=1 - 0.55 / height, wspace=0.38, hspace=0.75)
    return fig, axes


def pr_figure(truth: np.ndarray, probs: np.ndarray, labels: Sequence[str], counts: Mapping[str, Mapping]):
    """A matplotlib Figure (no pyplot) with one panel per label: the precision-recall curve of the frames
    with known truth (``truth`` and ``probs`` (N, L)), its AP, and the operating point (recall, precision)
    at the threshold from ``counts`` (``errors_document``'s ``labels``). A label without positive frames
    has no curve and says so."""
    fig, axes = small_multiples(max(1, -(-len(labels) // COLUMNS)))
    for ax in axes.ravel()[len(labels):]:
        ax.set_axis_off()
    for j, (ax, label) in enumerate(zip(axes.ravel(), labels, strict=False)):
        c = counts[label]
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.05)
        ax.tick_params(labelsize=6)
        ax.set_xlabel("recall", fontsize=6, labelpad=1)
        ax.set_ylabel("precision", fontsize=6, labelpad=1)
        curve = pr_curve(truth[:, j], probs[:, j])
        if curve is None:
            ax.set_title(f"{label}\nAP — (no positives)", fontsize=7)
            ax.text(0.5, 0.5, "no positive frames", ha="center", va="center", fontsize=7, color="0.4")
            continue
        recall, precision = curve
        ax.plot(recall, precision, color=CURVE, lw=1.2, drawstyle="steps-post")
        ap = c.get("ap")
        ax.set_title(f"{label}\nAP {ap:.3f}" if ap is not None else f"{label}\nAP —", fontsize=7)
        if c.get("precision") is not None and c.get("recall") is not None:
            ax.plot([c["recall"]], [c["precision"]], "o", color=POINT, ms=4)
            ax.annotate(f"t = {c['threshold']:.2f}", (c["recall"], c["precision"]), fontsize=6, color=POINT,
                        xytext=(4, -9), textcoords="offset points", ha="left" if c["recall"] < 0.6 else "right")
        else:
            ax.text(0.02, 0.04, f"nothing at t = {c['threshold']:.2f}", fontsize=6, color=POINT)
    fig.suptitle("precision-recall per label (red: the operating point at the label's threshold)", fontsize=8)
    return fig


def png_bytes(fig, dpi: int = 100) -> bytes:
    """The figure as PNG bytes, without the software text chunk matplotlib adds (it holds a URL)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def reliability_figure(calibration: Mapping):
    """One panel per label and a first panel for every label pooled: each non-empty bin's mean probability
    against its fraction of positive frames (``errors_document``'s ``calibration``), the diagonal of a
    calibrated model, the point's size the bin's frame count, and the ECE in the title."""
    panels = [("all labels pooled", calibration["macro"]["pooled_bins"], calibration["macro"]["pooled_ece"])]
    panels += [(lab, v["bins"], v["ece"]) for lab, v in calibration.items() if lab not in ("macro", "binning")]
    fig, axes = small_multiples(max(1, -(-len(panels) // COLUMNS)))
    for ax in axes.ravel()[len(panels):]:
        ax.set_axis_off()
    for ax, (title, bins, ece) in zip(axes.ravel(), panels, strict=False):
        ax.plot([0, 1], [0, 1], ls="--", lw=0.8, color="0.6")
        if bins:
            total = sum(b["count"] for b in bins)
            x = [b["mean_probability"] for b in bins]
            y = [b["fraction_positive"] for b in bins]
            ax.plot(x, y, color=CURVE, lw=1)
            ax.scatter(x, y, s=[8 + 60 * b["count"] / total for b in bins], color=CURVE, zorder=3)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.tick_params(labelsize=6)
        ax.set_xlabel("mean probability", fontsize=6, labelpad=1)
        ax.set_ylabel("fraction positive", fontsize=6, labelpad=1)
        ax.set_title(f"{title}\nECE {ece:.3f}" if ece is not None else f"{title}\nECE —", fontsize=7)
    fig.suptitle("reliability per label (dashed: a calibrated model; point size: frames in the bin)", fontsize=8)
    return fig
