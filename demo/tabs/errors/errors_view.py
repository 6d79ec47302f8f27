"""Errors tab logic: one model pass over a labelled set (diffclip.error_analysis, cached by content), then the
per-label counts, the most confident mistakes and the tags at the session's thresholds, none of which runs
the model again. Plain functions on plain data, so they are tested without a browser; ``demo.tabs.errors``
wires them to Gradio."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from diffclip.error_analysis.document import flagged_frames
from diffclip.error_analysis.frame_metrics import counts, label_counts, ranked_mistakes
from diffclip.error_analysis.labelled_set import LabelledSet, frame_images, load_labelled
from diffclip.error_analysis.model_pass import ModelPass, run_pass
from diffclip.error_analysis.tags import KINDS, tag, tag_key
from diffclip.inference import Predictor

from ...resources import HELDOUT
from ...scores import flagged_banner
from ...truth import FrameTruth, load_mask
from .errors_thumbs import thumbnails

HEADERS = ("label", "threshold", "support", "TP", "FP", "FN", "precision", "recall", "F1", "AP")
DATATYPES = ("str", "number", "number", "number", "number", "number", "str", "str", "str", "str")
TAG_HEADERS = ("video", "frame", "label", "kind", "p", "cause", "note")
SHOWN = 12  # mistakes per gallery
KIND_TITLES = {"fp": "false positive", "fn": "false negative", "tp": "true positive", "tn": "true negative"}


@dataclass
class ErrorsState:
    """A session's error analysis, kept small (docs/design.md, "Serving many users"): the model pass (a
    few floats per frame), where the set is (frames are read from disk when shown), the session's
    thresholds and tags, and what the galleries show."""

    mp: ModelPass
    data: str  # the set's root on the server: never shown to the user
    name: str  # what the user calls the set
    folder: Path | None  # the session's folder: thumbnails, the tags CSV, an uploaded set
    thresholds: np.ndarray  # (L,) float32, the session's (the checkpoint's at first)
    tags: dict[tuple, dict] = field(default_factory=dict)  # diffclip.error_analysis.tags.tag_key -> tag
    label: str | None = None  # whose mistakes the galleries show
    shown: dict[str, list[int]] = field(default_factory=lambda: {k: [] for k in KINDS})  # rows of mp
    selected: dict | None = None  # video_id, frame, label, kind, probability
    fmap: object | None = None  # demo.tabs.errors.errors_map.FeatureMap, once drawn
    thumb_maps: bool = False  # the galleries show each frame's last-layer attention (read in the pass)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.mp.labels


def labelled_set(data: str) -> LabelledSet:
    """The labelled set at ``data``. The bundled set is read once per process (every session shares it); an
    uploaded set is read again when asked (it lives in its session's folder and goes with it: a cache by path
    kept such sets after their folders were deleted)."""
    if Path(data).resolve() == HELDOUT.resolve():
        return _bundled_set()
    return load_labelled(data)


@functools.cache
def _bundled_set() -> LabelledSet:
    return load_labelled(str(HELDOUT))


def analyse_set(predictor: Predictor, data: str | Path, name: str, folder: Path | None = None,
                previous: ErrorsState | None = None, progress: bool = True) -> ErrorsState:
    """The model pass over the set at ``data`` (from the process's cache when the same weights saw the same
    frames). The session's thresholds carry over from ``previous``; its tags too when the frames are the
    same."""
    mp = run_pass(predictor, labelled_set(str(data)), progress=progress, readout=last_layer_attention)
    keep = previous is not None and len(previous.thresholds) == len(mp.labels)
    thresholds = previous.thresholds.copy() if keep else mp.thresholds.astype(np.float32).copy()
    tags = dict(previous.tags) if keep and previous.mp.key == mp.key else {}
    state = ErrorsState(mp, str(data), name, folder, thresholds, tags)
    state.thumb_maps = previous.thumb_maps if previous is not None else False  # the checkbox stays as it is
    return state


def check_thresholds(values, n: int) -> np.ndarray:
    """``n`` thresholds in [0, 1] as float32 (the probabilities' precision, so that a threshold equal to
    the checkpoint's counts exactly as the checkpoint does)."""
    try:
        out = np.asarray([float(v) for v in values], np.float32)
    except (TypeError, ValueError):
        raise ValueError("thresholds must be numbers in [0, 1]") from None
    if out.shape != (n,):
        raise ValueError(f"{out.size} thresholds given for {n} labels")
    if not np.all(np.isfinite(out)) or out.min() < 0 or out.max() > 1:
        raise ValueError("thresholds must be numbers in [0, 1]")
    return out


def set_thresholds(state: ErrorsState, values) -> ErrorsState:
    state.thresholds = check_thresholds(values, len(state.labels))
    return state


def check_label(state: ErrorsState, label: str | None) -> int:
    if label not in state.labels:
        raise ValueError(f"unknown label {label!r}; choose one of {', '.join(state.labels)}")
    return state.labels.index(label)


def per_label(state: ErrorsState) -> dict[str, dict]:
    """Counts of every label over the frames with known truth, at the session's thresholds."""
    rows = state.mp.known
    return counts(state.mp.truth[rows], state.mp.probs[rows], state.thresholds, state.labels)


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def table_rows(found: dict[str, dict]) -> list[list]:
    """One row per label: its threshold, support, TP, FP, FN, precision, recall, F1 and AP."""
    return [[lab, round(c["threshold"], 2), c["support"], c["tp"], c["fp"], c["fn"], _fmt(c["precision"]),
             _fmt(c["recall"]), _fmt(c["f1"]), _fmt(c["ap"])] for lab, c in found.items()]


def summary(state: ErrorsState, found: dict[str, dict]) -> str:
    """One line: the set, its frames, the totals at the session's thresholds, and whether the model ran."""
    mp = state.mp
    tp, fp, fn = (sum(c[k] for c in found.values()) for k in ("tp", "fp", "fn"))
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    known, videos = int(mp.known.sum()), len(set(mp.video_ids.tolist()))
    unknown = f" ({len(mp) - known} without truth, left out)" if known < len(mp) else ""
    moved = int(np.sum(~np.isclose(state.thresholds, mp.thresholds, atol=5e-3)))
    at = f"{moved} threshold{'s' if moved != 1 else ''} moved from the checkpoint's" if moved else \
        "the checkpoint's thresholds"
    ran = "reused from this server's cache" if mp.cached else "ran now"
    return ood_summary(mp) + (f"**{state.name}** · {known} frames with truth in {videos} video{'s' if videos != 1 else ''}{unknown} · "
            f"{at} · all labels: TP {tp}, FP {fp}, FN {fn}, micro precision {_fmt(precision)}, recall "
            f"{_fmt(recall)}, F1 {_fmt(f1)} · model pass {ran}")


def ood_summary(mp, named: int = 6) -> str:
    """The Frames tab's banner for a set: how many of its frames do not look like capsule frames, and which
    (the first ``named``); empty when none is flagged."""
    names = [f"{f['video_id']}/{f['frame']}" for f in flagged_frames(mp)["flagged"]]
    banner = flagged_banner(names, len(mp), "frames", "video/frame", "scores of those frames, and the mistakes "
                            "among them, describe pictures the model was not trained on", named)
    return banner + "\n\n" if banner else ""


def default_label(found: dict[str, dict]) -> str:
    """The label with the most mistakes (FP + FN); the first such in label order on ties."""
    return max(found, key=lambda lab: found[lab]["fp"] + found[lab]["fn"])


def mistakes(state: ErrorsState, label: str, k: int = SHOWN) -> dict[str, list[int]]:
    """Rows of the model pass: ``label``'s ``k`` most confident false positives (highest probability first)
    and its ``k`` least confident false negatives (lowest first), at the session's threshold."""
    j = check_label(state, label)
    rows = np.flatnonzero(state.mp.known)
    fp, fn = ranked_mistakes(state.mp.truth[rows, j], state.mp.probs[rows, j], float(state.thresholds[j]), k)
    return {"fp": rows[fp].tolist(), "fn": rows[fn].tolist()}


def mistake_at(state: ErrorsState, row: int, label: str, kind: str) -> dict:
    j = check_label(state, label)
    return {"video_id": str(state.mp.video_ids[row]), "frame": int(state.mp.frames[row]), "label": label,
            "kind": kind, "probability": float(state.mp.probs[row, j])}


def caption(m: dict) -> str:
    return f"video {m['video_id']} · frame {m['frame']} · p={m['probability']:.2f}"


def show_label(state: ErrorsState, label: str) -> ErrorsState:
    """Show ``label``'s mistakes; the selection stays only while it is still among them."""
    state.shown = mistakes(state, label)
    state.label = label
    s = state.selected
    if s is not None:
        still = s["label"] == label and any(
            state.mp.video_ids[r] == s["video_id"] and state.mp.frames[r] == s["frame"] for r in state.shown[s["kind"]])
        state.selected = s if still else None
    return state


def galleries(state: ErrorsState, predictor: Predictor) -> tuple[list, list]:
    """(picture, caption) of the shown false positives and false negatives: the model's crop with the
    lesion outline where the set has masks."""
    out = []
    for kind in KINDS:
        found = [mistake_at(state, r, state.label, kind) for r in state.shown[kind]]
        pictures = thumbnail_pictures(state, predictor, [(m["video_id"], m["frame"]) for m in found])
        out.append([(p, caption(m)) for p, m in zip(pictures, found, strict=True)])
    return out[0], out[1]


def thumbnail_pictures(state: ErrorsState, predictor: Predictor, wanted: list[tuple[str, int]],
                       with_maps: bool | None = None) -> list:
    """The crops of (video id, frame) ``wanted`` as the galleries draw them (errors_thumbs), with the
    attention the pass read on them when ``with_maps`` (default: as the session's box says) and it has one."""
    with_maps = state.thumb_maps if with_maps is None else with_maps
    maps = {key: state.mp.maps[state.mp.where(*key)] for key in wanted} \
        if with_maps and state.mp.maps is not None else None
    return thumbnails(labelled_set(state.data), wanted, predictor, state.folder, maps)


def last_layer_attention(maps) -> np.ndarray:
    """What the pass reads from each frame's attention for the thumbnails: the last layer's CLS row, head
    mean, of the map the model applies (a1 − λ·a2 for a differential model)."""
    from explain.attention_readout import cls_map

    return cls_map(maps, -1, None, maps[-1].semantics.shown)


def gallery_titles(state: ErrorsState) -> tuple[str, str]:
    """The galleries' titles: whose mistakes, in which order, and how many of how many are shown."""
    j = check_label(state, state.label)
    rows = state.mp.known
    truth, said = state.mp.truth[rows, j], state.mp.probs[rows, j] >= state.thresholds[j]
    totals = {"fp": int(np.sum(said & ~truth)), "fn": int(np.sum(~said & truth))}
    order = {"fp": "most confident first", "fn": "least confident first"}
    out = []
    for kind in KINDS:
        n, total = len(state.shown[kind]), totals[kind]
        count = f"{n} of {total} shown" if total else "none at this threshold"
        out.append(f"{KIND_TITLES[kind].capitalize()}s of {state.label} ({order[kind]}) · {count}")
    return out[0], out[1]


def select(state: ErrorsState, kind: str, index: int) -> dict:
    """Select the ``index``-th shown mistake of ``kind`` (a gallery click)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    shown = state.shown.get(kind, [])
    if not 0 <= int(index) < len(shown):
        raise ValueError("that frame is no longer shown; click one of the frames in the galleries")
    state.selected = mistake_at(state, shown[int(index)], state.label, kind)
    return state.selected


def true_labels(state: ErrorsState, row: int) -> list[str]:
    return [lab for lab, on in zip(state.labels, state.mp.truth[row], strict=True) if on]


def selected_line(state: ErrorsState | None) -> str:
    """The selected mistake in one line (or how to select one)."""
    if state is None or state.selected is None:
        return "No mistake selected: click a frame in a gallery."
    m = state.selected
    row = state.mp.where(m["video_id"], m["frame"])
    truth = ", ".join(true_labels(state, row)) or "none"
    if m.get("issue"):  # from the label issues: the model contradicts the given value, whatever the threshold
        given = "given" if m["kind"] == "fn" else "given without it"
        return (f"**Selected:** likely label error of **{m['label']}** ({given}) · {caption(m)} · true labels in "
                f"the set: {truth}; tag it \"mislabel\" if the frame shows the set is wrong")
    return (f"**Selected:** {KIND_TITLES[m['kind']]} of **{m['label']}** · {caption(m)} · "
            f"threshold {float(state.thresholds[state.labels.index(m['label'])]):.2f} · true labels: {truth}")


def add_tag(state: ErrorsState, cause: str, note: str = "", mistake: dict | None = None) -> dict:
    """Tag the selected mistake (or ``mistake``: video_id, frame, label, kind) with a cause and a note; a
    later tag of the same mistake replaces the earlier. A ValueError when there is no such mistake at the
    session's thresholds, or the cause is not one of diffclip.error_analysis.tags.CAUSES."""
    m = mistake if mistake is not None else state.selected
    if m is None:
        raise ValueError("select a mistake first: click a frame in one of the galleries")
    j = check_label(state, m.get("label"))
    try:
        row = state.mp.where(str(m["video_id"]), int(m["frame"]))
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
    kind, p, t = m.get("kind"), float(state.mp.probs[row, j]), float(state.thresholds[j])
    is_fp = state.mp.known[row] and not state.mp.truth[row, j] and p >= t
    is_fn = state.mp.known[row] and state.mp.truth[row, j] and p < t
    # a likely label error is tagged whatever the threshold says: the question is the truth, not the call
    if kind in KINDS and not m.get("issue") and not (is_fp if kind == "fp" else is_fn):
        raise ValueError(f"frame {m['frame']} of video {m['video_id']} is not a {KIND_TITLES[kind]} of "
                         f"{m['label']} at threshold {t:.2f} (p={p:.2f})")
    new = tag(m["video_id"], int(m["frame"]), m["label"], kind, p, cause, note)
    state.tags[tag_key(new)] = new
    return new


def tag_rows(state: ErrorsState | None) -> list[list]:
    if state is None:
        return []
    return [[t["video_id"], t["frame"], t["label"], t["kind"], round(t["probability"], 2), t["cause"], t["note"]]
            for _, t in sorted(state.tags.items())]


def open_frame(state: ErrorsState, size: int) -> tuple[Path | np.ndarray, str, FrameTruth]:
    """The selected mistake's frame for the Frames view: its picture, a name, and its truth (labels from
    the model pass, the lesion mask where the set has one)."""
    m = state.selected
    if m is None:
        raise ValueError("select a mistake first: click a frame in one of the galleries")
    video = labelled_set(state.data).video(m["video_id"])
    image = frame_images(video, [m["frame"]]).get(m["frame"])
    if image is None:
        raise ValueError(f"frame {m['frame']} of video {m['video_id']} is no longer on the server; analyse again")
    row = state.mp.where(m["video_id"], m["frame"])
    labels = frozenset(true_labels(state, row)) if state.mp.known[row] else None
    mask_path = video.mask_path(m["frame"])
    mask = load_mask(mask_path, size) if mask_path is not None else None
    return image, f"video {m['video_id']} frame {m['frame']}", FrameTruth(labels, mask)


def counts_at(state: ErrorsState, label: str, threshold: float) -> dict:
    """``label``'s counts over the frames with known truth at ``threshold`` (the session's thresholds stay
    as they are): the ``/errors_counts`` endpoint."""
    j = check_label(state, label)
    t = check_thresholds([threshold], 1)[0]
    rows = state.mp.known
    return {"label": label, **label_counts(state.mp.truth[rows, j], state.mp.probs[rows, j], float(t))}
