"""End-to-end frames/s of the `diffclip predict` pipeline on a synthetic frame folder against the model
alone on the same frames (decoded and normalised in memory beforehand); headline: the median over runs
of the back-to-back ratio pipeline / model alone, with its interquartile range and full range.

Each run interleaves the two batch by batch: after each of the pipeline's forward passes, the model
alone runs on the same batch's ready-made input and is timed; the pipeline's time is the run's wall time
less those passes. The two therefore see the same seconds of this
shared machine, whose speed drifts by 10-20% within a minute. ``--whole-runs`` also times alternating
whole runs of each (the method of earlier figures).

    python benchmarks/pipeline_speed.py [--checkpoint demo/weights/diff] [--frames 1024] [--repeats 7]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import diffclip  # noqa: E402, F401 - its CPU runtime defaults (diffclip.runtime) before torch loads
from benchmarks._common import alternate_runs, frame_folder, model_alone_fps, pipeline_fps  # noqa: E402


def interleaved_run(predictor, folder: Path, frames: int) -> tuple[float, float]:
    """(pipeline frames/s, model-alone frames/s) of one pipeline run over ``folder`` with the model alone
    timed beside each of its batches (module docstring)."""
    from diffclip.pipeline import predict_sources
    from diffclip.video import Sampling, folder_source

    inputs = predictor.crops(sorted(folder.iterdir())[:frames])
    bs, batch, model_seconds = predictor.batch_size, itertools.count(), []
    pipeline_run = predictor.run

    def model_alone(i: int) -> None:
        start = time.perf_counter()
        pipeline_run(inputs[i * bs : (i + 1) * bs])
        model_seconds.append(time.perf_counter() - start)

    def run(crops, maps=False):
        out = pipeline_run(crops, maps)
        # after, never before, the pipeline's own pass: that pass follows decoding, as it does without the
        # benchmark, and the model alone follows a forward pass, as it does in a run of its own
        model_alone(next(batch))
        return out

    predictor.run = run  # this instance only, for this run
    try:
        start = time.perf_counter()
        predict_sources(predictor, [folder_source(folder, Sampling(max_frames=frames))], progress=False)
        total = time.perf_counter() - start
    finally:
        del predictor.run
    return frames / (total - sum(model_seconds)), frames / sum(model_seconds)


def summary(ratios: np.ndarray) -> str:
    q1, q3 = np.percentile(ratios, [25, 75])
    return (f"median of back-to-back ratios {np.median(ratios):.3f} (interquartile {q1:.3f}-{q3:.3f}, "
            f"range {ratios.min():.3f}-{ratios.max():.3f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="demo/weights/diff")
    parser.add_argument("--frames", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--whole-runs", action="store_true", help="also alternate whole runs of each")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    from diffclip.inference import Predictor

    folder = frame_folder(Path(args.workdir or tempfile.mkdtemp(prefix="diffclip-bench-")), args.frames)
    predictor = Predictor(args.checkpoint)
    interleaved_run(predictor, folder, min(args.frames, 4 * predictor.batch_size))  # warm-up
    runs = np.asarray([interleaved_run(predictor, folder, args.frames) for _ in range(args.repeats)])
    print(f"{args.frames} frames on {predictor.device}, {args.repeats} runs, interleaved batch by batch: model "
          f"alone median {np.median(runs[:, 1]):.1f} frames/s, pipeline {np.median(runs[:, 0]):.1f} frames/s; "
          f"pipeline / model, {summary(runs[:, 0] / runs[:, 1])}; target >= 0.95")
    if args.whole_runs:
        whole = alternate_runs({"model": lambda: model_alone_fps(predictor, folder, args.frames, 1),
                                "pipeline": lambda: pipeline_fps(predictor, folder, args.frames, 1)},
                               args.repeats, warmup=1)
        print(f"alternating whole runs: pipeline / model, "
              f"{summary(np.asarray(whole['pipeline']) / np.asarray(whole['model']))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
