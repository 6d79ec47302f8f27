"""Training curves as a PNG."""

from __future__ import annotations

from pathlib import Path

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
