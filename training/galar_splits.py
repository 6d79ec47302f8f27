"""Training-side Galar tools: splits by video, label statistics and the dataset over frame records.

The readers (label CSVs, splits, the challenge test layout) live in :mod:`diffclip.galar`, which
evaluation uses too; they are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from diffclip.galar import (  # noqa: F401  (re-exported)
    MASK_SUFFIX,
    FrameRecord,
    GalarFormatError,
    GalarIndex,
    find_labels_dir,
    find_video_dirs,
    read_label_csv,
    read_split,
    scan_challenge_test,
    scan_galar,
)
from diffclip.labels import LABELS


def split_by_video(
    index: GalarIndex, val_fraction: float = 0.2, seed: int = 0
) -> tuple[GalarIndex, GalarIndex]:
    """Seeded split into train and validation by whole videos (no video on both sides)."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    videos = index.video_ids
    if len(videos) < 2:
        raise ValueError(f"need at least two videos to split by video, got {len(videos)}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(videos))
    n_val = min(len(videos) - 1, max(1, round(val_fraction * len(videos))))
    val_ids = {videos[i] for i in order[:n_val]}
    train = [r for r in index.records if r.video_id not in val_ids]
    val = [r for r in index.records if r.video_id in val_ids]
    return GalarIndex(train), GalarIndex(val)


def label_statistics(index: GalarIndex) -> dict[str, dict[str, float]]:
    """Per label: frames, share of frames, and videos in which it occurs."""
    targets = index.targets()
    n = max(1, len(targets))
    videos = np.array([r.video_id for r in index.records])
    stats = {}
    for j, lab in enumerate(LABELS):
        on = targets[:, j] > 0.5 if len(targets) else np.zeros(0, bool)
        stats[lab] = {
            "frames": int(on.sum()),
            "share": float(on.sum() / n),
            "videos": int(len(set(videos[on]))) if len(targets) else 0,
        }
    return stats


class GalarDataset:
    """A map-style dataset over :class:`FrameRecord` items: each item is a dict with ``image``
    (transformed), ``target`` (17 floats), ``video_id`` and ``frame``."""

    def __init__(self, records: Sequence[FrameRecord] | GalarIndex, transform=None) -> None:
        self.records = list(records.records if isinstance(records, GalarIndex) else records)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict:
        from diffclip.images import to_rgb

        rec = self.records[i]
        image = to_rgb(rec.path)
        if self.transform is not None:
            image = self.transform(image)
        target = rec.target if rec.target is not None else np.full(len(LABELS), np.nan, np.float32)
        return {"image": image, "target": target, "video_id": rec.video_id, "frame": rec.frame}
