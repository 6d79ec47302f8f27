"""Compare view logic: one frame through the standard and the differential model, with the
faithfulness numbers that show attention noise cancellation (or its absence)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from diffclip.images import to_rgb
from diffclip.inference import Predictor
from explain.analysis import FrameAnalysis, analyse
from explain.faithfulness import entropy, mass_in_mask, pointing_game
from explain.overlay import overlay


def load_mask(path: str | Path | None, size: int) -> np.ndarray | None:
    """A lesion mask resized (nearest) and centre-cropped like the model's input, as booleans."""
    if path is None:
        return None
    from PIL import Image
    from torchvision.transforms import CenterCrop, InterpolationMode, Resize

    img = Image.open(path).convert("L")
    img = CenterCrop(size)(Resize(size, interpolation=InterpolationMode.NEAREST)(img))
    return np.asarray(img) > 0


def attention_map(a: FrameAnalysis) -> tuple[np.ndarray, str]:
    """The last layer's head-mean map that the layer shows (its semantics say which: a1 or diff)."""
    return a.cls_map(a.shown_kind, -1, None), a.shown_kind


def compare(standard: Predictor, differential: Predictor, image, label: str, mask_path=None, alpha: float = 0.5):
    """Overlays (standard, differential) for the last layer and rollout, and a markdown table of numbers."""
    rgb = to_rgb(image)
    results = {}
    for name, pred in (("standard", standard), ("differential", differential)):
        a = analyse(pred, rgb)
        m, kind = attention_map(a)
        results[name] = (a, m, kind)
    size = results["standard"][0].image.shape[0]
    mask = load_mask(mask_path, size)
    images = {}
    for name, (a, m, _kind) in results.items():
        images[name] = overlay(a.image, m, alpha, diverging=a.semantics.signed)
        images[name + "_rollout"] = overlay(a.image, a.rollout, alpha)
    rows = [("", "standard (vanilla)", "differential"), ("---", "---:", "---:")]
    j = results["standard"][0].label_index(label)
    rows.append((f"p({label})", *(f"{results[n][0].probs[j]:.3f}" for n in ("standard", "differential"))))
    for what, pick in (("last layer", lambda r: r[1]), ("rollout", lambda r: r[0].rollout)):
        if mask is not None and mask.any():
            rows.append((f"attention in lesion mask, {what}",
                         *(f"{mass_in_mask(pick(results[n]), mask):.3f}" for n in ("standard", "differential"))))
            rows.append((f"pointing game (15 px), {what}",
                         *("hit" if pointing_game(pick(results[n]), mask, 15) else "miss"
                           for n in ("standard", "differential"))))
        rows.append((f"entropy (0 focused, 1 uniform), {what}",
                     *(f"{entropy(pick(results[n])):.3f}" for n in ("standard", "differential"))))
    table = "\n".join("| " + " | ".join(r) + " |" for r in rows)
    note = ("Mask available: the share of positive attention inside the lesion, and whether the peak hits it."
            if mask is not None and mask.any() else
            "No lesion mask for this frame: only the entropy of the maps (lower = less spread, less noise).")
    return images, table + "\n\n" + note
