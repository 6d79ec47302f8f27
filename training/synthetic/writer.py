"""Writing synthetic videos in Galar's on-disk format, in parallel, with ground truth and MP4s."""

from __future__ import annotations

import csv
import io
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
from tqdm.auto import tqdm

from diffclip.atomic import atomic_path, write_json
from diffclip.distractors import CODES
from diffclip.events import events_document, label_set_events
from diffclip.labels import GALAR_EXTRA_LABELS, LABELS, LESIONS, SECTIONS
from diffclip.mp4 import write_mp4 as write_rgb_mp4

from .plan import SynthConfig, VideoPlan, plan_video
from .render import render_frame


def frame_name(number: int) -> str:
    return f"frame_{number:06d}.PNG"


def mask_name(number: int) -> str:
    return f"frame_{number:06d}_mask.png"


def distractors_name(number: int) -> str:
    return f"frame_{number:06d}_distractors.png"


def _render_chunk(plan: VideoPlan, root: str, start: int, stop: int) -> int:
    folder = Path(root) / plan.video_id
    png = [cv2.IMWRITE_PNG_COMPRESSION, 1]
    for t in range(start, stop):
        rgb, mask, distractors = render_frame(plan, t)
        number = int(plan.frame_numbers[t])
        cv2.imwrite(str(folder / frame_name(number)), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), png)
        cv2.imwrite(str(folder / mask_name(number)), mask, png)
        cv2.imwrite(str(folder / distractors_name(number)), distractors, png)
    return stop - start


def write_labels_csv(plan: VideoPlan, path: Path) -> None:
    """Galar's label CSV: index, the 17 labels, the extra labels, section, frame."""
    extras = plan.extra_columns()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["index", *LABELS, *GALAR_EXTRA_LABELS, "section", "frame"])
    for t, number in enumerate(plan.frame_numbers):
        writer.writerow([t, *plan.labels[t].astype(int), *(int(extras[e][t]) for e in GALAR_EXTRA_LABELS),
                         SECTIONS[plan.sections[t]], int(number)])
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")


def write_mp4(frames: list[Path], path: Path, fps: float) -> Path:
    """Encode PNG frames as browser-playable H.264 with the project's one MP4 writer."""
    rgb = (cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in frames)
    return write_rgb_mp4(rgb, path, fps, crf=20, comment="synthetic capsule video (DiffCLIP-VCE)")


@dataclass
class SynthResult:
    root: Path
    plans: list[VideoPlan]
    ground_truth: Path
    videos: list[Path]


def generate(
    out: str | Path,
    videos: int = 2,
    frames: int = SynthConfig.frames,
    seed: int = SynthConfig.seed,
    size: int = SynthConfig.size,
    rare_share: float = SynthConfig.rare_share,
    mp4: bool = False,
    fps: float = SynthConfig.fps,
    workers: int | None = None,
    progress: bool = True,
    first_id: int = 1,
    lookalikes: float = SynthConfig.lookalikes,
) -> SynthResult:
    """Write ``videos`` synthetic videos of ``frames`` frames to ``out`` in Galar's format."""
    if videos < 1:
        raise ValueError(f"videos must be >= 1, got {videos}")
    config = SynthConfig(frames=frames, size=size, seed=seed, rare_share=rare_share, fps=fps, lookalikes=lookalikes)
    root = Path(out)
    (root / "Labels").mkdir(parents=True, exist_ok=True)
    plans = [plan_video(str(first_id + i), config, index=i) for i in range(videos)]
    chunk = 50
    tasks = [(p, s, min(s + chunk, frames)) for p in plans for s in range(0, frames, chunk)]
    for plan in plans:
        (root / plan.video_id).mkdir(exist_ok=True)
        write_labels_csv(plan, root / "Labels" / f"{plan.video_id}.csv")
    workers = workers or min(os.cpu_count() or 1, len(tasks))
    bar = tqdm(total=videos * frames, unit="frame", desc="synth", disable=not progress)
    if workers <= 1:
        for plan, s, e in tasks:
            bar.update(_render_chunk(plan, str(root), s, e))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_render_chunk, plan, str(root), s, e) for plan, s, e in tasks]
            for fut in futures:
                bar.update(fut.result())
    bar.close()
    truth = events_document({p.video_id: label_set_events(p.labels, p.frame_numbers) for p in plans})
    gt_path = write_json(root / "ground_truth.json", truth, indent=1)
    mp4s = []
    if mp4:
        for plan in tqdm(plans, desc="mp4", unit="video", disable=not progress):
            files = [root / plan.video_id / frame_name(int(n)) for n in plan.frame_numbers]
            mp4s.append(write_mp4(files, root / "videos" / f"{plan.video_id}.mp4", fps))
    summary = {
        "generator": "training.synthetic",
        "config": asdict(config),
        "videos": {p.video_id: {lab: int(p.labels[:, i].sum()) for i, lab in enumerate(LABELS)} for p in plans},
        "mask_values": {str(i + 1): lab for i, lab in enumerate(LABELS) if lab in LESIONS},
        "distractor_values": {str(code): name for code, name in CODES.items()},
        "distractor_frames": {p.video_id: round(float(p.distractor_frames().mean()), 4) for p in plans},
    }
    write_json(root / "synth.json", summary)
    return SynthResult(root, plans, gt_path, mp4s)
