"""Weak slices: each label's error rate over cohorts the data already has (its true section, its video,
the out-of-distribution flag, the frame's brightness tercile), beside the label's overall rate, with a Wilson
95% interval, sorted by how much worse the cohort is (docs/design.md, "Error analysis"). An error is a frame
whose thresholded prediction differs from its truth (a false positive or a false negative)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..labels import SECTIONS

MIN_FRAMES = 5  # a cohort smaller than this says too little to list


def wilson(errors: int, n: int) -> tuple[float, float]:
    """Wilson score 95% interval of ``errors`` out of ``n`` (scipy.stats.binomtest's ``proportion_ci``)."""
    from scipy.stats import binomtest

    ci = binomtest(errors, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def cohorts(truth: np.ndarray, video_ids: Sequence[str], labels: Sequence[str], flagged: np.ndarray | None = None,
            brightness: np.ndarray | None = None) -> dict[tuple[str, str], np.ndarray]:
    """(kind, value) -> (N,) bool rows: the true section (where exactly one is true), the video, the
    out-of-distribution flag, and the brightness tercile (cut at the set's own 1/3 and 2/3 quantiles)."""
    truth = np.asarray(truth, bool)
    out: dict[tuple[str, str], np.ndarray] = {}
    sections = [labels.index(s) for s in SECTIONS if s in labels]
    if sections:
        one = truth[:, sections].sum(axis=1) == 1
        for j in sections:
            out[("section", labels[j])] = one & truth[:, j]
    ids = np.asarray(video_ids).astype(str)
    for vid in dict.fromkeys(ids.tolist()):
        out[("video", vid)] = ids == vid
    if flagged is not None:
        flagged = np.asarray(flagged, bool)
        out[("out-of-distribution", "flagged")] = flagged
        out[("out-of-distribution", "not flagged")] = ~flagged
    if brightness is not None and len(brightness):
        b = np.asarray(brightness, np.float64)
        lo, hi = np.quantile(b, [1 / 3, 2 / 3])
        out[("brightness", f"darkest third (< {lo:.2f})")] = b < lo
        out[("brightness", "middle third")] = (b >= lo) & (b < hi)
        out[("brightness", f"brightest third (>= {hi:.2f})")] = b >= hi
    return out


def weak_slices(truth: np.ndarray, probs: np.ndarray, thresholds: Sequence[float], labels: Sequence[str],
                groups: dict[tuple[str, str], np.ndarray], min_frames: int = MIN_FRAMES) -> list[dict]:
    """Per label and cohort of at least ``min_frames`` frames: frames, errors, rate with its interval, the
    label's overall rate and the excess (rate - overall), sorted by excess, worst first (ties: label order)."""
    truth, probs = np.asarray(truth, bool), np.asarray(probs, np.float64)
    wrong = (probs >= np.asarray(thresholds, np.float64)[None, :]) != truth
    found = []
    for j, lab in enumerate(labels):
        overall = float(wrong[:, j].mean()) if len(wrong) else 0.0
        for (kind, value), rows in groups.items():
            n = int(rows.sum())
            if n < min_frames:
                continue
            errors = int(wrong[rows, j].sum())
            found.append({"label": lab, "cohort": kind, "value": value, "frames": n, "errors": errors,
                          "rate": errors / n, "ci": list(wilson(errors, n)), "label_rate": overall,
                          "excess": errors / n - overall})
    return sorted(found, key=lambda d: -d["excess"])
