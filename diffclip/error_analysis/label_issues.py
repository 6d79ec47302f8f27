"""Likely label errors, kept apart from the model's errors: confident learning (Northcutt, Jiang and Chuang,
"Confident Learning: Estimating Uncertainty in Dataset Labels", JAIR 2021), per label as a two-class problem,
in our own code (cleanlab, its reference implementation, is AGPL).

For label j, the per-class thresholds are the model's average confidence on the frames given each class:
``t1 = mean p over frames given the label``, ``t0 = mean (1 - p) over frames given without it``. A frame is
confidently of class c when its probability of c reaches t_c (of both: the larger probability wins), and it
is a label issue when that class is not the one it was given (an off-diagonal entry of the confident joint).
Issues are ranked by self-confidence, the probability the model gives the frame's given class, lowest first;
``score`` is 1 - self-confidence (docs/design.md, "Error analysis")."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confident_classes(given: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """(N,) the class (1, 0, or -1 for neither) each frame is confidently of, for one label: ``given`` (N,)
    bool, ``probs`` (N,) the model's probability of the label."""
    given, p = np.asarray(given, bool), np.asarray(probs, np.float64)
    t1 = p[given].mean() if given.any() else np.inf  # a class nobody was given cannot be confident
    t0 = (1 - p[~given]).mean() if (~given).any() else np.inf
    is1, is0 = p >= t1, (1 - p) >= t0
    both = is1 & is0
    out = np.where(is1, 1, np.where(is0, 0, -1))
    out[both] = np.where(p[both] >= 1 - p[both], 1, 0)
    return out


def label_issues(truth: np.ndarray, probs: np.ndarray, labels: Sequence[str], video_ids: Sequence[str],
                 frames: Sequence[int]) -> list[dict]:
    """Every (frame, label) whose given value the model confidently contradicts, ranked by score (highest
    first; ties in frame order): video, frame, label, given, probability and score."""
    truth, probs = np.asarray(truth, bool), np.asarray(probs, np.float64)
    found = []
    for j, lab in enumerate(labels):
        given, p = truth[:, j], probs[:, j]
        confident = confident_classes(given, p)
        wrong = np.flatnonzero((confident >= 0) & (confident != given))
        for i in wrong:
            self_confidence = p[i] if given[i] else 1 - p[i]
            found.append({"video_id": str(video_ids[i]), "frame": int(frames[i]), "label": lab,
                          "given": bool(given[i]), "probability": round(float(p[i]), 5),
                          "score": round(float(1 - self_confidence), 5)})
    return sorted(found, key=lambda d: -d["score"])  # sorted() is stable: ties keep label, then frame order


def precision_at_k(issues: Sequence[dict], flipped: set[tuple[str, int, str]], k: int | None = None) -> float:
    """The share of the top ``k`` issues (default: as many as were flipped) that are among ``flipped``
    (video, frame, label); the measure of tests and benchmarks/label_issues.py."""
    k = len(flipped) if k is None else k
    top = [(d["video_id"], d["frame"], d["label"]) for d in issues[:k]]
    return sum(t in flipped for t in top) / k if k else float("nan")
