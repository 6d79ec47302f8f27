"""Shared helpers for the benchmark scripts (run from the repository root)."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import cv2

from training.synthetic import SynthConfig, frame_name, plan_video, render_frame


def frame_folder(root: Path, frames: int, unique: int = 64, seed: int = 5) -> Path:
    """A Galar-style frame folder of ``frames`` frames: ``unique`` rendered synthetic frames repeated
    through hard links, so that a 20,000-frame folder is cheap to make and decodes like a real one."""
    folder = root / f"video_{frames}"
    if folder.is_dir() and len(list(folder.iterdir())) == frames:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    plan = plan_video("bench", SynthConfig(frames=max(unique, 15), seed=seed, rare_share=0.05))
    sources = []
    for t in range(unique):
        path = root / f"unique_{seed}_{t}.PNG"
        if not path.exists():
            cv2.imwrite(str(path), cv2.cvtColor(render_frame(plan, t)[0], cv2.COLOR_RGB2BGR))
        sources.append(path)
    for i in range(frames):
        dst = folder / frame_name(i)
        if not dst.exists():
            os.link(sources[i % unique], dst)
    return folder


def median_time(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def model_alone_fps(predictor, folder: Path, frames: int, repeats: int = 3) -> float:
    """Frames/s of the model on the same frames, preprocessed in memory beforehand."""
    paths = sorted(folder.iterdir())[:frames]
    crops = predictor.crops(paths)  # decoded beforehand: the model's route alone is timed
    bs = predictor.batch_size

    def run():
        for s in range(0, len(crops), bs):
            predictor.run(crops[s : s + bs])

    return len(crops) / median_time(run, repeats)


def pipeline_fps(predictor, folder: Path, frames: int, repeats: int = 3) -> float:
    """Frames/s of the whole pipeline (listing, decoding, preprocessing, model, post-processing)."""
    from diffclip.pipeline import predict_sources
    from diffclip.video import Sampling, folder_source

    source = folder_source(folder, Sampling(max_frames=frames))
    return frames / median_time(lambda: predict_sources(predictor, [source], progress=False), repeats)


def alternate_runs(fns: dict, repeats: int, warmup: int = 0) -> dict[str, list[float]]:
    """Run each callable ``repeats`` times, alternating between them, and return every value. Rounds
    alternate their order (A B, then B A, ...), so a drift during a round favours neither; ``warmup``
    rounds run first and are dropped."""
    values: dict[str, list[float]] = {k: [] for k in fns}
    for i in range(warmup + repeats):
        for k in list(fns) if i % 2 == 0 else list(fns)[::-1]:
            value = fns[k]()
            if i >= warmup:
                values[k].append(value)
    return values

