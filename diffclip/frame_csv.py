"""The paper's per-frame binary CSV (its ``results/test_<video>_frames.csv``): a column ``index`` with the frame
numbers, then one 0/1 column per label named as the label (spaces kept), the post-processed predictions the
events are made of; written by ``diffclip predict --binary-csv DIR`` as ``DIR/<video_id>_frames.csv``."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .atomic import atomic_path, refuse_link


def frame_csv_name(video_id: str) -> str:
    """The file of one video."""
    return f"{video_id}_frames.csv"


def write_frame_csv(path: str | Path, frames: Sequence[int], active: np.ndarray, labels: Sequence[str]) -> Path:
    """Write one video's post-processed predictions ``active`` (N, L) for frame numbers ``frames`` (atomically)."""
    active = np.asarray(active)
    if active.shape != (len(frames), len(labels)):
        raise ValueError(f"predictions {active.shape} do not match {len(frames)} frames x {len(labels)} labels")
    path = Path(path)
    refuse_link(path, "--binary-csv")
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["index", *labels])
        out.writerows([int(n), *(int(bool(v)) for v in row)] for n, row in zip(frames, active, strict=True))
    return path
