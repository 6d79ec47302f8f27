"""Attention noise, measured: the bundled standard (vanilla), differential (diff) and, when bundled, DIFF V2
(diff_v2) models on held-out
synthetic frames that show a lesion and distractors, beside the multi-seed study (docs/noise-study.json) that
says how far one run per variant can be trusted.

    python benchmarks/attention_noise.py [--frames 60] [--seed 777] [--methods NAME ...] [--json OUT]

For each bundled model: the last-layer attention's shares on the lesion, the drawn distractors (bubbles,
specular highlights, debris), the rim outside the field of view and elsewhere (the study's measure, on the
same frames), and the same shares for each requested method of the explanation registry. The JSON has
``{"seeds": {"vanilla": [...], "diff": [...], ...}, "summary": {...}, "bundled": {...}}``; seeds, summary (with
the paired differences of every pair of variants) and the power analysis come from the study
(``python -m training.noise_study``). Whichever model wins, this is what it measures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demo.resources import COMPARE_CHECKPOINT, DEFAULT_CHECKPOINT, EXTRA_CHECKPOINTS  # noqa: E402
from diffclip.attention_noise import (  # noqa: E402
    DISTRACTORS,
    distractor_mass,
    drawn_distractor_mass,
    masses,
    regions,
)
from diffclip.distractors import OUTSIDE  # noqa: E402
from diffclip.inference import Predictor  # noqa: E402
from explain.analysis import analyse  # noqa: E402
from explain.methods import EXPLAINERS, explain  # noqa: E402
from training.heldout import heldout_frames  # noqa: E402
from training.noise_measure import measure, uniform_shares  # noqa: E402
from training.noise_study import finite  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STUDY = REPO / "docs" / "noise-study.json"


def method_shares(checkpoint: Path, frames, methods: list[str]) -> dict[str, dict[str, float]]:
    """Per registered method: mean shares of its positive map on the lesion, the distractors (all; drawn only)
    and the rim."""
    predictor = Predictor(checkpoint, precision="fp32")
    rows: dict[str, list[dict]] = {m: [] for m in methods}
    for f in frames:
        analysis = analyse(predictor, f.rgb)
        parts = regions(f.mask, f.distractors, f.mask.shape)
        for method in methods:
            m = explain(analysis, predictor, method, f.label).map
            if m.shape != f.mask.shape and (f.mask.shape[0] % m.shape[0] or f.mask.shape[1] % m.shape[1]):
                raise ValueError(f"{method}: a {m.shape} map does not tile the {f.mask.shape} frame")
            rows[method].append(masses(m, parts))
    out = {}
    for method, shares in rows.items():
        out[method] = {
            "lesion_mass": float(np.nanmean([s["lesion"] for s in shares])),
            "distractor_mass": float(np.nanmean([distractor_mass(s) for s in shares])),
            "drawn_distractor_mass": float(np.nanmean([drawn_distractor_mass(s) for s in shares])),
            "rim_mass": float(np.nanmean([s[DISTRACTORS[OUTSIDE]] for s in shares])),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="held-out frames with a lesion and distractors")
    parser.add_argument("--seed", type=int, default=777, help="generator seed of the held-out frames")
    parser.add_argument("--models", nargs="+",
                        default=[str(p) for p in (COMPARE_CHECKPOINT, DEFAULT_CHECKPOINT, *EXTRA_CHECKPOINTS)])
    parser.add_argument("--methods", nargs="*", default=["attention", "rollout", "gradattn"],
                        choices=list(EXPLAINERS), help="registered methods to measure as well")
    parser.add_argument("--study", default=str(STUDY), help="the noise study's JSON (training.noise_study --json)")
    parser.add_argument("--json", help="write the result here")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    start = time.time()
    study_path = Path(args.study)
    if not study_path.is_file():
        parser.error(f"{study_path} does not exist: run python -m training.noise_study --json {study_path} first")
    study = json.loads(study_path.read_text(encoding="utf-8"))
    size = study["heldout"].get("size", 224)
    frames = list(heldout_frames(args.frames, args.seed, with_distractors=True, size=size,
                                 lookalikes=study["heldout"].get("lookalikes", 0.0)))
    # which study runs the bundled models are: a study that records it ("bundled", None when they are not its
    # runs); an earlier study bundled its median seed
    bundled = {"study_seeds": study["bundled"] if "bundled" in study else
               study.get("median_seeds", {"vanilla": study.get("median_seed"), "diff": study.get("median_seed")}),
               "frames": len(frames), "heldout_seed": args.seed, "uniform": uniform_shares(frames)}
    variants = []
    for path in args.models:
        result = measure(path, frames)
        result["methods"] = method_shares(Path(path), frames, args.methods)
        seeds = [r["distractor_mass"] for r in study["seeds"].get(result["variant"], [])]
        result["study_range"] = [min(seeds), max(seeds)] if seeds else None
        bundled[result["variant"]] = result
        variants.append(result["variant"])
    out = {"command": "python benchmarks/attention_noise.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "study": {k: study[k] for k in ("command", "config", "heldout", "map", "median_seed", "median_seeds",
                                           "power") if k in study},
           "seeds": study["seeds"], "summary": study["summary"], "bundled": bundled}
    u = bundled["uniform"]
    print(f"{len(frames)} held-out frames with a lesion and distractors (seed {args.seed}); a uniform map puts "
          f"{u['lesion']:.3f} on the lesion, {u['distractor']:.3f} on the distractors ({u['drawn_distractor']:.3f} drawn, "
          f"{u['rim']:.3f} rim)")
    print(f"{'model':<8} {'map':<12} {'lesion':>8} {'distractors':>12} {'drawn':>8} {'rim':>8}")
    for variant in variants:
        r = bundled[variant]
        for name, s in (("last layer", r), *r["methods"].items()):
            print(f"{variant:<8} {name:<12} {s['lesion_mass']:>8.3f} {s['distractor_mass']:>12.3f} "
                  f"{s['drawn_distractor_mass']:>8.3f} {s['rim_mass']:>8.3f}")
    for variant in variants:
        print(f"{variant:<8} last-layer map: median normalised entropy {bundled[variant]['entropy']:.3f} (1 = uniform)")
        k = bundled[variant]["sinks"]
        print(f"{variant:<8} sinks, last layer, mean over heads: largest token {k['top_token']:.3f}, rim {k['rim']:.3f}, high-norm "
              f"tokens {k['high_norm']:.3f} ({k['high_norm_tokens']:.2f} such tokens a frame)")
    for variant in (v for v in variants if v in study["summary"]):
        s = study["summary"][variant]
        print(f"study {variant}: distractor mass {s['mean']:.3f} [{s['ci'][0]:.3f}, {s['ci'][1]:.3f}] over "
              f"{len(study['seeds'][variant])} seeds; bundled (study seed {(bundled['study_seeds'] or {}).get(variant)}) "
              f"{bundled[variant]['distractor_mass']:.3f}")
    if args.json:
        from diffclip.atomic import write_json

        write_json(args.json, finite(out), indent=1)
    print(f"{time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
