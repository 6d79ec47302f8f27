"""Frames view latency: one frame's analysis (scores and every layer's maps, no attribution) plus the
drawing of the three overlays, with the bundled model, as the app does it. Median over repeats.

    python benchmarks/app_latency.py [--checkpoint demo/weights/diff] [--repeats 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demo import frames_view  # noqa: E402
from demo.resources import DEFAULT_CHECKPOINT, examples  # noqa: E402
from diffclip.inference import Predictor  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    predictor = Predictor(args.checkpoint)
    frames = [str(e.image) for e in examples()]
    frames_view.analyse_frames(predictor, frames[:1])  # warm-up
    times = []
    for i in range(args.repeats):
        start = time.perf_counter()
        state = frames_view.analyse_frames(predictor, [frames[i % len(frames)]])
        frames_view.scores_for(state.current)
        frames_view.attention_overlays(state.current, state.current.num_layers, "mean", 0.5)
        times.append(time.perf_counter() - start)
    med = statistics.median(times)
    print(f"frame analysis + overlays on {predictor.device}: median {med * 1000:.0f} ms over {args.repeats} "
          f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}); target < 1000 ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
