"""The small example set bundled with the demo: eight synthetic frames with masks, each showing a
different label, and one short clip with its ground truth.

Regenerate with::

    python -m training.examples --out demo/examples
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from diffclip.atomic import write_json
from diffclip.events import events_document, label_set_events
from diffclip.labels import LABELS

from .synthetic import SynthConfig, plan_video, render_frame, write_mp4

#: One example frame per label, named after it.
EXAMPLE_LABELS = ("blood", "active bleeding", "angiectasia", "erosion", "lymphangioectasis", "polyp", "ulcer",
                  "pylorus")
SEED = 2026
CLIP_FRAMES = 100
CLIP_FPS = 10


def _slug(label: str) -> str:
    return label.replace(" ", "_").replace("-", "_")


def write_examples(out: str | Path, seed: int = SEED) -> dict:
    """Write the example frames, masks, clip and an index (examples.json) to ``out``."""
    out = Path(out)
    frames_dir = out / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_video("examples", SynthConfig(frames=600, seed=seed, rare_share=0.03))
    png = [cv2.IMWRITE_PNG_COMPRESSION, 9]
    entries = []
    for label in EXAMPLE_LABELS:
        j = LABELS.index(label)
        rows = np.flatnonzero(plan.labels[:, j])
        t = int(rows[len(rows) // 2])
        rgb, mask = render_frame(plan, t)
        name = _slug(label)
        cv2.imwrite(str(frames_dir / f"{name}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), png)
        cv2.imwrite(str(frames_dir / f"{name}_mask.png"), mask, png)
        entries.append({
            "image": f"frames/{name}.png",
            "mask": f"frames/{name}_mask.png",
            "shows": label,
            "labels": [lab for lab, on in zip(LABELS, plan.labels[t], strict=True) if on],
        })
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
    index = {
        "note": "Synthetic capsule endoscopy frames made by training.synthetic; not real patient data.",
        "command": "python -m training.examples --out demo/examples",
        "seed": seed,
        "frames": entries,
        "clip": {"video": "clip.mp4", "fps": CLIP_FPS, "frames": CLIP_FRAMES, "ground_truth": "clip_ground_truth.json"},
        "mask_values": "0 = background, k = 1 + index of the lesion label in the 17-label vocabulary",
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
