"""bf16 autocast against fp32 on this CPU for the ViT-B/16 differential classifier at batch 32: time
ratio (alternating repeats, medians) and the largest probability difference.

    python benchmarks/cpu_bf16.py [--repeats 5]

`diffclip predict` turns bf16 on by default where the CPU has AMX or AVX512-BF16 (`--precision fp32` turns it off).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diffclip.device import cpu_has_fast_bf16  # noqa: E402
from diffclip.factory import build_model  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--backbone", default="biomedclip")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = build_model(args.backbone, "diff").eval()
    x = torch.randn(args.batch, 3, 224, 224)

    def run(bf16: bool):
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            start = time.perf_counter()
            p = torch.sigmoid(model(x).float())
            return time.perf_counter() - start, p

    run(False), run(True)
    times = {False: [], True: []}
    probs = {}
    for _ in range(args.repeats):
        for bf16 in (False, True):
            t, p = run(bf16)
            times[bf16].append(t)
            probs[bf16] = p
    fp32, bf16 = statistics.median(times[False]), statistics.median(times[True])
    diff = (probs[True] - probs[False]).abs().max().item()
    print(f"CPU fast bf16 (AMX/AVX512-BF16): {cpu_has_fast_bf16()}; {torch.get_num_threads()} threads")
    print(f"{args.backbone} diff batch {args.batch}: fp32 {fp32 * 1000:.0f} ms, bf16 {bf16 * 1000:.0f} ms, "
          f"speed-up {fp32 / bf16:.2f}x (target >= 1.3x on AMX), max |p_bf16 - p_fp32| = {diff:.4f} (target <= 0.01)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
