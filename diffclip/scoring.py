"""RARE-VISION temporal mAP, reproduced exactly (docs/design.md, "Events and scoring"), plus what is needed to read it.

Official rule, per (video, label):

* events are exploded into one segment per label;
* ``tIoU = inter / union`` with inclusive frame counting
  (``inter = max(0, min(e1, e2) - max(s1, s2) + 1)``, ``union = len1 + len2 - inter``);
* predictions are taken **in file order** (no confidence ranking); each is matched to the *first*
  not-yet-matched truth segment with ``tIoU >= threshold``;
* ``AP = sum_i precision_i * (recall_i - recall_{i-1})`` over predictions, no interpolation;
* a label with no truth segments in the video scores 1.0 if nothing is predicted for it, else 0.0.

A video's mAP is the mean over all 17 labels; the overall mAP is the mean over videos. As in the
challenge's scorer, whose list of videos comes from the truth's segments, a truth video without any
labelled segment is left out of that mean (it is still required in the submission).

:func:`ranked_ap` is the conventional alternative (predictions sorted by confidence, labels without
truth left out); it is not the challenge's number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .labels import LABELS
from .submission import validate_document

THRESHOLDS = (0.5, 0.95)


def tiou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Temporal IoU of two inclusive frame ranges."""
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]) + 1)
    union = (a[1] - a[0] + 1) + (b[1] - b[0] + 1) - inter
    return inter / union


def segments_by_label(events: Sequence[Mapping]) -> dict[str, list[tuple[int, int]]]:
    """Explode label-set events into per-label (start, end) segments, keeping file order."""
    out: dict[str, list[tuple[int, int]]] = {}
    for ev in events:
        for lab in ev["label"]:
            out.setdefault(lab, []).append((int(ev["start"]), int(ev["end"])))
    return out


def first_matches(preds: Sequence[tuple[int, int]], truth: Sequence[tuple[int, int]], threshold: float
                  ) -> list[int | None]:
    """The challenge's matching for one (video, label): each prediction, in the given order, takes the
    *first* not-yet-matched truth segment with ``tIoU >= threshold``; per prediction, that segment's index
    or None."""
    matched = [False] * len(truth)
    out: list[int | None] = []
    for p in preds:
        hit = None
        for k, t in enumerate(truth):
            if not matched[k] and tiou(p, t) >= threshold:
                matched[k] = True
                hit = k
                break
        out.append(hit)
    return out


def average_precision(preds: Sequence[tuple[int, int]], truth: Sequence[tuple[int, int]], threshold: float) -> float:
    """The challenge's AP for one (video, label): predictions in the given order, greedy first-match."""
    if not truth:
        return 1.0 if not preds else 0.0
    tp = 0
    ap = 0.0
    prev_recall = 0.0
    for i, hit in enumerate(first_matches(preds, truth, threshold), start=1):
        tp += hit is not None
        recall = tp / len(truth)
        ap += (tp / i) * (recall - prev_recall)
        prev_recall = recall
    return ap


@dataclass
class VideoScore:
    video_id: str
    per_label: dict[str, float]
    absent_unpredicted: list[str] = field(default_factory=list)  # labels without truth, correctly left out
    absent_predicted: list[str] = field(default_factory=list)  # labels without truth that were predicted

    @property
    def map(self) -> float:
        return sum(self.per_label.values()) / len(self.per_label)

    @property
    def free_share(self) -> float:
        """Part of this video's mAP that comes from labels absent from the truth and left unpredicted."""
        return len(self.absent_unpredicted) / len(self.per_label)


@dataclass
class Score:
    threshold: float
    videos: list[VideoScore]

    @property
    def map(self) -> float:
        return sum(v.map for v in self.videos) / len(self.videos) if self.videos else 0.0

    def label_means(self, labels: Sequence[str] = LABELS) -> dict[str, float]:
        """Each label's AP averaged over videos."""
        n = max(len(self.videos), 1)
        return {lab: sum(v.per_label[lab] for v in self.videos) / n for lab in labels}

    def to_dict(self) -> dict:
        return {
            "threshold": self.threshold,
            "map": self.map,
            "per_label": self.label_means(),
            "videos": [
                {"video_id": v.video_id, "map": v.map, "per_label": v.per_label, "free_share": v.free_share,
                 "absent_unpredicted": v.absent_unpredicted, "absent_predicted": v.absent_predicted}
                for v in self.videos
            ],
        }


def _validate(truth: Mapping, pred: Mapping, labels: Sequence[str], truth_name: str, pred_name: str) -> None:
    validate_document(truth, labels=labels, name=truth_name)
    validate_document(pred, truth=truth, labels=labels, name=pred_name)
    # the challenge's scorer averages over the truth videos that have segments and reports 0.0 when there are
    # none; a mean over no videos is undefined, and 0.0 would read as a model that found nothing, so this is
    # refused (docs/design.md, "Where we differ", 12)
    if not any(segments_by_label(video["events"]) for video in truth["videos"]):
        raise ValueError(f"{truth_name} has no labelled events: the mAP (a mean over the videos with truth "
                         "segments) is undefined")


def score(truth: Mapping, pred: Mapping, threshold: float, labels: Sequence[str] = LABELS,
          validate: bool = True) -> Score:
    """Official temporal mAP of ``pred`` against ``truth`` (RARE-VISION JSON documents)."""
    if validate:
        _validate(truth, pred, labels, "ground truth", "prediction")
    pred_by_id = {v["video_id"]: v["events"] for v in pred["videos"]}
    videos = []
    for video in truth["videos"]:
        truth_segs = segments_by_label(video["events"])
        if not truth_segs:
            continue
        pred_segs = segments_by_label(pred_by_id.get(video["video_id"], []))
        per_label = {}
        free, wrong = [], []
        for lab in labels:
            t, p = truth_segs.get(lab, []), pred_segs.get(lab, [])
            per_label[lab] = average_precision(p, t, threshold)
            if not t:
                (wrong if p else free).append(lab)
        videos.append(VideoScore(video["video_id"], per_label, free, wrong))
    return Score(threshold, videos)


def evaluate(truth: Mapping, pred: Mapping, thresholds: Sequence[float] = THRESHOLDS,
             labels: Sequence[str] = LABELS, truth_name: str = "ground truth",
             pred_name: str = "prediction") -> dict[float, Score]:
    """Official scores at each threshold (validates once; error messages start with the names)."""
    _validate(truth, pred, labels, truth_name, pred_name)
    return {thr: score(truth, pred, thr, labels, validate=False) for thr in thresholds}


# ---------------------------------------------------------------------------------------------------
# Conventional, confidence-ranked AP (not the challenge's rule)


def scored_by_video(doc, name: str = "scored events") -> dict[str, list[Mapping]]:
    """Check a ``diffclip predict --scored`` document (``{"videos": [{"video_id", "events": [{"label",
    "start", "end", "score"}]}]}``) and map video ids to their events; the message says what is wrong."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("videos"), list):
        raise ValueError(f'{name}: expected an object with a "videos" list')
    out: dict[str, list[Mapping]] = {}
    for v, video in enumerate(doc["videos"]):
        if not isinstance(video, Mapping):
            raise ValueError(f"{name}: videos[{v}] must be an object, got {type(video).__name__}")
        for key in ("video_id", "events"):
            if key not in video:
                raise ValueError(f"{name}: videos[{v}] has no '{key}' key")
        vid, events = video["video_id"], video["events"]
        if not isinstance(vid, str) or not isinstance(events, list):
            raise ValueError(f"{name}: videos[{v}] needs a string 'video_id' and an 'events' list")
        for e, ev in enumerate(events):
            where = f"{name}: video {vid!r} event {e}"
            if not isinstance(ev, Mapping):
                raise ValueError(f"{where}: expected an object, got {type(ev).__name__}")
            for key in ("label", "start", "end", "score"):
                if key not in ev:
                    raise ValueError(f"{where} has no '{key}' key")
            if not isinstance(ev["label"], str):
                raise ValueError(f"{where}: 'label' must be one label name, got {ev['label']!r}")
            for key, kinds, what in (("start", int, "an integer frame number"), ("end", int, "an integer frame number"),
                                     ("score", (int, float), "a number")):
                if not isinstance(ev[key], kinds) or isinstance(ev[key], bool):
                    raise ValueError(f"{where}: '{key}' must be {what}, got {ev[key]!r}")
        out[vid] = events
    return out


def ranked_ap(scored: Sequence[Mapping], truth: Sequence[tuple[int, int]], threshold: float) -> float | None:
    """AP with predictions sorted by descending ``score`` (ties keep file order), the same greedy
    matching and non-interpolated sum; None for a label without truth (left out of the mean)."""
    if not truth:
        return None
    order = sorted(range(len(scored)), key=lambda i: -float(scored[i]["score"]))
    return average_precision([(int(scored[i]["start"]), int(scored[i]["end"])) for i in order], truth, threshold)


def ranked_map(truth: Mapping, scored: Mapping[str, Sequence[Mapping]], threshold: float,
               labels: Sequence[str] = LABELS) -> dict:
    """Conventional mAP over (video, label) pairs that have truth; ``scored`` maps video ids to
    per-label events with scores (``diffclip predict --scored``)."""
    values, per_label = [], {lab: [] for lab in labels}
    for video in truth["videos"]:
        segs = segments_by_label(video["events"])
        events = scored.get(video["video_id"], [])
        for lab in labels:
            ap = ranked_ap([e for e in events if e["label"] == lab], segs.get(lab, []), threshold)
            if ap is not None:
                values.append(ap)
                per_label[lab].append(ap)
    return {
        "threshold": threshold,
        "map": sum(values) / len(values) if values else 0.0,
        "per_label": {lab: (sum(v) / len(v) if v else None) for lab, v in per_label.items()},
    }
