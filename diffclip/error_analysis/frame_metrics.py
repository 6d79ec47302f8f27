"""Frame-level error counts at per-label thresholds, the most confident mistakes, precision-recall curves
and the confusion of the section labels (docs/design.md, "Error analysis").

A frame counts for a label when its truth is known; the model says yes where its raw probability
reaches the label's threshold (``p >= t``, as :class:`diffclip.inference.Prediction` does)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..labels import SECTIONS


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def label_counts(truth: np.ndarray, probs: np.ndarray, threshold: float) -> dict:
    """TP, FP, FN, TN, precision, recall, F1, average precision and support of one label over frames with
    known truth (``truth`` (N,) bool, ``probs`` (N,)). A ratio with nothing to divide by is None, as is the
    AP of a label without positives."""
    from sklearn.metrics import average_precision_score

    truth = np.asarray(truth, bool)
    said = np.asarray(probs) >= threshold
    tp, fp = int(np.sum(said & truth)), int(np.sum(said & ~truth))
    fn, tn = int(np.sum(~said & truth)), int(np.sum(~said & ~truth))
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn) if (tp + fp) and (tp + fn) else None
    ap = float(average_precision_score(truth, probs)) if truth.any() else None
    return {"threshold": float(threshold), "tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": precision,
            "recall": recall, "f1": f1, "ap": ap, "support": tp + fn}


def counts(truth: np.ndarray, probs: np.ndarray, thresholds: Sequence[float], labels: Sequence[str]) -> dict[str, dict]:
    """:func:`label_counts` of every label (``truth`` and ``probs`` (N, L), frames with known truth)."""
    return {lab: label_counts(truth[:, j], probs[:, j], float(thresholds[j])) for j, lab in enumerate(labels)}


def ranked_mistakes(truth: np.ndarray, probs: np.ndarray, threshold: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of one label's ``k`` most confident false positives (highest probability among frames
    without the label, at or above the threshold) and false negatives (lowest probability among frames
    with it, below the threshold). Ties keep frame order."""
    truth, probs = np.asarray(truth, bool), np.asarray(probs)
    neg = np.flatnonzero(~truth & (probs >= threshold))
    pos = np.flatnonzero(truth & (probs < threshold))
    fp = neg[np.argsort(-probs[neg], kind="stable")][:k]
    fn = pos[np.argsort(probs[pos], kind="stable")][:k]
    return fp, fn


def pr_curve(truth: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(recall, precision) of one label as the threshold sweeps (scikit-learn's curve); None without
    positives."""
    from sklearn.metrics import precision_recall_curve

    truth = np.asarray(truth, bool)
    if not truth.any():
        return None
    precision, recall, _ = precision_recall_curve(truth, probs)
    return recall, precision


def section_confusion(truth: np.ndarray, probs: np.ndarray, labels: Sequence[str],
                      sections: Sequence[str] = SECTIONS) -> dict:
    """The sections exclude each other: rows are each frame's true section, columns the section the model
    rates highest. Frames without a true section (or with two) are counted apart, not in the matrix."""
    cols = [list(labels).index(s) for s in sections]
    t = np.asarray(truth, bool)[:, cols]
    one = t.sum(axis=1) == 1
    true_idx = np.argmax(t[one], axis=1)
    pred_idx = np.argmax(np.asarray(probs)[one][:, cols], axis=1)
    matrix = np.zeros((len(sections), len(sections)), np.int64)
    np.add.at(matrix, (true_idx, pred_idx), 1)
    return {"sections": list(sections), "matrix": matrix.tolist(), "frames": int(one.sum()),
            "without_one_section": int((~one).sum())}
