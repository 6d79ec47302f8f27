"""bf16 autocast against fp32 on this CPU: how far each bundled model's probabilities move (standard and
differential side by side, on the eight examples and the 200 held-out frames of demo/heldout), and the time
ratio of the ViT-B/16 differential classifier at batch 32 (alternating repeats, medians).

    python benchmarks/cpu_bf16.py [--repeats 5] [--json docs/cpu-bf16.json] [--study runs/noise-study]

``--study`` also measures every run of the look-alike noise study (``python -m training.noise_study``, 8 seeds of
each variant; its runs are not committed, the figures are): is the bundled pair's ratio the variant's or its seed's?

`diffclip predict` turns bf16 on by default where the CPU has AMX or AVX512-BF16 (`--precision fp32` turns it
off). bf16 autocast also runs, emulated and slowly, on any x86 CPU: the probability part holds everywhere,
the timing only means something where ``CPU fast bf16`` says True.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from diffclip.atomic import write_json  # noqa: E402
from diffclip.device import cpu_has_fast_bf16, full_precision  # noqa: E402
from diffclip.factory import build_model  # noqa: E402
from diffclip.inference import Predictor  # noqa: E402


def frames() -> list[Path]:
    """The bundled examples and held-out frames (no masks, no distractor layers)."""
    found = sorted((REPO / "demo" / "examples" / "frames").glob("*.png"))
    found += sorted((REPO / "demo" / "heldout").glob("*/frame_??????.PNG"))
    return [p for p in found if "_mask" not in p.name and "_distractors" not in p.name]


def fp32_and_bf16(path: Path, images: list[Path]) -> tuple[dict, dict]:
    """One checkpoint's predictors and batch outputs on ``images``, in fp32 and in bf16, keyed by precision."""
    runs = {p: Predictor(path, device="cpu", precision=p) for p in ("fp32", "bf16")}
    return runs, {p: runs[p].run(runs[p].crops(images)) for p in runs}


def probability_shift(path: Path, images: list[Path]) -> dict:
    """Largest and mean |p_bf16 - p_fp32| of one checkpoint, and the part that rounding the pooled feature
    alone to bf16 would cause (the head's sensitivity, whatever the trunk does)."""
    runs, out = fp32_and_bf16(path, images)
    d = np.abs(out["bf16"].probs - out["fp32"].probs)
    model = runs["fp32"].model
    with torch.inference_mode(), full_precision(torch.empty(0)):
        feats = torch.from_numpy(out["fp32"].features)
        rounded = torch.sigmoid(model.head(feats.bfloat16().float())).numpy()
    head_only = np.abs(rounded - out["fp32"].probs)
    jittered = rounding_sized_jitter(runs["fp32"], images, out["fp32"].probs)
    return {"frames": len(images), "max": float(d.max()), "mean": float(d.mean()),
            "p99": float(np.quantile(d, 0.99)), "feature_rounding_alone_max": float(head_only.max()),
            "feature_rounding_alone_mean": float(head_only.mean()),
            "fp32_jitter_max": float(jittered.max()), "fp32_jitter_mean": float(jittered.mean())}


def rounding_sized_jitter(run: Predictor, images: list[Path], reference: np.ndarray, seed: int = 0) -> np.ndarray:
    """|p - p_fp32| when every linear and convolution input of the trunk is multiplied by 1 + u, u uniform
    in +-2^-9 (bf16's relative rounding), all in fp32: the model's own sensitivity to bf16-sized errors, with
    no bf16 kernel involved (if diff moves much further than vanilla here too, no kernel change can close
    the gap)."""
    generator = torch.Generator().manual_seed(seed)

    def jitter(module: torch.nn.Module, args: tuple) -> tuple:
        x = args[0]
        return (x * (1 + (torch.rand(x.shape, generator=generator) * 2 - 1) * 2.0**-9),) + args[1:]

    hooks = [m.register_forward_pre_hook(jitter) for m in run.model.backbone.trunk.modules()
             if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    try:
        return np.abs(run.run(run.crops(images)).probs - reference)
    finally:
        for hook in hooks:
            hook.remove()


def study_shifts(folder: Path, images: list[Path]) -> dict:
    """Largest and mean |p_bf16 - p_fp32| of every ``<variant>-seed<k>/best`` under ``folder``, by variant, with
    each variant's median and range over its seeds."""
    runs: dict[str, dict[str, dict]] = {}
    for best in sorted(folder.glob("*-seed*/best")):
        variant, seed = best.parent.name.rsplit("-seed", 1)
        _, out = fp32_and_bf16(best, images)
        d = np.abs(out["bf16"].probs - out["fp32"].probs)
        runs.setdefault(variant, {})[seed] = {"max": float(d.max()), "mean": float(d.mean())}
        print(f"  {variant:8s} seed {seed}: max {d.max():.4f}, mean {d.mean():.5f}", flush=True)
    summary = {}
    for variant, seeds in runs.items():
        worst = [r["max"] for r in seeds.values()]
        summary[variant] = {"seeds": seeds, "median_max": float(np.median(worst)), "min_max": min(worst),
                            "max_max": max(worst), "median_mean": float(np.median([r["mean"] for r in seeds.values()]))}
    return summary


def timing(backbone: str, batch: int, repeats: int) -> dict:
    """fp32 and bf16 median times of the randomly initialised differential classifier, alternating."""
    torch.manual_seed(0)
    model = build_model(backbone, "diff").eval()
    x = torch.randn(batch, 3, 224, 224)

    def run(bf16: bool) -> float:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            start = time.perf_counter()
            model(x)
            return time.perf_counter() - start

    run(False), run(True)
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(repeats):
        for bf16 in (False, True):
            times[bf16].append(run(bf16))
    fp32, bf16 = statistics.median(times[False]), statistics.median(times[True])
    return {"backbone": backbone, "batch": batch, "fp32_ms": fp32 * 1000, "bf16_ms": bf16 * 1000,
            "speed_up": fp32 / bf16}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--backbone", default="biomedclip")
    parser.add_argument("--no-timing", action="store_true", help="only the probability part")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--study", help="also every run of the noise study in this folder (e.g. runs/noise-study)")
    args = parser.parse_args()
    images = frames()
    result = {"command": "python benchmarks/cpu_bf16.py" + (f" --study {args.study}" if args.study else ""), "cpu_fast_bf16": cpu_has_fast_bf16(),
              "threads": torch.get_num_threads(), "models": {}}
    print(f"CPU fast bf16 (AMX/AVX512-BF16): {cpu_has_fast_bf16()}; {torch.get_num_threads()} threads")
    for name in ("vanilla", "diff"):
        r = result["models"][name] = probability_shift(REPO / "demo" / "weights" / name, images)
        print(f"{name:8s} on {r['frames']} frames: max |p_bf16 - p_fp32| {r['max']:.4f} (p99 {r['p99']:.4f}, mean "
              f"{r['mean']:.5f}); the pooled feature rounded to bf16 alone: max {r['feature_rounding_alone_max']:.4f}; "
              f"fp32 with bf16-sized jitter: max {r['fp32_jitter_max']:.4f} (mean {r['fp32_jitter_mean']:.5f})")
    ratio = result["models"]["diff"]["max"] / result["models"]["vanilla"]["max"]
    result["diff_over_vanilla_max"] = ratio
    jitter = result["models"]["diff"]["fp32_jitter_max"] / result["models"]["vanilla"]["fp32_jitter_max"]
    result["diff_over_vanilla_fp32_jitter_max"] = jitter
    print(f"diff / vanilla, largest difference: {ratio:.2f}x (target <= 2x); both <= 0.01: "
          f"{max(r['max'] for r in result['models'].values()) <= 0.01}; the same ratio in fp32 with bf16-sized jitter: "
          f"{jitter:.2f}x")
    if args.study:
        study = result["study"] = {"folder": Path(args.study).name, "variants": study_shifts(Path(args.study), images)}
        for variant, v in study["variants"].items():
            print(f"{variant:8s} over {len(v['seeds'])} seeds: worst change median {v['median_max']:.4f} "
                  f"(range {v['min_max']:.4f}-{v['max_max']:.4f}), mean change median {v['median_mean']:.5f}")
        if {"diff", "vanilla"} <= set(study["variants"]):
            v = study["variants"]
            study["diff_over_vanilla_median_max"] = v["diff"]["median_max"] / v["vanilla"]["median_max"]
            study["diff_over_vanilla_median_mean"] = v["diff"]["median_mean"] / v["vanilla"]["median_mean"]
            print(f"diff / vanilla, medians over the seeds: worst change {study['diff_over_vanilla_median_max']:.2f}x, "
                  f"mean change {study['diff_over_vanilla_median_mean']:.2f}x")
    if not args.no_timing:
        t = result["timing"] = timing(args.backbone, args.batch, args.repeats)
        print(f"{args.backbone} diff batch {args.batch}: fp32 {t['fp32_ms']:.0f} ms, bf16 {t['bf16_ms']:.0f} ms, "
              f"speed-up {t['speed_up']:.2f}x (target >= 1.3x on AMX)")
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
