"""End-to-end frames/s of the `diffclip predict` pipeline on a synthetic frame folder against the model
alone on the same frames (preprocessed in memory), alternating repeats, medians.

    python benchmarks/pipeline_speed.py [--checkpoint demo/weights/diff] [--frames 512] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import alternate, frame_folder, model_alone_fps, pipeline_fps  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="demo/weights/diff")
    parser.add_argument("--frames", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    from diffclip.inference import Predictor

    folder = frame_folder(Path(args.workdir or tempfile.mkdtemp(prefix="diffclip-bench-")), args.frames)
    predictor = Predictor(args.checkpoint)
    fps = alternate({"model": lambda: model_alone_fps(predictor, folder, args.frames, 1),
                     "pipeline": lambda: pipeline_fps(predictor, folder, args.frames, 1)}, args.repeats)
    print(f"{args.frames} frames on {predictor.device}, median of {args.repeats} alternating runs: model alone "
          f"{fps['model']:.1f} frames/s, pipeline {fps['pipeline']:.1f} frames/s, ratio "
          f"{fps['pipeline'] / fps['model']:.3f} (target >= 0.9)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
