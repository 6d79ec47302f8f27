"""How well confident learning (diffclip.error_analysis.label_issues) finds injected label errors: on the
bundled held-out set (200 synthetic frames), 5% of one label's truth is flipped at random (10 frames); the
bundled model's probabilities rank that label's issues; precision of the top k against the flips, k = the number
of flips. Several labels and seeds, one model pass (fp32, so any machine gets the same figures).

    python benchmarks/label_issues.py [--checkpoint demo/weights/diff] [--labels colon "small intestine" blood]
        [--seeds 0 1 2 3 4] [--share 0.05] [--json docs/label-issues.json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from diffclip.atomic import write_json  # noqa: E402
from diffclip.error_analysis.label_issues import label_issues, precision_at_k  # noqa: E402
from diffclip.error_analysis.labelled_set import load_labelled  # noqa: E402
from diffclip.error_analysis.model_pass import run_pass  # noqa: E402
from diffclip.inference import Predictor  # noqa: E402


def flipped_run(mp, label: str, share: float, seed: int) -> dict:
    """Flip ``share`` of ``label``'s known truth (at least one frame), find the issues, score the top k."""
    rows = np.flatnonzero(mp.known)
    truth, probs = mp.truth[rows].copy(), mp.probs[rows]
    j = mp.labels.index(label)
    rng = np.random.default_rng(seed)
    flip = rng.choice(len(rows), size=max(1, round(share * len(rows))), replace=False)
    truth[flip, j] = ~truth[flip, j]
    ids, frames = mp.video_ids[rows], mp.frames[rows]
    flipped = {(str(ids[i]), int(frames[i]), label) for i in flip}
    issues = label_issues(truth, probs, mp.labels, ids, frames)
    own = [d for d in issues if d["label"] == label]
    return {"label": label, "seed": seed, "flips": len(flip), "issues_of_the_label": len(own),
            "precision_at_k": precision_at_k(own, flipped), "precision_at_k_all_labels": precision_at_k(issues, flipped)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(REPO / "demo" / "weights" / "diff"))
    parser.add_argument("--data", default=str(REPO / "demo" / "heldout"))
    parser.add_argument("--labels", nargs="+", default=["colon", "small intestine", "blood"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--share", type=float, default=0.05)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    predictor = Predictor(args.checkpoint, device="cpu", precision="fp32")
    mp = run_pass(predictor, load_labelled(args.data), progress=False)
    runs = [flipped_run(mp, lab, args.share, seed) for lab in args.labels for seed in args.seeds]
    for r in runs:
        print(f"{r['label']:16s} seed {r['seed']}: {r['flips']} flips, precision at k {r['precision_at_k']:.2f} "
              f"(in the list of every label: {r['precision_at_k_all_labels']:.2f})")
    mean = statistics.mean(r["precision_at_k"] for r in runs)
    print(f"mean precision at k over {len(runs)} runs: {mean:.2f} (target >= 0.5)")
    if args.json:
        write_json(args.json, {"command": "python benchmarks/label_issues.py", "checkpoint": Path(args.checkpoint).name,
                               "frames": int(mp.known.sum()), "share": args.share, "runs": runs,
                               "mean_precision_at_k": mean})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
