"""Event-level errors of one video under the challenge's matching (:func:`diffclip.scoring.first_matches`):
per label, the truth segments no prediction matched, the predicted segments that overlap no truth, and
the boundary errors with their tIoU (docs/design.md, "Error analysis")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..scoring import average_precision, first_matches, segments_by_label, tiou


def _best(seg: tuple[int, int], others: Sequence[tuple[int, int]]) -> tuple[float, tuple[int, int] | None]:
    best, which = 0.0, None
    for o in others:
        v = tiou(seg, o)
        if v > best:
            best, which = v, o
    return best, which


def label_event_errors(pred: Sequence[tuple[int, int]], truth: Sequence[tuple[int, int]],
                       threshold: float = 0.5) -> dict:
    """One label in one video. Predictions are matched in file order to the first unmatched truth segment
    with ``tIoU >= threshold``. ``boundary``: a matched prediction whose tIoU is below 1, or an unmatched one
    that overlaps a truth segment (its best tIoU); ``spurious``: an unmatched prediction overlapping no
    truth; ``missed``: a truth segment no prediction matched (with its best overlap's tIoU)."""
    hits = first_matches(pred, truth, threshold)
    matched = {k for k in hits if k is not None}
    boundary, spurious = [], []
    for p, k in zip(pred, hits, strict=True):
        if k is not None:
            v = tiou(p, truth[k])
            if v < 1.0:
                boundary.append({"pred": list(p), "truth": list(truth[k]), "tiou": round(v, 4), "matched": True})
            continue
        v, other = _best(p, truth)
        if other is None:
            spurious.append(list(p))
        else:
            boundary.append({"pred": list(p), "truth": list(other), "tiou": round(v, 4), "matched": False})
    missed = [{"truth": list(t), "best_tiou": round(_best(t, pred)[0], 4)}
              for k, t in enumerate(truth) if k not in matched]
    return {"truth": len(truth), "predicted": len(pred), "matched": len(matched), "missed": missed,
            "spurious": spurious, "boundary": boundary}


def video_event_errors(truth_events: Sequence[Mapping], pred_events: Sequence[Mapping], labels: Sequence[str],
                       threshold: float = 0.5, ap_thresholds: Sequence[float] = (0.5, 0.95)) -> dict:
    """Every label of one video with truth or predictions: :func:`label_event_errors` and the challenge's
    AP at each tIoU in ``ap_thresholds``."""
    t_segs, p_segs = segments_by_label(truth_events), segments_by_label(pred_events)
    out = {}
    for lab in labels:
        t, p = t_segs.get(lab, []), p_segs.get(lab, [])
        if not t and not p:
            continue
        entry = label_event_errors(p, t, threshold)
        entry["ap"] = {f"{thr:g}": round(average_precision(p, t, thr), 4) for thr in ap_thresholds}
        out[lab] = entry
    return out
