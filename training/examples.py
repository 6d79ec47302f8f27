"""The small example set bundled with the demo: eight synthetic frames with masks, each showing a
different label on its own, and one short clip with its ground truth.

Regenerate with::

    python -m training.examples --out demo/examples
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from diffclip.atomic import write_json
from diffclip.events import events_document, label_set_events
from diffclip.labels import LABELS, LANDMARKS, LESIONS

from .synthetic import SynthConfig, VideoPlan, plan_video, render_frame, write_mp4

#: One example frame per label, named after it.
EXAMPLE_LABELS = ("blood", "active bleeding", "angiectasia", "erosion", "lymphangioectasis", "polyp", "ulcer",
                  "pylorus")
SEED = 2026
PLAN = SynthConfig(frames=600, seed=SEED, rare_share=0.03)
#: Synthetic videos searched for the frame that shows a label best.
VIDEOS = 4
#: No other lesion or landmark within this many frames of the chosen one: the scene holds that finding alone, so two
#: examples never come from neighbouring frames of one scene.
MARGIN = 5
CLIP_FRAMES = 100
CLIP_FPS = 10
_FINDING_COLUMNS = [LABELS.index(lab) for lab in (*LANDMARKS, *LESIONS)]


@dataclass(frozen=True)
class Pick:
    """The frame chosen for one example: synthetic video ``video`` (plan index), frame index ``frame``."""

    label: str
    video: int
    frame: int
    rgb: np.ndarray
    mask: np.ndarray
    labels: tuple[str, ...]


def _slug(label: str) -> str:
    return label.replace(" ", "_").replace("-", "_")


def _candidates(plan: VideoPlan, label: str) -> list[int]:
    """Frames where ``label`` is on and nothing competes with it: no other lesion or landmark within MARGIN
    frames and no distractors (they are painted over lesions but not cut from the mask; the Noise lab adds
    them to these clean frames)."""
    j = LABELS.index(label)
    others = plan.labels[:, [c for c in _FINDING_COLUMNS if c != j]].any(axis=1)
    near = np.convolve(others.astype(int), np.ones(2 * MARGIN + 1, int), mode="same") > 0
    covered = plan.distractor_frames()
    return np.flatnonzero(plan.labels[:, j] & ~near & ~covered).tolist()


def pick_frame(label: str, config: SynthConfig = PLAN, videos: int = VIDEOS) -> Pick:
    """The frame that shows ``label`` best among ``videos`` synthetic videos (plan indices 0, 1, ...):
    the candidate where the label's mask is largest (a big instance, whole inside the field of view;
    the first on ties); for a landmark (no mask) the middle candidate of the first video that has one."""
    j = LABELS.index(label)
    best: tuple[int, int, VideoPlan, int] | None = None  # (area, video, plan, frame)
    for video in range(videos):
        plan = plan_video("examples", config, video)
        frames = _candidates(plan, label)
        if not frames:
            continue
        if label not in LESIONS:
            best = (0, video, plan, frames[len(frames) // 2])
            break
        areas = [int((render_frame(plan, t)[1] == j + 1).sum()) for t in frames]
        k = int(np.argmax(areas))
        if best is None or areas[k] > best[0]:
            best = (areas[k], video, plan, frames[k])
    if best is None:
        raise ValueError(f"no frame shows {label!r} on its own in {videos} synthetic videos")
    _, video, plan, t = best
    rgb, mask, _ = render_frame(plan, t)
    on = tuple(lab for lab, flag in zip(LABELS, plan.labels[t], strict=True) if flag)
    return Pick(label, video, t, rgb, mask, on)


def _write_clip(out: Path, seed: int) -> None:
    clip_plan = plan_video("clip", SynthConfig(frames=CLIP_FRAMES, seed=seed + 1, rare_share=0.05))
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for t in range(CLIP_FRAMES):
            path = Path(tmp) / f"frame_{t:06d}.png"
            cv2.imwrite(str(path), cv2.cvtColor(render_frame(clip_plan, t)[0], cv2.COLOR_RGB2BGR))
            paths.append(path)
        write_mp4(paths, out / "clip.mp4", CLIP_FPS)
    truth = events_document({"clip": label_set_events(clip_plan.labels, clip_plan.frame_numbers)})
    write_json(out / "clip_ground_truth.json", truth, indent=1)


def write_examples(out: str | Path, seed: int = SEED) -> dict:
    """Write the example frames, masks, clip and an index (examples.json) to ``out``."""
    out = Path(out)
    frames_dir = out / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    config = SynthConfig(frames=PLAN.frames, seed=seed, rare_share=PLAN.rare_share)
    png = [cv2.IMWRITE_PNG_COMPRESSION, 9]
    entries = []
    for label in EXAMPLE_LABELS:
        pick = pick_frame(label, config)
        name = _slug(label)
        cv2.imwrite(str(frames_dir / f"{name}.png"), cv2.cvtColor(pick.rgb, cv2.COLOR_RGB2BGR), png)
        cv2.imwrite(str(frames_dir / f"{name}_mask.png"), pick.mask, png)
        entries.append({
            "image": f"frames/{name}.png",
            "mask": f"frames/{name}_mask.png",
            "shows": label,
            "labels": list(pick.labels),
            "source": {"video": pick.video, "frame": pick.frame},
        })
    _write_clip(out, seed)
    index = {
        "note": "Synthetic capsule endoscopy frames made by training.synthetic; not real patient data.",
        "command": "python -m training.examples --out demo/examples",
        "seed": seed,
        "frames": entries,
        "clip": {"video": "clip.mp4", "fps": CLIP_FPS, "frames": CLIP_FRAMES, "ground_truth": "clip_ground_truth.json"},
        "mask_values": "0 = background, k = 1 + index of the lesion label in the 17-label vocabulary",
        "mask_shows": ("only the finding the frame is named for: no other lesion or landmark is on within "
                       f"{MARGIN} frames, so the mask is that lesion's (all 0 for the pylorus: landmarks have "
                       "no mask)"),
        "source": (f"plan_video('examples', SynthConfig(frames={PLAN.frames}, seed=seed, "
                   f"rare_share={PLAN.rare_share}), video) and the frame index in it"),
    }
    write_json(out / "examples.json", index)
    return index


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the demo's example frames and clip.")
    parser.add_argument("--out", default="demo/examples")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    out = Path(args.out)
    if (out / "frames").exists():
        shutil.rmtree(out / "frames")
    index = write_examples(out, args.seed)
    print(f"wrote {len(index['frames'])} frames and a {CLIP_FRAMES / CLIP_FPS:.0f} s clip to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
