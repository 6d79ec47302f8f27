"""Temporal events in the RARE-VISION format: maximal runs of frames with the same active label set.

Submission / ground-truth JSON (docs/design.md, "Events and scoring")::

    {"videos": [{"video_id": "...", "events": [{"start": 49, "end": 58, "label": ["mouth"]}]}]}

``start`` and ``end`` are inclusive frame numbers and ``label`` is always a list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .labels import LABELS
from .postprocess import runs

__all__ = ["events_document", "label_events", "label_set_events", "typical_step"]


def typical_step(frames: np.ndarray) -> float:
    """The median distance between consecutive sampled frame numbers (1 for fewer than two frames)."""
    return float(np.median(np.diff(frames))) if len(frames) > 1 else 1.0


def _run_breaks(frames: np.ndarray, gap_factor: float = 1.5) -> np.ndarray:
    """True between rows i-1 and i where the frame numbers jump by more than ``gap_factor`` times the
    typical step: sampling by fps gives uneven steps (2, 3, 2, 3...) that are not gaps."""
    steps = np.diff(frames)
    return steps > gap_factor * typical_step(frames)


def _ends(frames: np.ndarray, ends: np.ndarray, extend: bool) -> np.ndarray:
    """Inclusive end frame numbers; with ``extend``, a sampled frame stands for the frames up to the
    next sample (at most one typical step), so events of a video sampled every K frames cover it."""
    out = frames[ends].astype(np.int64)
    if extend and len(frames) > 1:
        step = typical_step(frames)
        nxt = np.append(frames[1:], frames[-1] + 1)[ends]
        out = np.maximum(out, np.minimum(nxt - 1, out + int(round(step)) - 1))
        out[ends == len(frames) - 1] = frames[-1]
    return out


def label_set_events(
    active: np.ndarray,
    frames: Sequence[int] | np.ndarray | None = None,
    labels: Sequence[str] = LABELS,
    emit_empty: bool = False,
    extend: bool = False,
) -> list[dict]:
    """Group frames into maximal runs with the same active label set.

    ``active`` is (N, L) boolean over ``labels``; ``frames`` gives each row's frame number (default
    0..N-1). A run breaks where the label set changes or the frame numbers jump by more than 1.5 times
    their typical step. Runs with no active label are dropped unless ``emit_empty``. With ``extend``,
    each event ends just before the next sampled frame (see :func:`_ends`).
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
    change = np.ones(n, dtype=bool)
    if n > 1:
        change[1:] = np.any(active[1:] != active[:-1], axis=1) | _run_breaks(frames)
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:] - 1, n - 1)
    end_frames = _ends(frames, ends, extend)
    events = []
    for s, end in zip(starts, end_frames, strict=True):
        names = [labels[j] for j in np.flatnonzero(active[s])]
        if names or emit_empty:
            events.append({"start": int(frames[s]), "end": int(end), "label": names})
    return events


def events_document(videos: Mapping[str, list[dict]]) -> dict:
    """The RARE-VISION JSON document for ``{video_id: events}``, videos in the given order."""
    return {"videos": [{"video_id": vid, "events": list(evs)} for vid, evs in videos.items()]}


def label_events(
    active: np.ndarray,
    probs: np.ndarray,
    frames: Sequence[int] | np.ndarray | None = None,
    labels: Sequence[str] = LABELS,
    extend: bool = False,
) -> list[dict]:
    """Per-label events with their mean probability, ``{"label", "start", "end", "score"}``, sorted by
    start, for confidence-ranked evaluation. Runs break at gaps as in :func:`label_set_events`."""
    n = active.shape[0]
    frames = np.arange(n) if frames is None else np.asarray(frames)
    breaks = np.zeros(n, dtype=bool)
    if n > 1:
        breaks[1:] = _run_breaks(frames)
    out = []
    for j, lab in enumerate(labels):
        for s, e in runs(active[:, j]):
            cuts = [s, *(i for i in np.flatnonzero(breaks[s + 1 : e + 1]) + s + 1), e + 1]
            for a, b in zip(cuts, cuts[1:], strict=False):
                end = int(_ends(frames, np.array([b - 1]), extend)[0])
                out.append({"label": lab, "start": int(frames[a]), "end": end,
                            "score": round(float(np.mean(probs[a:b, j])), 6)})
    return sorted(out, key=lambda ev: (ev["start"], ev["end"], labels.index(ev["label"])))
