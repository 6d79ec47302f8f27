"""Training curves as PNGs: loss and mAP per epoch, and (``epoch_plots``) the paper's per-epoch per-label plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from diffclip.atomic import atomic_path


def plot_training_curves(history: list[dict], path: str | Path, title: str = "") -> Path:
    """Loss (train, validation) and validation mAP per epoch, side by side."""
    epochs = [r["epoch"] for r in history]
    fig = Figure(figsize=(10, 3.6), constrained_layout=True)  # no pyplot: no global backend
    ax_loss, ax_map = fig.subplots(1, 2)
    ax_loss.plot(epochs, [r["train_loss"] for r in history], "o-", label="train")
    ax_loss.plot(epochs, [r["val_loss"] for r in history], "s-", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="asymmetric focal loss", title="loss")
    ax_loss.legend()
    ax_map.plot(epochs, [r["val_map_supported"] for r in history], "o-", label="labels with support")
    ax_map.plot(epochs, [r["val_map_all"] for r in history], "s--", label="all 17 (absent = 0)")
    ax_map.set(xlabel="epoch", ylabel="macro AP", ylim=(0, 1), title="validation mAP")
    ax_map.legend(loc="lower right")
    for ax in (ax_loss, ax_map):
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return Path(path)


def plot_epoch_curves(probs: np.ndarray, targets: np.ndarray, metrics: dict, labels: Sequence[str],
                      folder: str | Path, prefix: str) -> list[Path]:
    """The paper's per-epoch validation plots: per-label precision-recall and ROC curves (labels with
    positives, AP and AUC in the legend) and bars of AP, AUC, precision, recall and F1 per label, as
    ``<folder>/<prefix>_{pr,roc,bar}.png``."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    y = np.asarray(targets) > 0.5
    per = metrics["per_label"]
    shown = [j for j, lab in enumerate(labels) if 0 < y[:, j].sum() < len(y)]
    out = []
    for kind in ("pr", "roc"):
        fig = Figure(figsize=(8, 6), constrained_layout=True)
        ax = fig.subplots()
        ax.set_prop_cycle(color=colormaps["tab20"].colors)  # 17 labels: tab10 would repeat its colours
        for j in shown:
            if kind == "pr":
                precision, recall, _ = precision_recall_curve(y[:, j], probs[:, j])
                ax.plot(recall, precision, lw=1, label=f"{labels[j]} (AP {per[labels[j]]['ap']:.2f})")
            else:
                fpr, tpr, _ = roc_curve(y[:, j], probs[:, j])
                ax.plot(fpr, tpr, lw=1, label=f"{labels[j]} (AUC {per[labels[j]]['auc']:.2f})")
        if kind == "roc":
            ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="chance")
        ax.set(xlabel="recall" if kind == "pr" else "false positive rate",
               ylabel="precision" if kind == "pr" else "true positive rate", xlim=(0, 1), ylim=(0, 1.02),
               title=f"{prefix}: {'precision-recall' if kind == 'pr' else 'ROC'} per label (validation)")
        ax.legend(fontsize=7, loc="lower left" if kind == "pr" else "lower right")
        ax.grid(alpha=0.3)
        out.append(_save(fig, folder / f"{prefix}_{kind}.png"))
    fig = Figure(figsize=(16, 5), constrained_layout=True)
    axes = fig.subplots(1, 3)
    x = np.arange(len(labels))
    for ax, pairs, title in ((axes[0], ("ap", "auc"), "AP and AUC"), (axes[1], ("precision", "recall"),
                              "precision and recall at the chosen thresholds"), (axes[2], ("f1",), "F1")):
        width = 0.8 / len(pairs)
        for k, key in enumerate(pairs):
            values = [per[lab][key] for lab in labels]
            ax.bar(x + (k - (len(pairs) - 1) / 2) * width, np.nan_to_num(values, nan=0.0), width, label=key)
        ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
        ax.set(ylim=(0, 1), title=title)
        if len(pairs) > 1:
            ax.legend(fontsize=8)
    fig.suptitle(f"{prefix}: per-label validation metrics (labels without positives: AP and AUC shown as 0)")
    out.append(_save(fig, folder / f"{prefix}_bar.png"))
    return out


def _save(fig: Figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return path
