"""A labelled set for error analysis: frame sources, each sampled frame's true labels and the truth's
events per video (docs/design.md, "Error analysis").

Two layouts:

* a Galar root, or a synthetic set in its format: ``<video>/frame_000123.PNG`` and ``Labels/<video>.csv``;
  the truth of a frame is its CSV row, the truth events are the runs of the CSV's label sets;
* frames or videos with a RARE-VISION truth JSON: a frame's labels are those of the events that cover it
  (a frame inside no event has none), the truth events are the JSON's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..events import label_set_events
from ..galar import find_labels_dir, find_video_dirs, read_label_csv
from ..json_input import read_json
from ..labels import LABELS
from ..submission import validate_document
from ..video import FrameSource, Sampling, discover_sources, folder_source

MASK_NAME = "frame_{:06d}_mask.png"


@dataclass
class LabelledVideo:
    """One video: its frame source, the truth's label-set events and, for label CSVs, the truth of each
    labelled frame (frame -> (L,) bool; None: the truth is the events)."""

    source: FrameSource
    events: list[dict]
    table: dict[int, np.ndarray] | None = None

    @property
    def video_id(self) -> str:
        return self.source.video_id

    def truth(self, frames: Sequence[int], labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """For each of ``frames``: whether its truth is known (a CSV without its row does not know it) and
        its (N, L) true labels; from events, a frame inside no event is known to have none."""
        frames = np.asarray(frames, dtype=np.int64)
        on = np.zeros((len(frames), len(labels)), bool)
        if self.table is not None:
            known = np.array([int(f) in self.table for f in frames], bool)
            for i in np.flatnonzero(known):
                on[i] = self.table[int(frames[i])]
            return known, on
        index = {lab: j for j, lab in enumerate(labels)}
        for ev in self.events:
            inside = (frames >= int(ev["start"])) & (frames <= int(ev["end"]))
            for lab in ev["label"]:
                on[inside, index[lab]] = True
        return np.ones(len(frames), bool), on

    def mask_path(self, frame: int) -> Path | None:
        """The frame's lesion mask, where the synthetic generator writes one (None elsewhere)."""
        if self.source.kind != "folder" or self.source.path is None:
            return None
        path = self.source.path / MASK_NAME.format(frame)
        return path if path.is_file() else None


@dataclass
class LabelledSet:
    """Videos with truth, where they came from, and the labels the truth speaks of."""

    data: str
    videos: list[LabelledVideo]
    labels: tuple[str, ...] = LABELS
    truth_files: list[Path] = field(default_factory=list)

    @property
    def sources(self) -> list[FrameSource]:
        return [v.source for v in self.videos]

    @property
    def truth_events(self) -> dict[str, list[dict]]:
        """Video id -> the truth's label-set events (what :func:`~diffclip.error_analysis.document.errors_document`
        matches the predictions against)."""
        return {v.video_id: v.events for v in self.videos}

    def video(self, video_id: str) -> LabelledVideo:
        for v in self.videos:
            if v.video_id == video_id:
                return v
        raise KeyError(f"no video {video_id!r} in {self.data}")

    def fingerprint(self) -> str:
        """A digest of the frames the model sees, by content: each sampled frame's file bytes (frame
        folders) or each video file's bytes, with the frame numbers. Truth files are not part of it: the
        model pass does not depend on them."""
        h = hashlib.blake2b(digest_size=16)
        for v in self.videos:
            h.update(f"video {v.video_id}\n".encode())
            if v.source.kind == "video" and v.source.path is not None:
                _hash_file(h, v.source.path)
                continue
            for frame in v.source:
                h.update(f"{frame.number}\n".encode())
                if isinstance(frame.image, Path):
                    _hash_file(h, frame.image)
                else:
                    h.update(np.ascontiguousarray(frame.image).tobytes())
        return h.hexdigest()


def _hash_file(h, path: Path) -> None:
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)


def load_labelled(data: str | Path, truth: str | Path | None = None, stride: int = 1,
                  labels: Sequence[str] = LABELS) -> LabelledSet:
    """The labelled set at ``data``: a Galar-style root (frames and ``Labels/*.csv``), or, with ``truth``
    (a RARE-VISION events JSON), frame folders or videos whose truth is that JSON."""
    data = Path(data)
    if not data.exists():
        raise FileNotFoundError(f"data {data} does not exist")
    sampling = Sampling(stride=stride)
    if truth is not None:
        return _from_events(data, Path(truth), sampling, tuple(labels))
    return _from_galar(data, sampling, tuple(labels))


def _from_galar(root: Path, sampling: Sampling, labels: tuple[str, ...]) -> LabelledSet:
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder: give a Galar-style root, or frames/videos with --truth")
    try:
        labels_dir = find_labels_dir(root)
    except FileNotFoundError:
        raise FileNotFoundError(f"{root} has no Labels/ folder of label CSVs; for frames or videos with a "
                                "RARE-VISION events JSON as truth, pass it with --truth") from None
    folders = find_video_dirs(root)
    csvs = {p.stem: p for p in sorted(labels_dir.iterdir()) if p.suffix.lower() == ".csv"}
    videos, files = [], []
    for key, folder in folders.items():
        csv_path = csvs.get(key) or csvs.get(folder.name)
        if csv_path is None:
            continue
        frames, targets, _ = read_label_csv(csv_path)
        on = targets[:, [LABELS.index(lab) for lab in labels]] >= 0.5
        order = np.argsort(frames, kind="stable")
        frames_arr, on = np.asarray(frames)[order], on[order]
        truth = {int(f): row for f, row in zip(frames_arr, on, strict=True)}
        events = label_set_events(on, frames_arr, labels) if len(frames_arr) else []
        videos.append(LabelledVideo(folder_source(folder, sampling, folder.name), events, truth))
        files.append(csv_path)
    if not videos:
        raise ValueError(f"{root}: no video folder has a label CSV in {labels_dir.name}/ (named like the folder)")
    return LabelledSet(str(root), videos, labels, files)


def _from_events(data: Path, truth_path: Path, sampling: Sampling, labels: tuple[str, ...]) -> LabelledSet:
    if not truth_path.is_file():
        raise FileNotFoundError(f"truth file {truth_path} does not exist")
    doc = read_json(truth_path, f"truth file {truth_path.name}")
    validate_document(doc, labels=labels, name=f"truth {truth_path.name}")
    by_id = {v["video_id"]: v["events"] for v in doc["videos"]}
    videos = []
    for source in discover_sources([data], sampling):
        if source.video_id not in by_id:
            raise ValueError(f"truth {truth_path.name} has no video {source.video_id!r} (it has "
                             f"{', '.join(sorted(by_id)) or 'none'})")
        videos.append(LabelledVideo(source, list(by_id[source.video_id])))
    return LabelledSet(str(data), videos, labels, [truth_path])


def frame_images(video: LabelledVideo, frames: Sequence[int]) -> dict[int, np.ndarray | Path]:
    """The pictures of some frames of a video: file paths for frame folders, decoded RGB arrays for video
    files (one sequential decode that stops after the last frame wanted)."""
    wanted = {int(f) for f in frames}
    out: dict[int, np.ndarray | Path] = {}
    if not wanted:
        return out
    for frame in video.source:
        if frame.number in wanted:
            out[frame.number] = frame.image
            if len(out) == len(wanted):
                break
    return out
