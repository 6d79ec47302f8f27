"""Calibration per label: the reliability diagram's bins and the expected calibration error (docs/design.md,
"Error analysis").

Binning, stated once: ``BINS`` equal-width bins on [0, 1], a probability p in bin ``b`` when
``edges[b] < p <= edges[b + 1]`` (the first bin includes 0), which is scikit-learn's ``calibration_curve``
with ``strategy="uniform"``; tests/test_error_calibration.py checks the two agree. The expected calibration
error is ``sum_b n_b / N * |fraction positive_b - mean probability_b|`` over the non-empty bins (Naeini et
al., 2015; Guo et al., 2017). The macro figure is the mean of the labels' ECEs over the labels with at least
one positive frame; the pooled diagram puts every (frame, label) pair into one set of bins."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BINS = 10
BINNING = (f"{BINS} equal-width bins on [0, 1] (scikit-learn's calibration_curve, strategy='uniform'); "
           "ECE = sum over non-empty bins of n_b / N * |fraction positive - mean probability|")


def reliability_bins(truth: np.ndarray, probs: np.ndarray, bins: int = BINS) -> list[dict]:
    """One entry per non-empty bin: its edges, frame count, mean probability and fraction of positives."""
    truth = np.asarray(truth, bool).ravel()
    probs = np.asarray(probs, np.float64).ravel()
    edges = np.linspace(0.0, 1.0, bins + 1)
    # scikit-learn's assignment: searchsorted on the inner edges (an edge value goes to the bin below it)
    which = np.searchsorted(edges[1:-1], probs)
    out = []
    for b in range(bins):
        sel = which == b
        n = int(sel.sum())
        if n:
            out.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "count": n,
                        "mean_probability": float(probs[sel].mean()),
                        "fraction_positive": float(truth[sel].mean())})
    return out


def expected_calibration_error(bins: Sequence[dict]) -> float | None:
    """ECE from :func:`reliability_bins`' entries (None for no frames)."""
    total = sum(b["count"] for b in bins)
    if not total:
        return None
    return float(sum(b["count"] / total * abs(b["fraction_positive"] - b["mean_probability"]) for b in bins))


def calibration(truth: np.ndarray, probs: np.ndarray, labels: Sequence[str], bins: int = BINS) -> dict:
    """``errors.json``'s ``calibration``: ``{label: {ece, positives, bins}}`` for every label, beside
    ``macro`` (the macro ECE and the pooled diagram) and ``binning`` (no label has either name), over frames
    with known truth (``truth`` and ``probs`` (N, L))."""
    truth, probs = np.asarray(truth, bool), np.asarray(probs, np.float64)
    per = {}
    for j, lab in enumerate(labels):
        entries = reliability_bins(truth[:, j], probs[:, j], bins)
        per[lab] = {"ece": expected_calibration_error(entries), "positives": int(truth[:, j].sum()), "bins": entries}
    scored = [v["ece"] for v in per.values() if v["positives"] and v["ece"] is not None]
    pooled = reliability_bins(truth, probs, bins)
    return {**per, "binning": BINNING,
            "macro": {"ece": float(np.mean(scored)) if scored else None, "labels_with_positives": len(scored),
                      "pooled_ece": expected_calibration_error(pooled), "pooled_bins": pooled}}
