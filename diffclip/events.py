"""Temporal events in the RARE-VISION format: maximal runs of frames with the same active label set.

Submission / ground-truth JSON (DESIGN.md section 4)::

    {"videos": [{"video_id": "...", "events": [{"start": 49, "end": 58, "label": ["mouth"]}]}]}

``start`` and ``end`` are inclusive frame numbers and ``label`` is always a list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .labels import LABELS


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) index pairs of the True runs of a 1-D boolean array."""
    mask = np.asarray(mask, dtype=bool)
    if mask.size == 0:
        return []
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(s), int(e) - 1) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def label_set_events(
    active: np.ndarray,
    frames: Sequence[int] | np.ndarray | None = None,
    labels: Sequence[str] = LABELS,
    emit_empty: bool = False,
) -> list[dict]:
    """Group frames into maximal runs with the same active label set.

    ``active`` is (N, L) boolean over ``labels``; ``frames`` gives each row's frame number (default
    0..N-1). A run breaks where the label set changes or the frame numbers are not consecutive steps
    of the video's sampling stride. Runs with no active label are dropped unless ``emit_empty``.
    """
    active = np.asarray(active, dtype=bool)
    if active.ndim != 2 or active.shape[1] != len(labels):
        raise ValueError(f"active must be (N, {len(labels)}), got {active.shape}")
    n = active.shape[0]
    frames = np.arange(n) if frames is None else np.asarray(frames, dtype=np.int64)
    if frames.shape != (n,):
        raise ValueError(f"{len(frames)} frame numbers for {n} rows")
    if n == 0:
        return []
    if n > 1 and np.any(np.diff(frames) <= 0):
        raise ValueError("frame numbers must be strictly increasing")
    stride = int(np.min(np.diff(frames))) if n > 1 else 1
    change = np.ones(n, dtype=bool)
    if n > 1:
        change[1:] = np.any(active[1:] != active[:-1], axis=1) | (np.diff(frames) != stride)
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:] - 1, n - 1)
    events = []
    for s, e in zip(starts, ends, strict=True):
        names = [labels[j] for j in np.flatnonzero(active[s])]
        if names or emit_empty:
            events.append({"start": int(frames[s]), "end": int(frames[e]), "label": names})
    return events


def events_document(videos: Mapping[str, list[dict]]) -> dict:
    """The RARE-VISION JSON document for ``{video_id: events}``, videos in the given order."""
    return {"videos": [{"video_id": vid, "events": list(evs)} for vid, evs in videos.items()]}
