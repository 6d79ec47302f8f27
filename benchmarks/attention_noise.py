"""Attention noise, measured: the bundled standard (vanilla) and differential (diff) models on held-out
synthetic lesion frames with masks. Per method: mean share of the map inside the lesion mask, pointing
game hit rate (15 px) and mean map entropy (0 focused, 1 uniform). Whichever model wins, this is
what it measures.

    python benchmarks/attention_noise.py [--frames 80] [--seed 777] [--methods NAME ...]

Methods come from the explanation registry (default: the four in docs/demo-models.md; ig, noise_tunnel and
occlusion run the model many times per frame and take minutes).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._heldout import lesion_frames  # noqa: E402
from demo.resources import COMPARE_CHECKPOINT, DEFAULT_CHECKPOINT  # noqa: E402
from diffclip.inference import Predictor  # noqa: E402
from explain.analysis import analyse  # noqa: E402
from explain.faithfulness import entropy, mass_in_mask, pointing_game  # noqa: E402
from explain.methods import EXPLAINERS, explain  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=80)
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--models", nargs=2, default=[str(COMPARE_CHECKPOINT), str(DEFAULT_CHECKPOINT)])
    parser.add_argument("--methods", nargs="+", default=["attention", "rollout", "gradattn", "gradcam"],
                        choices=list(EXPLAINERS), help="registered methods (default: the four measured in docs/)")
    args = parser.parse_args()
    methods = {EXPLAINERS[m].title: m for m in args.methods}
    torch.manual_seed(0)
    start = time.time()
    frames = lesion_frames(args.frames, args.seed)
    results = {}
    for path in args.models:
        predictor = Predictor(path, precision="fp32")
        name = predictor.model.config.attention
        rows = {m: {"mask": [], "hit": [], "entropy": []} for m in methods}
        for rgb, mask, label in frames:
            analysis = analyse(predictor, rgb)
            for title, method in methods.items():
                m = explain(analysis, predictor, method, label).map
                rows[title]["mask"].append(mass_in_mask(m, mask))
                rows[title]["hit"].append(pointing_game(m, mask, tolerance=15))
                rows[title]["entropy"].append(entropy(m))
        results[name] = rows
    names = list(results)
    print(f"{len(frames)} held-out synthetic lesion frames (seed {args.seed}); mask share = mean share of the "
          f"positive map inside the lesion mask; hit = pointing game (15 px); entropy: 0 focused, 1 uniform")
    header = f"{'method':<30}" + "".join(f"{n + ' ' + k:>22}" for k in ("mask share", "hit rate", "entropy")
                                         for n in names)
    print(header)
    for title in methods:
        cells = []
        for key in ("mask", "hit", "entropy"):
            for n in names:
                cells.append(f"{np.nanmean(results[n][title][key]):>22.3f}")
        print(f"{title:<30}" + "".join(cells))
    mean_mask = float(np.mean([m.mean() for _, m, _ in frames]))
    print(f"(a uniform map would put {mean_mask:.3f} of its mass inside the masks) -- {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
