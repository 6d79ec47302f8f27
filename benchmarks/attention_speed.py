"""Differential attention against standard attention: time of a backbone forward pass per variant,
fast path and maps path, alternating repeats, medians, and the ratio to vanilla as the headline.

    python benchmarks/attention_speed.py                       # the headline: ViT-B/16, batch 32, fp32, fast
    python benchmarks/attention_speed.py --full                # every backbone, path, dtype and batch size
    python benchmarks/attention_speed.py --backbones tiny --batches 1 32 --dtypes fp32 bf16 --paths fast maps
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diffclip.attention import ATTENTION_VARIANTS, record_attention  # noqa: E402
from diffclip.backbones import build_backbone  # noqa: E402
from diffclip.device import cpu_has_fast_bf16  # noqa: E402


def make_models(backbone: str) -> dict[str, torch.nn.Module]:
    from diffclip.attention import convert_attention

    torch.manual_seed(0)
    base = build_backbone(backbone).eval()
    models = {}
    for variant in ATTENTION_VARIANTS:
        tower = build_backbone(backbone).eval()
        tower.load_state_dict(base.state_dict())
        convert_attention(tower.trunk, variant)
        models[variant] = tower
    return models


def time_once(model, x, path: str, dtype: str) -> float:
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if dtype == "bf16" else torch.autocast("cpu", enabled=False)
    start = time.perf_counter()
    with torch.inference_mode(), ctx:
        if path == "maps":
            with record_attention():
                model(x)
        else:
            model(x)
    return time.perf_counter() - start


def bench(backbone: str, batch: int, path: str, dtype: str, repeats: int, warmup: int = 1) -> dict[str, float]:
    models = make_models(backbone)
    size = models["vanilla"].trunk.patch_embed.img_size[0]
    x = torch.randn(batch, 3, size, size)
    for m in models.values():
        for _ in range(warmup):
            time_once(m, x, path, dtype)
    times = {v: [] for v in models}
    for _ in range(repeats):  # alternate variants within each repeat so drifts hit all of them alike
        for v, m in models.items():
            times[v].append(time_once(m, x, path, dtype))
    return {v: statistics.median(t) for v, t in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=["biomedclip"], choices=["biomedclip", "tiny"])
    parser.add_argument("--batches", nargs="+", type=int, default=[32])
    parser.add_argument("--paths", nargs="+", default=["fast"], choices=["fast", "maps"])
    parser.add_argument("--dtypes", nargs="+", default=["fp32"], choices=["fp32", "bf16"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="every backbone, batch (1, 32), path and dtype")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.full:
        args.backbones, args.batches, args.paths, args.dtypes = ["biomedclip", "tiny"], [1, 32], ["fast", "maps"], \
            ["fp32", "bf16"]
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU bf16 fast path: {cpu_has_fast_bf16()}")
    print(f"{'backbone':<11}{'batch':>6} {'path':<5} {'dtype':<5} " + "".join(f"{v:>17}" for v in ATTENTION_VARIANTS))
    for backbone, batch, path, dtype in itertools.product(args.backbones, args.batches, args.paths, args.dtypes):
        t = bench(backbone, batch, path, dtype, args.repeats)
        cells = "".join(f"{t[v] * 1000:>9.1f}ms {t[v] / t['vanilla']:>5.2f}x" for v in ATTENTION_VARIANTS)
        print(f"{backbone:<11}{batch:>6} {path:<5} {dtype:<5} {cells}", flush=True)
    print("ratio = median time / vanilla's median time in the same run (target for diff, ViT-B/16 batch 32 fp32 "
          "fast: <= 1.05x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
