"""``diffclip evaluate``: the RARE-VISION temporal mAP, computed exactly as the challenge does."""

from __future__ import annotations

import argparse

HELP = "score a RARE-VISION events JSON against the ground truth (temporal mAP at tIoU 0.5 and 0.95)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gt", required=True, help="ground-truth events JSON")
    parser.add_argument("--pred", required=True, help="predicted events JSON")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--ranked", metavar="SCORED",
                        help="also report the conventional confidence-ranked mAP from per-label scored events "
                             "(the --scored file of `diffclip predict`); not the challenge's rule")
    parser.add_argument("--thresholds", type=tiou_threshold, nargs="+", default=[0.5, 0.95],
                        help="tIoU thresholds, each in [0, 1] (default 0.5 0.95)")


def tiou_threshold(text: str) -> float:
    """argparse type of a tIoU threshold: a number in [0, 1] (NaN or 1.5 would silently score nonsense)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # also false for NaN
        raise argparse.ArgumentTypeError(f"tIoU threshold must be a number in [0, 1], got {text!r}")
    return value


def _read(path: str, what: str):
    from pathlib import Path

    from ..json_input import read_json

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} file {p} does not exist")
    if not p.is_file():  # a folder, a device (/dev/zero would be read forever) or a FIFO
        raise ValueError(f"{what} file {p} is {'a directory' if p.is_dir() else 'not a regular file'}")
    return read_json(p, f"{what} file {p}")


def report(scores: dict, ranked: dict | None = None) -> str:
    """Plain-text report: overall and per-video mAP, per-label AP and the free share."""
    from ..labels import LABELS

    thr = list(scores)
    lines = ["RARE-VISION temporal mAP (official rule: predictions in file order, absent labels score 1 "
             "when left unpredicted)", ""]
    lines.append("overall  " + "  ".join(f"mAP@{t:g} {scores[t].map:.4f}" for t in thr))
    lines.append("")
    lines.append(f"{'video':<20}" + "".join(f"{'mAP@' + format(t, 'g'):>11}" for t in thr)
                 + "   free share  (labels absent from truth and left unpredicted)")
    first = scores[thr[0]]
    for i, v in enumerate(first.videos):
        lines.append(f"{v.video_id:<20}" + "".join(f"{scores[t].videos[i].map:>11.4f}" for t in thr)
                     + f"   {v.free_share:>10.4f}  ({len(v.absent_unpredicted)} of {len(v.per_label)})")
    free = sum(v.free_share for v in first.videos) / len(first.videos)
    lines += ["", f"On average {free:.4f} of each video's mAP comes from labels that are absent from the truth and "
              "were not predicted (an empty submission scores exactly that).", ""]
    lines.append(f"{'label':<20}" + "".join(f"{'AP@' + format(t, 'g'):>10}" for t in thr)
                 + ("" if ranked is None else "".join(f"{'ranked@' + format(t, 'g'):>12}" for t in thr)))
    means = {t: scores[t].label_means() for t in thr}
    for lab in LABELS:
        row = f"{lab:<20}" + "".join(f"{means[t][lab]:>10.4f}" for t in thr)
        if ranked is not None:
            row += "".join(f"{'-' if ranked[t]['per_label'][lab] is None else format(ranked[t]['per_label'][lab], '.4f'):>12}"
                           for t in thr)
        lines.append(row)
    if ranked is not None:
        lines += ["", "ranked (conventional): " + "  ".join(f"mAP@{t:g} {ranked[t]['map']:.4f}" for t in thr)
                  + "  -- predictions sorted by score, labels without truth left out; not the challenge's number"]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import json

    from ..scoring import evaluate, ranked_map, scored_by_video

    truth, pred = _read(args.gt, "ground-truth"), _read(args.pred, "prediction")
    scores = evaluate(truth, pred, args.thresholds, truth_name=f"ground truth {args.gt}",
                      pred_name=f"prediction {args.pred}")
    ranked = None
    if args.ranked:
        scored = scored_by_video(_read(args.ranked, "scored events"), name=f"scored events {args.ranked}")
        ranked = {t: ranked_map(truth, scored, t) for t in args.thresholds}
    if args.json:
        out = {f"{t:g}": s.to_dict() for t, s in scores.items()}
        if ranked is not None:
            out["ranked"] = {f"{t:g}": r for t, r in ranked.items()}
        print(json.dumps(out, indent=1))
    else:
        print(report(scores, ranked))
    return 0
