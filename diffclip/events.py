"""Temporal events in the RARE-VISION format: maximal runs of frames with the same active label set.

Submission / ground-truth JSON (DESIGN.md section 4)::

    {"videos": [{"video_id": "...", "events": [{"start": 49, "end": 58, "label": ["mouth"]}]}]}

``start`` and ``end`` are inclusive frame numbers and ``label`` is always a list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

from .labels import LABELS


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) index pairs of the True runs of a 1-D boolean array."""
    mask = np.asarray(mask, dtype=bool)
    if mask.size == 0:
        return []
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(s), int(e) - 1) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def _typical_step(frames: np.ndarray) -> float:
    return float(np.median(np.diff(frames))) if len(frames) > 1 else 1.0


def _run_breaks(frames: np.ndarray, gap_factor: float = 1.5) -> np.ndarray:
    """True between rows i-1 and i where the frame numbers jump by more than ``gap_factor`` times the
    typical step: sampling by fps gives uneven steps (2, 3, 2, 3...) that are not gaps."""
    steps = np.diff(frames)
    return steps > gap_factor * _typical_step(frames)


def _ends(frames: np.ndarray, ends: np.ndarray, extend: bool) -> np.ndarray:
    """Inclusive end frame numbers; with ``extend``, a sampled frame stands for the frames up to the
    next sample (at most one typical step), so events of a video sampled every K frames cover it."""
    out = frames[ends].astype(np.int64)
    if extend and len(frames) > 1:
        step = _typical_step(frames)
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


# ---------------------------------------------------------------------------------------------------
# Post-processing of per-frame probabilities


@dataclass(frozen=True)
class PostProcess:
    """Per label: threshold -> median filter -> drop short runs -> merge short gaps (DESIGN.md section 1).
    Windows and lengths count sampled frames."""

    median_window: int = 7
    min_length: int = 3
    max_gap: int = 5

    def __post_init__(self) -> None:
        if self.median_window < 1 or self.median_window % 2 == 0:
            raise ValueError(f"median_window must be a positive odd number, got {self.median_window}")
        if self.min_length < 1 or self.max_gap < 0:
            raise ValueError("min_length must be >= 1 and max_gap >= 0")


DEFAULT_POSTPROCESS = PostProcess()


def median_filter_binary(active: np.ndarray, window: int) -> np.ndarray:
    """Majority vote over a centred window (a median filter on 0/1). The ends are handled as scipy's
    default ``mode="reflect"`` (the sequence mirrored about its end), as the paper's code does."""
    if window == 1:
        return np.asarray(active, bool).copy()
    return median_filter(np.asarray(active, np.uint8), size=window, mode="reflect").astype(bool)


def drop_short_runs(active: np.ndarray, min_length: int) -> np.ndarray:
    out = np.asarray(active, bool).copy()
    for s, e in runs(out):
        if e - s + 1 < min_length:
            out[s : e + 1] = False
    return out


def merge_gaps(active: np.ndarray, max_gap: int) -> np.ndarray:
    """Fill gaps of at most ``max_gap`` frames between two runs."""
    out = np.asarray(active, bool).copy()
    spans = runs(out)
    for (_, e1), (s2, _) in zip(spans, spans[1:], strict=False):
        if s2 - e1 - 1 <= max_gap:
            out[e1 + 1 : s2] = True
    return out


def postprocess(probs: np.ndarray, thresholds: np.ndarray, config: PostProcess = DEFAULT_POSTPROCESS) -> np.ndarray:
    """(N, L) probabilities -> (N, L) boolean activity after the temporal pipeline, label by label."""
    probs = np.asarray(probs)
    active = probs >= np.asarray(thresholds)[None, :]
    out = np.zeros_like(active)
    for j in range(active.shape[1]):
        col = median_filter_binary(active[:, j], config.median_window)
        col = drop_short_runs(col, config.min_length)
        out[:, j] = merge_gaps(col, config.max_gap)
    return out


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


# ---------------------------------------------------------------------------------------------------
# Validation


class SubmissionError(ValueError):
    """A RARE-VISION JSON document that breaks the challenge's rules; the message says where."""


def validate_document(doc, truth=None, labels: Sequence[str] = LABELS, name: str = "submission") -> None:
    """Apply the challenge's sanity checks: the document shape, ``label`` a list of known labels,
    integer inclusive ``start <= end``, and (given ``truth``) the same set of video ids."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("videos"), list):
        raise SubmissionError(f'{name}: expected an object with a "videos" list')
    known = set(labels)
    seen: list[str] = []
    for v, video in enumerate(doc["videos"]):
        if not isinstance(video, Mapping) or not isinstance(video.get("video_id"), str):
            raise SubmissionError(f'{name}: videos[{v}] needs a string "video_id"')
        vid = video["video_id"]
        if vid in seen:
            raise SubmissionError(f"{name}: video {vid!r} appears twice")
        seen.append(vid)
        events = video.get("events")
        if not isinstance(events, list):
            raise SubmissionError(f'{name}: video {vid!r} needs an "events" list')
        for e, ev in enumerate(events):
            where = f"{name}: video {vid!r} event {e}"
            if not isinstance(ev, Mapping):
                raise SubmissionError(f"{where}: expected an object, got {type(ev).__name__}")
            for key in ("start", "end"):
                if not isinstance(ev.get(key), int) or isinstance(ev.get(key), bool):
                    raise SubmissionError(f'{where}: "{key}" must be an integer frame number, got {ev.get(key)!r}')
            if ev["start"] > ev["end"]:
                raise SubmissionError(f"{where}: start {ev['start']} is after end {ev['end']}")
            if ev["start"] < 0:
                raise SubmissionError(f"{where}: negative start {ev['start']}")
            lab = ev.get("label")
            if not isinstance(lab, list):
                raise SubmissionError(f'{where}: "label" must be a list of label names, got {lab!r}')
            unknown = [x for x in lab if x not in known]
            if unknown:
                raise SubmissionError(f"{where}: unknown label(s) {unknown}; labels must be among the 17")
    if truth is not None:
        truth_ids = {v["video_id"] for v in truth["videos"]}
        if set(seen) != truth_ids:
            missing, extra = sorted(truth_ids - set(seen)), sorted(set(seen) - truth_ids)
            raise SubmissionError(
                f"{name}: video ids differ from the ground truth's (missing {missing}, not in the truth {extra})"
            )
