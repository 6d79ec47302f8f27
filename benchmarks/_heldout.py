"""Held-out synthetic lesion frames with their masks, shared by the explanation benchmarks."""

from __future__ import annotations

import numpy as np

from diffclip.labels import LABELS, LESIONS
from training.synthetic import SynthConfig, plan_video, render_frame


def lesion_frames(n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """``n`` frames of held-out synthetic videos (``seed`` not used in training) that show a lesion, as
    (rgb (S, S, 3) uint8, mask (S, S) bool, label): the label is the frame's largest lesion and the mask
    its pixels. Up to 25 frames per 300-frame video, evenly spread over its lesion frames."""
    out, video = [], 0
    while len(out) < n:
        plan = plan_video(f"noise{video}", SynthConfig(frames=300, seed=seed, rare_share=0.04), index=video)
        lesion_rows = np.flatnonzero(plan.labels[:, [LABELS.index(lab) for lab in LESIONS]].any(1))
        for t in lesion_rows[:: max(1, len(lesion_rows) // 25)]:
            rgb, mask = render_frame(plan, int(t))
            values = [v for v in np.unique(mask) if v]
            if not values:
                continue
            label = LABELS[int(values[np.argmax([(mask == v).sum() for v in values])]) - 1]
            out.append((rgb, mask == LABELS.index(label) + 1, label))
            if len(out) == n:
                break
        video += 1
    return out
