"""Held-out synthetic frames that show a lesion, with their lesion and distractor masks: the frames the
noise study and the explanation benchmarks measure maps on (a seed not used in training)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from diffclip.labels import LABELS, LESIONS

from .synthetic import SynthConfig, plan_video, render_frame


class HeldoutFrame(NamedTuple):
    rgb: np.ndarray  # (S, S, 3) uint8
    mask: np.ndarray  # (S, S) bool: the pixels of ``label``
    label: str  # the frame's largest lesion
    distractors: np.ndarray  # (S, S) uint8 codes of diffclip.distractors.CODES


def heldout_frames(n: int, seed: int, with_distractors: bool = False, size: int = 224,
                   lookalikes: float = 0.0) -> Iterator[HeldoutFrame]:
    """``n`` frames (``size`` px) of held-out synthetic videos (``seed`` not used in training) that show a
    lesion (and, with ``with_distractors``, a bubble, highlight or debris run): up to 25 frames per 300-frame
    video, evenly spread over its qualifying frames."""
    found, video = 0, 0
    while found < n:
        plan = plan_video(f"noise{video}", SynthConfig(frames=300, seed=seed, rare_share=0.04, size=size, lookalikes=lookalikes), index=video)
        rows = plan.labels[:, [LABELS.index(lab) for lab in LESIONS]].any(1)
        if with_distractors:
            rows &= plan.distractor_frames()
        rows = np.flatnonzero(rows)
        for t in rows[:: max(1, len(rows) // 25)]:
            rgb, mask, distractors = render_frame(plan, int(t))
            values = [v for v in np.unique(mask) if v]
            if not values:
                continue
            label = LABELS[int(values[np.argmax([(mask == v).sum() for v in values])]) - 1]
            yield HeldoutFrame(rgb, mask == LABELS.index(label) + 1, label, distractors)
            found += 1
            if found == n:
                return
        video += 1
