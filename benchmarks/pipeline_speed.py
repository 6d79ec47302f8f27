"""End-to-end frames/s of the `diffclip predict` pipeline on a synthetic frame folder against the model
alone on the same frames (preprocessed in memory), alternating repeats; headline: the median of the
back-to-back ratios.

    python benchmarks/pipeline_speed.py [--checkpoint demo/weights/diff] [--frames 512] [--repeats 9]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import alternate_runs, frame_folder, model_alone_fps, pipeline_fps  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="demo/weights/diff")
    parser.add_argument("--frames", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    from diffclip.inference import Predictor

    folder = frame_folder(Path(args.workdir or tempfile.mkdtemp(prefix="diffclip-bench-")), args.frames)
    predictor = Predictor(args.checkpoint)
    runs = alternate_runs({"model": lambda: model_alone_fps(predictor, folder, args.frames, 1),
                           "pipeline": lambda: pipeline_fps(predictor, folder, args.frames, 1)}, args.repeats)
    # Each pipeline run against the model run just before it: this shared machine's slow drifts (other
    # tenants, clock changes) cancel within a pair but not between medians taken minutes apart.
    ratios = np.asarray(runs["pipeline"]) / np.asarray(runs["model"])
    print(f"{args.frames} frames on {predictor.device}, {args.repeats} alternating runs: model alone median "
          f"{np.median(runs['model']):.1f} frames/s, pipeline {np.median(runs['pipeline']):.1f} frames/s; "
          f"pipeline / model, median of back-to-back ratios {np.median(ratios):.3f} "
          f"(range {ratios.min():.3f}-{ratios.max():.3f}; target >= 0.9)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
