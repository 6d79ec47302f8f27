"""Training-side Galar tools: splits by video, label statistics and the dataset over frame records.

The readers (label CSVs, splits, the challenge test layout) live in :mod:`diffclip.galar`, which
evaluation uses too; they are re-exported here.
"""

from __future__ import annotations

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
