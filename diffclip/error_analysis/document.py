"""``errors.json``: the frame-level counts, the event-level errors and the top mistakes of one analysis
(docs/design.md, "Error analysis")."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .calibration import calibration
from .embedding import embedding_entry
from .event_errors import video_event_errors
from .frame_metrics import counts, ranked_mistakes, section_confusion
from .label_issues import label_issues
from .model_pass import ModelPass
from .slices import cohorts, weak_slices

EVENT_TIOU = 0.5


def mistakes(mp: ModelPass, thresholds: Sequence[float], k: int) -> dict[str, dict[str, list[dict]]]:
    """Per label, its ``k`` most confident false positives and false negatives at ``thresholds``: video,
    frame, probability and the frame's other true labels."""
    rows = np.flatnonzero(mp.known)
    out = {}
    for j, lab in enumerate(mp.labels):
        fp, fn = ranked_mistakes(mp.truth[rows, j], mp.probs[rows, j], float(thresholds[j]), k)
        out[lab] = {kind: [mistake(mp, int(rows[i]), j) for i in idx] for kind, idx in (("fp", fp), ("fn", fn))}
    return out


def mistake(mp: ModelPass, row: int, j: int) -> dict:
    """One mistake of label ``j`` at row ``row``."""
    return {"video_id": str(mp.video_ids[row]), "frame": int(mp.frames[row]),
            "probability": round(float(mp.probs[row, j]), 5),
            "other_true_labels": [lab for i, lab in enumerate(mp.labels) if mp.truth[row, i] and i != j]}


def errors_document(mp: ModelPass, truth_events: dict[str, list[dict]], checkpoint: str, data: str,
                    thresholds: Sequence[float] | None = None, k: int = 8) -> dict:
    """The whole analysis as a JSON-ready dict (thresholds: the checkpoint's unless given)."""
    thresholds = mp.thresholds if thresholds is None else np.asarray(thresholds, np.float32)
    rows = np.flatnonzero(mp.known)
    truth, probs = mp.truth[rows], mp.probs[rows]
    return {
        "checkpoint": checkpoint,
        "data": data,
        "frames": int(len(rows)),
        "frames_without_truth": int(len(mp) - len(rows)),
        "pass": {"key": mp.key, "cached": mp.cached},
        "labels": counts(truth, probs, thresholds, mp.labels),
        "sections": section_confusion(truth, probs, mp.labels),
        "events": {"tiou": EVENT_TIOU,
                   "videos": {vid: video_event_errors(truth_events.get(vid, []), evs, mp.labels, EVENT_TIOU)
                              for vid, evs in mp.events.items()}},
        "top": mistakes(mp, thresholds, k),
        # every mistake, ranked as ``top`` (which holds the first k, drawn with overlays)
        "mistakes": mistakes(mp, thresholds, len(mp)),
        "out_of_distribution": flagged_frames(mp),
        "calibration": calibration(truth, probs, mp.labels),
        "label_issues": label_issues(truth, probs, mp.labels, mp.video_ids[rows], mp.frames[rows]),
        "slices": weak_slices(truth, probs, thresholds, mp.labels, slice_groups(mp, rows)),
        "embedding": embedding_entry(mp.features[rows] if mp.features is not None else None, mp.video_ids[rows],
                                     mp.frames[rows]),
    }


def slice_groups(mp: ModelPass, rows: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
    """The cohorts of :func:`weak_slices` over the frames with known truth (``rows`` of the pass)."""
    flagged = mp.flagged[rows] if mp.flagged is not None else None
    brightness = mp.brightness[rows] if mp.brightness is not None else None
    return cohorts(mp.truth[rows], mp.video_ids[rows], list(mp.labels), flagged, brightness)


def flagged_frames(mp: ModelPass) -> dict:
    """The frames that do not look like capsule frames (diffclip.ood): how many, and which (video, frame);
    none when the checkpoint has no statistics to tell."""
    flagged = np.zeros(len(mp), bool) if mp.flagged is None else np.asarray(mp.flagged, bool)
    return {"frames": int(flagged.sum()),
            "flagged": [{"video_id": str(mp.video_ids[r]), "frame": int(mp.frames[r])} for r in np.flatnonzero(flagged)]}
