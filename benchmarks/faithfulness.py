"""Faithfulness of every registered explanation method, for the bundled models (diff, vanilla, diff_v2), on
held-out synthetic lesion frames with masks (a seed not used in training).

    python benchmarks/faithfulness.py [--frames 100] [--seed 777] [--json OUT]

Per frame and method (explain.checks.faithfulness, as the web UI computes it beside each map): the share
of the map's positive mass inside the lesion mask, the pointing game (peak within 15 px of the mask),
deletion and insertion AUC of the label's probability (10 steps, black baseline), and the share of the
map outside the circular field of view. The label explained on each frame is the frame's lesion label:
the lesion with the most pixels in the frame, whose pixels form the mask. Means over frames with 95%
intervals from a seeded percentile bootstrap over frames (2000 resamples, seed 0, NaN-aware means).
Integrated Gradients, NoiseTunnel and Occlusion run with cheaper settings than the UI's (see
--ig-cap, --nt-samples, --nt-steps, --window) so that the run fits in about half an hour on two cores;
the JSON records them and IG's convergence. ``--ig-examples`` (default on) also runs IG with the UI's
settings on every bundled example frame (demo/weights/diff, the example's "shows" label).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
import warnings
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._heldout import lesion_frames  # noqa: E402
from diffclip.fov import fov_mask  # noqa: E402
from diffclip.inference import Predictor  # noqa: E402
from explain.analysis import FrameAnalysis, analyse  # noqa: E402
from explain.checks import faithfulness  # noqa: E402
from explain.methods import EXPLAINERS, Explanation, explain  # noqa: E402
from explain.methods.integrated_gradients import DEFAULT_CAP, TOLERANCE, ig_attribution  # noqa: E402

METRICS = ("mask_share", "pointing", "deletion_auc", "insertion_auc", "outside_fov_share")
LABEL_RULE = ("each frame's lesion label: the lesion with the most pixels in the frame; the mask is that "
              "lesion's pixels")


@dataclass(frozen=True)
class Settings:
    ig_cap: int = 32  # the most points on the path (adaptive: fewer once the attributions add up)
    nt_samples: int = 2
    nt_steps: int = 8
    window: int = 56
    curve_steps: int = 10


def explain_with(analysis: FrameAnalysis, predictor: Predictor, method: str, label: str, s: Settings) -> Explanation:
    """The registered method's map, with the benchmark's settings (IG: its own step cap)."""
    if method != "ig":
        return explain(analysis, predictor, method, label, steps=s.nt_steps, samples=s.nt_samples, window=s.window)
    j = analysis.label_index(label)
    with predictor.lock.shared(), torch.enable_grad():  # as explain() holds it for IG
        return ig_attribution(predictor.model, analysis.x.to(predictor.device), j, s.ig_cap)


def evaluate_frame(predictor: Predictor, rgb: np.ndarray, mask: np.ndarray, label: str, methods: list[str],
                   s: Settings) -> dict[str, dict[str, float]]:
    """Per method: the METRICS of its map of ``label`` on one frame, its seconds and, for IG, its convergence."""
    analysis = analyse(predictor, rgb)
    out = {}
    for method in methods:
        start = time.perf_counter()
        att = explain_with(analysis, predictor, method, label, s)
        d = faithfulness(analysis, predictor, att, mask=mask, steps=s.curve_steps)
        row = {k: float(d[k]) for k in METRICS}
        row["seconds"] = time.perf_counter() - start
        if method == "ig":
            row["relative_delta"], row["ig_steps"] = att.meta["relative_delta"], att.meta["steps"]
        out[method] = row
    return out


def bootstrap_ci(values, resamples: int = 2000, seed: int = 0) -> list[float]:
    """95% percentile bootstrap interval of the NaN-aware mean over frames (seeded)."""
    v = np.asarray(values, np.float64)
    idx = np.random.default_rng(seed).integers(0, len(v), (resamples, len(v)))
    with warnings.catch_warnings():  # a resample of only NaN frames has no mean: it is left out
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(v[idx], axis=1)
    lo, hi = np.nanpercentile(means, [2.5, 97.5])
    return [float(lo), float(hi)]


def summarise(rows: list[dict[str, float]]) -> dict:
    """Means over frames of one model and method, with bootstrap intervals."""
    out = {k: float(np.nanmean([r[k] for r in rows])) for k in METRICS}
    out["ci"] = {k: bootstrap_ci([r[k] for r in rows]) for k in METRICS}
    out["seconds_per_frame"] = float(np.mean([r["seconds"] for r in rows]))
    if "relative_delta" in rows[0]:
        rel = np.array([r["relative_delta"] for r in rows])
        out["relative_delta_mean"] = float(np.mean(rel))
        out["converged_share"] = float(np.mean(rel < TOLERANCE))
        out["ig_steps_mean"] = float(np.mean([r["ig_steps"] for r in rows]))
    return out


def ig_examples(checkpoint: Path) -> list[dict]:
    """IG with the UI's settings (32 steps, doubled up to the cap) on every bundled example, label = its
    "shows" label: the relative delta reached and the steps used."""
    root = REPO / "demo" / "examples"
    predictor = Predictor(checkpoint, device="cpu", precision="fp32")
    out = []
    for ex in json.loads((root / "examples.json").read_text())["frames"]:
        analysis = analyse(predictor, root / ex["image"])
        start = time.perf_counter()
        att = explain(analysis, predictor, "ig", ex["shows"])
        out.append({"image": ex["image"], "label": ex["shows"], "relative_delta": att.meta["relative_delta"],
                    "steps": att.meta["steps"], "seconds": time.perf_counter() - start})
        print(f"  IG on {ex['image']} ({ex['shows']}): relative delta {att.meta['relative_delta']:.2%} at "
              f"{att.meta['steps']} steps", flush=True)
    return out


def markdown_table(result: dict) -> str:
    """One row per model and method: means [95% interval]; the last column marks mask share >= 2x uniform."""
    u = result["uniform_mask_share"]
    lines = ["| model | method | mask share | pointing | deletion AUC (lower better) | insertion AUC (higher better) "
             "| outside FOV | >= 2x uniform |", "|---|---|---:|---:|---:|---:|---:|:---:|"]
    for model, methods in result["models"].items():
        for method, r in methods.items():
            cells = [f"{r[k]:.3f} [{r['ci'][k][0]:.3f}, {r['ci'][k][1]:.3f}]" for k in METRICS]
            lines.append(f"| {model} | {method} | " + " | ".join(cells) + f" | {'yes' if r['mask_share'] >= 2 * u else 'no'} |")
    return "\n".join(lines)


_PREDICTORS: dict[Path, Predictor] = {}


class _Inline:
    """An executor that runs each task at once, in this process (one worker: nothing to fork)."""

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        future.set_result(fn(*args))
        return future


def _chunk(path: Path, chunk: list, methods: list[str], s: Settings, threads: int | None) -> tuple[Path, list[dict]]:
    """Worker task: one model's rows on a few frames (the model is loaded once per worker)."""
    if threads:
        torch.set_num_threads(threads)
    if path not in _PREDICTORS:
        _PREDICTORS[path] = Predictor(path, device="cpu", precision="fp32")  # the same numbers on any CPU
    return path, [evaluate_frame(_PREDICTORS[path], rgb, mask, label, methods, s) for rgb, mask, label in chunk]


def _ig_examples_task(path: Path, threads: int | None) -> list[dict]:
    if threads:
        torch.set_num_threads(threads)
    return ig_examples(path)


def result_dict(data: list, seed: int, s: Settings, rows: dict[Path, list[dict]]) -> dict:
    """The benchmark's result from per-model, per-frame rows (as many frames as done so far)."""
    out = {"frames": min(len(r) for r in rows.values()), "seed": seed, "label": LABEL_RULE,
           "uniform_mask_share": float(np.mean([m.mean() for _, m, _ in data])),
           "uniform_outside_fov_share": float(np.mean([1 - fov_mask(rgb).mean() for rgb, _, _ in data])),
           "settings": s.__dict__, "models": {}}
    for path, frames in rows.items():
        if frames:
            out["models"][path.name] = {m: summarise([f[m] for f in frames]) for m in frames[0]}
    return out


def run(frames: int, seed: int, models: list[Path], methods: list[str], s: Settings, workers: int = 1,
        with_ig_examples: bool = False, save=None, log=print) -> dict:
    """The benchmark's result dict. Work goes in chunks of 10 frames per model, alternating models, to
    ``workers`` processes (spawned: a forked torch may hang) of 2 // workers threads (at least 1), or in this
    process when ``workers`` is 1; ``save(result)`` is called as chunks come
    in (a partial result says ``"partial": true``)."""
    data = lesion_frames(frames, seed) if frames else []
    threads = max(1, 2 // workers) if workers > 1 else None
    rows: dict[Path, list[dict]] = {p: [] for p in models}
    done: dict[Path, dict[int, list]] = {p: {} for p in models}
    start = time.time()
    pool_of = (lambda: ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))) if workers > 1 \
        else _Inline
    with pool_of() as pool:
        examples = pool.submit(_ig_examples_task, models[0], threads) if with_ig_examples else None
        futures = {}
        for i in range(0, len(data), 10):
            for p in models:
                futures[pool.submit(_chunk, p, data[i:i + 10], methods, s, threads)] = i
        for fut in as_completed(futures):
            path, chunk_rows = fut.result()
            done[path][futures[fut]] = chunk_rows
            for p in models:  # the chunks done from the first on, so that a partial result is a prefix of the frames
                n = 0
                while n in done[p]:
                    n += 10
                rows[p] = [r for i in range(0, n, 10) for r in done[p][i]]
            log(f"{path.name}: {len(done[path]) * 10} frame(s) done, {time.time() - start:.0f} s")
            if save is not None and data:
                save({**result_dict(data, seed, s, rows), "partial": True})
        result = result_dict(data, seed, s, rows) if data else {"frames": 0, "models": {}}
        if examples is not None:
            result["ig_examples"] = examples.result()
    for model, per_method in result["models"].items():
        for m, r in per_method.items():
            log(f"{model} {m}: mask share {r['mask_share']:.3f}, pointing {r['pointing']:.2f}, deletion "
                f"{r['deletion_auc']:.3f}, insertion {r['insertion_auc']:.3f}, outside FOV {r['outside_fov_share']:.3f} "
                f"({r['seconds_per_frame']:.2f} s/frame)")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--seed", type=int, default=777, help="synthetic seed (training uses 0, the test set 4242)")
    parser.add_argument("--models", nargs="+", type=Path,
                        default=[REPO / "demo" / "weights" / v for v in ("diff", "vanilla", "diff_v2")])
    parser.add_argument("--methods", nargs="+", default=list(EXPLAINERS), choices=list(EXPLAINERS))
    parser.add_argument("--ig-cap", type=int, default=Settings.ig_cap)
    parser.add_argument("--nt-samples", type=int, default=Settings.nt_samples)
    parser.add_argument("--nt-steps", type=int, default=Settings.nt_steps)
    parser.add_argument("--window", type=int, default=Settings.window, help="occlusion window, pixels")
    parser.add_argument("--curve-steps", type=int, default=Settings.curve_steps)
    parser.add_argument("--ig-examples", action=argparse.BooleanOptionalAction, default=True,
                        help=f"IG with the UI's settings (cap {DEFAULT_CAP}) on the bundled examples")
    parser.add_argument("--workers", type=int, default=1, help="processes (2 on two cores: one thread each)")
    parser.add_argument("--json", type=Path, default=None, help="write the result here (partial results as they come)")
    args = parser.parse_args(argv)
    s = Settings(args.ig_cap, args.nt_samples, args.nt_steps, args.window, args.curve_steps)
    torch.manual_seed(0)
    start = time.time()
    command = " ".join(["python benchmarks/faithfulness.py", *(argv if argv is not None else sys.argv[1:])])

    def save(result: dict) -> None:
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({**result, "command": command}, indent=1) + "\n")

    result = run(args.frames, args.seed, args.models, args.methods, s, args.workers, args.ig_examples, save,
                 log=lambda m: print(m, flush=True))
    result["seconds"] = round(time.time() - start)
    save(result)
    if result["models"]:
        print(f"\n{result['frames']} held-out synthetic lesion frames (seed {args.seed}); label: {LABEL_RULE}; a "
              f"uniform map puts {result['uniform_mask_share']:.3f} of its mass inside the masks\n")
        print(markdown_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
