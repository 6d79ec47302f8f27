"""Out-of-distribution check, measured: AUROC of the feature scores (Mahalanobis vs joint energy) and of the
stored decision rule, held-out synthetic frames (seed 3: not used for training, fitting or the threshold)
against photos and non-capsule medical images from packages that ship them, and against grey and recoloured
versions of the held-out frames (with the look-alike distractors of each model's fit); the false-alarm rate at
the stored threshold; the bundled models (diff, vanilla, diff_v2), each in fp32, bf16 and fp16 (forced: any CPU
runs them); per precision, how many held-out frames change their verdict
under benign changes (benchmarks/_perturb.py) and against fp32.

    python benchmarks/ood.py [--videos 5] [--stride 2] [--precisions fp32 bf16 fp16] [--json docs/ood.json]

Needs the ``test`` extra (scikit-image and pydicom ship the medical images).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _ood_sources as S  # noqa: E402
from benchmarks._perturb import PERTURBATIONS  # noqa: E402
from demo.resources import COMPARE_CHECKPOINT, DEFAULT_CHECKPOINT, EXTRA_CHECKPOINTS  # noqa: E402
from diffclip.atomic import write_json  # noqa: E402
from diffclip.inference import Predictor  # noqa: E402
from diffclip.json_input import read_json  # noqa: E402
from diffclip.ood import energy_scores, exclusive_sections_reason, field_of_view_reason, mahalanobis_scores  # noqa: E402
from training.fit_ood import FitSettings, forward, synthetic_frames  # noqa: E402

TEST_SEED = 3  # fit_ood uses 1 (means, covariance) and 2 (threshold); training used 0
TRANSFORMED = 200  # held-out frames per transform


def sources(test: list[np.ndarray]) -> dict[str, list[np.ndarray]]:
    """OOD sets by name: package images, then transforms of the first held-out frames."""
    sub = test[:: max(1, len(test) // TRANSFORMED)][:TRANSFORMED]
    return {
        "photos (matplotlib, scikit-image)": list({**S.matplotlib_images(),
                                                   **S.skimage_images(S.SKIMAGE_PHOTOS)}.values()),
        "medical (scikit-image: fundus, histology, cells)": list(S.skimage_images(S.SKIMAGE_MEDICAL).values()),
        "medical (pydicom CT/MR, matplotlib MRI)": list({**S.pydicom_images(), **S.matplotlib_mri()}.values()),
        "synthetic frames in grey": S.grey(sub),
        "synthetic frames, red/blue swapped": S.channel_swap(sub),
        "synthetic frames, colours inverted": S.inverted(sub),
    }


def auroc(id_scores: np.ndarray, ood_scores: np.ndarray) -> float:
    """AUROC with out-of-distribution as the positive class (higher score: more out)."""
    y = np.r_[np.zeros(len(id_scores)), np.ones(len(ood_scores))]
    return round(float(roc_auc_score(y, np.r_[id_scores, ood_scores])), 4)


def measure(predictor: Predictor, test: list[np.ndarray], sets: dict[str, list[np.ndarray]],
            perturbed: dict[str, list[np.ndarray]]) -> dict:
    """Scores, rules and decisions of one model on the held-out frames and every OOD set."""
    stats = predictor.ood
    if stats is None:
        raise SystemExit(f"{predictor.ood_missing}")
    means, precision = stats.tensors["means"], stats.tensors["precision"]

    def evaluate(images):
        f = forward(predictor, images)
        fov = np.array([field_of_view_reason(c) is not None for c in f["crops"]])
        excl = np.array([exclusive_sections_reason(p, predictor.thresholds, predictor.labels) is not None
                         for p in f["probs"]])
        cand = {"mahalanobis": mahalanobis_scores(f["features"], means, precision),
                "energy": energy_scores(f["logits"])}
        flagged = np.array([not r.in_distribution for r in stats.check(
            f["features"], f["logits"], f["crops"], f["probs"], predictor.thresholds, predictor.labels)])
        # the rule as one score: feature score over threshold, pushed past every feature score by a rule
        combined = cand[stats.method] / stats.threshold + 1e6 * (fov | (excl & stats.exclusive))
        return {"cand": cand, "fov": fov, "excl": excl, "flagged": flagged, "combined": combined}

    ident = evaluate(test)
    out = {"precision": predictor.precision, "method": stats.method, "threshold": stats.threshold,
           "exclusive_in_rule": stats.exclusive,
           "false_alarm": {"rule": float(ident["flagged"].mean()),
                           "feature_score": float((ident["cand"][stats.method] > stats.threshold).mean()),
                           "field_of_view": float(ident["fov"].mean()),
                           "exclusive_sections": float(ident["excl"].mean())},
           "sources": {}}
    pooled: dict[str, list] = {}
    for name, images in sets.items():
        r = evaluate(images)
        out["sources"][name] = {
            "n": len(images),
            "auroc": {**{k: auroc(ident["cand"][k], v) for k, v in r["cand"].items()},
                      "rule": auroc(ident["combined"], r["combined"])},
            "flagged": float(r["flagged"].mean()), "no_field_of_view": float(r["fov"].mean()),
            "exclusive_sections": float(r["excl"].mean()),
        }
        for k in (*r["cand"], "combined"):
            pooled.setdefault(k, []).append(r[k] if k == "combined" else r["cand"][k])
    out["overall_auroc"] = {k if k != "combined" else "rule": auroc(ident[k] if k == "combined" else ident["cand"][k],
                                                                    np.concatenate(v)) for k, v in pooled.items()}
    # benign changes: the share of held-out frames whose verdict differs from the unchanged frame's
    out["perturbation_flips"] = {name: float((evaluate(images)["flagged"] != ident["flagged"]).mean())
                                 for name, images in perturbed.items()}
    out["flagged"] = ident["flagged"]  # for the flips against fp32 (removed before writing)
    return out


def report(name: str, r: dict, frames: int) -> None:
    """Print one model's results in one precision."""
    fa = r["false_alarm"]
    print(f"\n{name} in {r['precision']}: {r['method']} threshold {r['threshold']:.4g}; false alarms on {frames} "
          f"held-out synthetic frames: rule {fa['rule']:.1%} (feature score {fa['feature_score']:.1%}, field of view "
          f"{fa['field_of_view']:.1%}); exclusive sections would add {fa['exclusive_sections']:.1%}")
    print(f"{'source':<52}{'n':>5}{'AUROC maha':>12}{'AUROC energy':>14}{'AUROC rule':>12}{'flagged':>9}{'excl.':>7}")
    for src, v in r["sources"].items():
        a = v["auroc"]
        print(f"{src:<52}{v['n']:>5}{a['mahalanobis']:>12.3f}{a['energy']:>14.3f}{a['rule']:>12.3f}"
              f"{v['flagged']:>9.1%}{v['exclusive_sections']:>7.1%}")
    o = r["overall_auroc"]
    print(f"{'overall':<57}{o['mahalanobis']:>12.3f}{o['energy']:>14.3f}{o['rule']:>12.3f}")
    flips = "; ".join(f"{k} {v:.1%}" for k, v in r["perturbation_flips"].items())
    print(f"verdicts changed by benign changes: {flips}"
          + (f"; against fp32 {r['flips_against_fp32']:.1%}" if "flips_against_fp32" in r else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=5, help=f"held-out synthetic videos ({FitSettings.frames} frames each)")
    parser.add_argument("--stride", type=int, default=2, help="every n-th frame of each video")
    parser.add_argument("--models", nargs="+",
                        default=[str(p) for p in (DEFAULT_CHECKPOINT, COMPARE_CHECKPOINT, *EXTRA_CHECKPOINTS)])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16", "fp16"], choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    start = time.time()
    results = {"command": "python benchmarks/ood.py" + (f" --videos {args.videos}" if args.videos != 5 else "")
               + (f" --stride {args.stride}" if args.stride != 2 else ""),
               "in_distribution": f"held-out synthetic frames: seed {TEST_SEED}, {args.videos} videos x {FitSettings.frames}, "
                                  f"every {args.stride}th frame, with the look-alike distractors each model's fit had "
                                  "(lookalikes in its entry)",
               "auroc_positive_class": "out of distribution",
               "perturbations": "benchmarks/_perturb.py: " + ", ".join(PERTURBATIONS),
               "precisions": "forced on this CPU (bf16 and fp16 autocast run on any x86 CPU)", "models": {}}
    held_out: dict[float, tuple] = {}  # by look-alike share: the frames, the other sources, the changed frames
    for path in args.models:
        # a model is tested on frames like those its statistics were fitted on (the trio trained with look-alikes)
        lookalikes = float(read_json(Path(path) / "config.json")["ood"]["fitted"]["settings"].get("lookalikes", 0.0))
        if lookalikes not in held_out:
            test, _ = synthetic_frames(TEST_SEED, args.videos, FitSettings(stride=args.stride, lookalikes=lookalikes))
            held_out[lookalikes] = (test, sources(test), {name: [change(f) for f in test]
                                                         for name, change in PERTURBATIONS.items()})
        test, sets, perturbed = held_out[lookalikes]
        results["frames"] = len(test)
        per_precision = {}
        for precision in args.precisions:
            predictor = Predictor(path, device="cpu", precision=precision)
            r = {"lookalikes": lookalikes, **measure(predictor, test, sets, perturbed)}
            if "fp32" in per_precision:
                r["flips_against_fp32"] = float((r["flagged"] != per_precision["fp32"]["flagged"]).mean())
            per_precision[precision] = r
            report(predictor.model.config.attention, r, len(test))
        for r in per_precision.values():
            r.pop("flagged")
        results["models"][predictor.model.config.attention] = per_precision
    if args.json:
        write_json(args.json, results)
    print(f"({time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
