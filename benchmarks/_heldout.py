"""Held-out synthetic lesion frames with their masks, shared by the explanation benchmarks."""

from __future__ import annotations

import numpy as np

from training.heldout import HeldoutFrame, heldout_frames

__all__ = ["HeldoutFrame", "heldout_frames", "lesion_frames"]


def lesion_frames(n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """``n`` held-out lesion frames as (rgb, mask, label) (see :func:`training.heldout.heldout_frames`)."""
    return [(f.rgb, f.mask, f.label) for f in heldout_frames(n, seed)]
