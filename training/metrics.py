"""Frame-level metrics and per-label threshold search."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from diffclip.labels import LABELS

#: The paper's threshold search: a step of 0.02 up to 0.85, from 0.05 for rare labels (under 1% of the
#: frames) and from 0.15 otherwise; a label without positives gets RARE_DEFAULT.
GRID_STEP, GRID_END, RARE_START, COMMON_START, RARE_SHARE, RARE_DEFAULT = 0.02, 0.85, 0.05, 0.15, 0.01, 0.2


def _f1_over_grid(p: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    pred = p[None, :] >= grid[:, None]
    tp = (pred & y[None, :]).sum(1)
    fp = (pred & ~y[None, :]).sum(1)
    fn = (~pred & y[None, :]).sum(1)
    return 2 * tp / np.maximum(2 * tp + fp + fn, 1)


def search_thresholds(probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per label, the threshold that maximises F1 on validation, as the paper's code searches it:
    ``np.arange(start, 0.85, 0.02)`` with start 0.05 for labels under 1% of the frames and 0.15
    otherwise, the first best F1 kept (ties: the lowest threshold), 0.5 when no threshold reaches an F1
    above 0, and 0.2 for a label without positives."""
    y = np.asarray(targets) > 0.5
    out = np.full(probs.shape[1], RARE_DEFAULT, np.float32)
    for j in range(probs.shape[1]):
        support = int(y[:, j].sum())
        if support == 0:
            continue
        start = RARE_START if support < len(y) * RARE_SHARE else COMMON_START
        grid = np.arange(start, GRID_END, GRID_STEP)
        f1 = _f1_over_grid(probs[:, j], y[:, j], grid)
        out[j] = grid[int(np.argmax(f1))] if f1.max() > 0 else 0.5
    return out


def frame_metrics(
    probs: np.ndarray,
    targets: np.ndarray,
    thresholds: np.ndarray | Sequence[float] | None = None,
    labels: Sequence[str] = LABELS,
) -> dict:
    """Per-label AP, AUC, F1, precision, recall and support, and macro mAP reported two ways:
    over labels with positives in ``targets`` (``map_supported``) and over all labels, counting a
    label without positives as AP 0 (``map_all``)."""
    probs = np.asarray(probs, np.float64)
    y = np.asarray(targets) > 0.5
    thr = np.full(probs.shape[1], 0.5) if thresholds is None else np.asarray(thresholds, np.float64)
    per_label = {}
    for j, lab in enumerate(labels):
        pos = int(y[:, j].sum())
        pred = probs[:, j] >= thr[j]
        tp = int((pred & y[:, j]).sum())
        precision = tp / max(int(pred.sum()), 1)
        recall = tp / max(pos, 1)
        row = {
            "support": pos,
            "ap": float(average_precision_score(y[:, j], probs[:, j])) if pos else float("nan"),
            "auc": float(roc_auc_score(y[:, j], probs[:, j])) if 0 < pos < len(y) else float("nan"),
            "precision": precision,
            "recall": recall if pos else float("nan"),
            "f1": 2 * precision * recall / (precision + recall) if pos and precision + recall > 0 else 0.0,
            "threshold": float(thr[j]),
        }
        per_label[lab] = row
    aps = np.array([r["ap"] for r in per_label.values()])
    supported = ~np.isnan(aps)
    aucs = np.array([r["auc"] for r in per_label.values()])
    return {
        "per_label": per_label,
        "map_supported": float(aps[supported].mean()) if supported.any() else float("nan"),
        "map_all": float(np.where(supported, aps, 0.0).mean()),
        "labels_supported": int(supported.sum()),
        "mauc_supported": float(np.nanmean(aucs)) if np.any(~np.isnan(aucs)) else float("nan"),
        "macro_f1_supported": float(np.mean([r["f1"] for r in per_label.values() if r["support"]] or [np.nan])),
    }


def metrics_table(results: dict[str, dict], labels: Sequence[str] = LABELS) -> str:
    """A markdown table of per-label AP (and support) for several models side by side."""
    names = list(results)
    first = results[names[0]]["per_label"]
    head = "| label | support | " + " | ".join(f"AP {n}" for n in names) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(names)]
    for lab in labels:
        cells = []
        for n in names:
            ap = results[n]["per_label"][lab]["ap"]
            cells.append("n/a" if np.isnan(ap) else f"{ap:.3f}")
        lines.append(f"| {lab} | {first[lab]['support']} | " + " | ".join(cells) + " |")
    lines.append("| **macro mAP, labels with support** | | " + " | ".join(f"**{results[n]['map_supported']:.3f}**" for n in names) + " |")
    lines.append("| macro mAP, all 17 (absent = 0) | | " + " | ".join(f"{results[n]['map_all']:.3f}" for n in names) + " |")
    return "\n".join(lines)
