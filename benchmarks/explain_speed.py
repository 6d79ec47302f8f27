"""What each explanation method costs, in units of one forward-and-backward pass of the same frame measured in
the same run (a figure that does not depend on the machine), with its quality beside it; Integrated Gradients
and NoiseTunnel also with the earlier computation (Captum's Gauss-Legendre steps: IG doubling 32, 64, ...
until it adds up; NoiseTunnel 4 copies x 32 steps), alternating with the current one on every frame.

    python benchmarks/explain_speed.py [--models demo/weights/diff demo/weights/vanilla] [--json docs/explain-speed.json]

On the eight bundled examples, for each model and method: ``cost`` (median over the examples of the method's
seconds / one forward-and-backward's seconds), ``cost_before`` (the earlier computation's, where it differs),
``delta`` (worst relative completeness delta over the examples: IG, NoiseTunnel), ``passes`` and
``passes_before`` (points on the path, IG and NoiseTunnel), deletion and insertion AUC (10 steps, black
baseline) and, where the computation changed, the correlation of the new map with the earlier one.
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

from demo.resources import COMPARE_CHECKPOINT, DEFAULT_CHECKPOINT, examples  # noqa: E402
from diffclip.inference import Predictor  # noqa: E402
from explain.analysis import analyse  # noqa: E402
from explain.checks import faithfulness  # noqa: E402
from explain.methods import EXPLAINERS, Explanation, explain  # noqa: E402
from explain.methods.captum_tools import black_baseline  # noqa: E402
from explain.methods.integrated_gradients import converged_integrated_gradients  # noqa: E402
from explain.methods.noise_tunnel import captum_noise_tunnel  # noqa: E402


def forward_backward_seconds(model, x: torch.Tensor, label: int, repeats: int = 5) -> float:
    """Median seconds of one forward and backward pass of the frame."""
    times = []
    for _ in range(repeats):
        z = x.clone().requires_grad_(True)
        start = time.perf_counter()
        with torch.enable_grad():
            model(z)[0, label].backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def before(method: str, predictor: Predictor, x: torch.Tensor, label: int) -> tuple[np.ndarray, float, int] | None:
    """The earlier computation of ``method`` (map, relative delta, points on the path); None where unchanged."""
    model = predictor.model
    with torch.enable_grad():
        if method == "ig":
            r = converged_integrated_gradients(model, x, label, black_baseline(model, x))
            return r.attributions.sum(1)[0].numpy(), r.relative_delta, sum(
                s for s in (32, 64, 128, 256) if s <= r.steps)
        if method == "noise_tunnel":
            attr, deltas = captum_noise_tunnel(model, x, label)
            change = float(attr.sum()) - float(deltas.mean())
            return attr.sum(1)[0].detach().numpy(), abs(float(deltas.mean())) / abs(change), 4 * 32
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=[str(DEFAULT_CHECKPOINT), str(COMPARE_CHECKPOINT)])
    parser.add_argument("--methods", nargs="+", default=[m for m, e in EXPLAINERS.items() if e.listed],
                        choices=list(EXPLAINERS))
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--json", help="write the figures here (e.g. docs/explain-speed.json)")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    result = {"command": "python benchmarks/explain_speed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "precision": args.precision, "threads": torch.get_num_threads(), "examples": len(examples()),
              "models": {}}
    for path in args.models:
        predictor = Predictor(path, precision=args.precision)
        name = predictor.model.config.attention
        rows: dict[str, list[dict]] = {m: [] for m in args.methods}
        for n, ex in enumerate(examples()):
            analysis = analyse(predictor, str(ex.image))
            label = predictor.labels.index(ex.shows)
            x = analysis.x.to(predictor.device)
            unit = forward_backward_seconds(predictor.model, x, label)
            for method in args.methods:
                runs = {}
                order = ("new", "before") if n % 2 == 0 else ("before", "new")  # alternate which goes first
                for which in order:
                    start = time.perf_counter()
                    if which == "new":
                        att = explain(analysis, predictor, method, label)
                        runs["new"] = (att, time.perf_counter() - start)
                    else:
                        old = before(method, predictor, x, label)
                        runs["before"] = (old, time.perf_counter() - start)
                att, seconds = runs["new"]
                row = {"example": ex.shows, "cost": seconds / unit, "unit_seconds": unit}
                row |= {k: faithfulness(analysis, predictor, att)[k] for k in ("deletion_auc", "insertion_auc")}
                if "relative_delta" in att.meta:
                    row |= {"delta": att.meta["relative_delta"], "passes": att.meta["steps"]}
                old, old_seconds = runs["before"]
                if old is not None:
                    old_map, old_delta, old_passes = old
                    row |= {"cost_before": old_seconds / unit, "delta_before": old_delta, "passes_before": old_passes,
                            "correlation_with_before": float(np.corrcoef(old_map.ravel(), att.map.ravel())[0, 1])}
                    row |= {f"{k}_before": faithfulness(analysis, predictor, Explanation(
                        old_map, True, "", method=method, label=label))[k] for k in ("deletion_auc", "insertion_auc")}
                rows[method].append(row)
                print(f"{name} {ex.shows:<18} {method:<13} cost {row['cost']:7.1f}"
                      + (f"  before {row['cost_before']:7.1f}  points {row['passes']} vs {row['passes_before']}, "
                         f"delta {row['delta']:.3f} vs {row['delta_before']:.3f}" if "cost_before" in row else ""),
                      flush=True)
        summary = {}
        for method, rs in rows.items():
            s = {"cost": statistics.median(r["cost"] for r in rs),
                 "deletion_auc": float(np.mean([r["deletion_auc"] for r in rs])),
                 "insertion_auc": float(np.mean([r["insertion_auc"] for r in rs]))}
            if "delta" in rs[0]:
                s |= {"delta": max(r["delta"] for r in rs), "passes": int(sum(r["passes"] for r in rs))}
            if "cost_before" in rs[0]:
                s |= {"cost_before": statistics.median(r["cost_before"] for r in rs),
                      "delta_before": max(r["delta_before"] for r in rs),
                      "passes_before": int(sum(r["passes_before"] for r in rs)),
                      "passes_ratio": sum(r["passes"] for r in rs) / sum(r["passes_before"] for r in rs),
                      "correlation_with_before_min": min(r["correlation_with_before"] for r in rs),
                      "deletion_auc_before": float(np.mean([r["deletion_auc_before"] for r in rs])),
                      "insertion_auc_before": float(np.mean([r["insertion_auc_before"] for r in rs]))}
            else:
                s["cost_before"] = s["cost"]  # unchanged computation: the same cost
            summary[method] = s | {"per_example": rs}
        result["models"][name] = summary
    for name, methods in result["models"].items():
        for method, s in methods.items():
            extra = (f", before {s['cost_before']:.1f} ({s['passes']} vs {s['passes_before']} points, "
                     f"{s['passes_ratio']:.2f}x; worst delta {s['delta']:.3f} vs {s['delta_before']:.3f}; "
                     f"map correlation >= {s['correlation_with_before_min']:.3f})" if "passes_ratio" in s else "")
            print(f"{name:<8} {method:<13} cost {s['cost']:.1f} forward-and-backward passes{extra}")
    if args.json:
        from diffclip.atomic import write_json

        write_json(args.json, result, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
