"""Ground truth for a clip: a RARE-VISION JSON (the example clip ships one; an upload can take one), read
with diffclip's validator, matched to the clip, and scored with the challenge's scorer (diffclip.scoring)
on the part of the clip that was analysed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from diffclip.json_input import read_json
from diffclip.labels import LABELS
from diffclip.scoring import THRESHOLDS, evaluate, segments_by_label
from diffclip.submission import validate_document


@dataclass
class ClipTruth:
    """The truth events of one video, from the file ``name``; ``notes`` say what did not match exactly."""

    name: str
    video_id: str
    events: list[dict]
    notes: list[str] = field(default_factory=list)

    def segments(self) -> dict[str, list[tuple[int, int]]]:
        """Per-label inclusive (start, end) frame segments, as the scorer explodes them."""
        return segments_by_label(self.events)

    @property
    def last_frame(self) -> int | None:
        return max((int(ev["end"]) for ev in self.events), default=None)


def read_truth(path: str | Path, video_id: str, frame_count: int | None = None, clip_name: str = "the clip",
               labels: Sequence[str] = LABELS) -> ClipTruth:
    """Read a RARE-VISION truth JSON for the clip ``video_id`` of ``frame_count`` frames. One-line
    ValueErrors name the file: not JSON, not the format (diffclip.submission's checks), no video for this
    clip, or events past the clip's end. A file with one video under another id is used, with a note."""
    path = Path(path)
    name = path.name
    doc = read_json(path, name)
    validate_document(doc, labels=labels, name=name)  # its messages start with the file's name
    videos = doc["videos"]
    ids = [v["video_id"] for v in videos]
    notes = []
    if video_id in ids:
        video = videos[ids.index(video_id)]
    elif len(videos) == 1:
        video = videos[0]
        notes.append(f"{name} is the truth of video {ids[0]!r}, and this clip is {video_id!r}: compared "
                     "anyway, as the file's only video")
    elif not videos:
        raise ValueError(f"{name} holds no videos")
    else:
        raise ValueError(f"{name} has no video {video_id!r} (it has {', '.join(map(repr, ids))})")
    truth = ClipTruth(name, video["video_id"], list(video["events"]), notes)
    last = truth.last_frame
    if frame_count and last is not None and last >= frame_count:
        raise ValueError(f"{name}: its events run to frame {last}, but {clip_name} has {frame_count} frames "
                         f"(0-{frame_count - 1}): is it the truth of another video?")
    return truth


def within(events: Sequence[dict], first: int, last: int) -> tuple[list[dict], int, int]:
    """``events`` cut to the frames ``first..last`` (inclusive): those outside are left out, those across an
    end are cut there. Returns the events and how many were left out and cut."""
    kept, left_out, cut = [], 0, 0
    for ev in events:
        start, end = int(ev["start"]), int(ev["end"])
        if end < first or start > last:
            left_out += 1
            continue
        if start < first or end > last:
            cut += 1
        kept.append({**ev, "start": max(start, first), "end": min(end, last)})
    return kept, left_out, cut


@dataclass
class ClipScores:
    """The challenge's per-label AP of one clip at each tIoU threshold, and what was scored."""

    maps: dict[float, float]
    per_label: dict[float, dict[str, float]]
    truth_counts: dict[str, int]
    pred_counts: dict[str, int]
    scored_range: tuple[int, int]
    left_out: int
    cut: int


def score_clip(truth: ClipTruth, predicted: Sequence[dict], first: int, last: int,
               labels: Sequence[str] = LABELS, thresholds: Sequence[float] = THRESHOLDS) -> ClipScores:
    """Temporal AP per label of the clip's predicted label-set events against ``truth``, with
    diffclip.scoring (the challenge's rule), on the analysed frames ``first..last`` only: truth outside
    them is left out, since nothing there was predicted. ValueError when no truth event is left."""
    events, left_out, cut = within(truth.events, first, last)
    vid = truth.video_id
    truth_doc = {"videos": [{"video_id": vid, "events": events}]}
    pred_doc = {"videos": [{"video_id": vid, "events": list(predicted)}]}
    try:
        scores = evaluate(truth_doc, pred_doc, thresholds, labels, truth_name=truth.name,
                          pred_name="the clip's events")
    except ValueError as exc:
        if "no labelled events" in str(exc):
            raise ValueError(f"{truth.name} has no labelled events in the analysed frames {first}-{last}: "
                             "the temporal mAP is undefined") from None
        raise
    per_label = {thr: dict(s.videos[0].per_label) for thr, s in scores.items()}
    truth_segs, pred_segs = segments_by_label(events), segments_by_label(predicted)
    return ClipScores({thr: s.map for thr, s in scores.items()}, per_label,
                      {lab: len(truth_segs.get(lab, [])) for lab in labels},
                      {lab: len(pred_segs.get(lab, [])) for lab in labels}, (first, last), left_out, cut)


def score_rows(scores: ClipScores, labels: Sequence[str] = LABELS) -> list[list]:
    """Table rows: label, truth events, predicted events, AP at each threshold, and why a label without
    truth scores what it scores."""
    rows = []
    for lab in labels:
        t, p = scores.truth_counts[lab], scores.pred_counts[lab]
        why = ("" if t else "no truth, none predicted: counts 1" if not p else "no truth, but predicted: counts 0")
        rows.append([lab, t, p, *(round(scores.per_label[thr][lab], 3) for thr in scores.per_label), why])
    return rows


def score_summary(scores: ClipScores, labels: Sequence[str] = LABELS) -> str:
    """Markdown: the clip's mAP at each threshold and what the number means."""
    free = sum(1 for lab in labels if not scores.truth_counts[lab] and not scores.pred_counts[lab])
    first, last = scores.scored_range
    values = ", ".join(f"**{m:.2f}** at tIoU >= {thr:g}" for thr, m in scores.maps.items())
    parts = [f"**Temporal mAP of this clip**: {values} (the challenge's scorer, frames {first}-{last})."]
    if scores.left_out or scores.cut:
        parts.append(f"Truth outside the analysed frames is not scored: {scores.left_out} event(s) left out, "
                     f"{scores.cut} cut at the edge.")
    parts.append(
        "Per label, AP takes the predicted events in file order and matches each to the first unmatched truth "
        "event of that label that overlaps it by at least the tIoU threshold (overlap / union of the two frame "
        f"ranges); mAP is the mean over all {len(labels)} labels. A label absent from both truth and "
        f"prediction counts 1 ({free} of {len(labels)} here" +
        (f", so {free / len(labels):.2f} of the mAP comes from saying nothing)." if free else ").")
    )
    most = max(labels, key=lambda lab: scores.truth_counts[lab])
    if scores.truth_counts[most] > 1:
        parts.append("Events are label sets, exploded into one segment per label, so a section interrupted by a "
                     f"change of the other labels counts as several segments ({most}: "
                     f"{scores.truth_counts[most]} in the truth), each to be matched on its own.")
    parts.append("One short clip is an illustration, not a benchmark.")
    return " ".join(parts)
