"""The challenge's sanity checks on a RARE-VISION JSON document, with messages that say where."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .labels import LABELS


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
            # non-strings (nested lists, numbers) are rejected before the set lookup, which would raise
            # TypeError on an unhashable item
            if not isinstance(lab, list) or not all(isinstance(x, str) for x in lab):
                raise SubmissionError(f'{where}: "label" must be a list of label names (strings), got {lab!r}')
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
