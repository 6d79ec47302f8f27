"""Compare view logic: one frame through the standard and the differential model, with the
faithfulness numbers that show attention noise cancellation (or its absence). Maps follow the Frames
view's conventions (explain.display): robust limits, a colour bar on every map, the lesion outline."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from diffclip.images import to_rgb
from diffclip.inference import Predictor
from explain.analysis import FrameAnalysis, analyse
from explain.display import robust_scale, show_map
from explain.faithfulness import entropy, mass_in_mask, pointing_game

from .frames_view import parse_head
from .truth import load_mask

MODELS = ("standard", "differential")
MAP_TITLES = {"diff": "a1 − λ·a2"}  # a map kind (FrameAnalysis.cls_map), not a variant


def layer_map(a: FrameAnalysis, layer: int = -1, head: int | None = None) -> tuple[np.ndarray, str]:
    """The map a layer shows (its semantics say which: a1 for softmax attention, a1 − λ·a2 for
    differential attention), for a 0-based ``layer`` (negative from the last) and a head (None: mean)."""
    return a.cls_map(a.shown_kind, layer, head), a.shown_kind


def compare(standard: Predictor, differential: Predictor, image, label: str, mask_path: str | Path | None = None,
            alpha: float = 0.5, layer: int | None = None, head: str | int | None = "mean"):
    """Overlays (standard, differential) of one layer (1-based; None: the last) and of the rollout, and a
    markdown table of numbers."""
    rgb = to_rgb(image)
    results = {name: analyse(pred, rgb) for name, pred in zip(MODELS, (standard, differential), strict=True)}
    depth = min(a.num_layers for a in results.values())
    li = depth - 1 if layer is None else int(layer) - 1
    if not 0 <= li < depth:
        raise ValueError(f"layer must lie in 1..{depth}, got {layer}")
    h = parse_head(head)
    heads = min(a.num_heads for a in results.values())
    if h is not None and not 0 <= h < heads:
        raise ValueError(f"head must be 'mean' or lie in 0..{heads - 1}, got {head}")
    size = results["standard"].image.shape[0]
    mask = load_mask(mask_path, size) if mask_path is not None else None
    maps = {name: layer_map(a, li, h) for name, a in results.items()}
    images = {}
    for name, a in results.items():
        m, kind = maps[name]
        signed = a.semantics.signed
        images[name] = show_map(a.image, m, alpha, robust_scale(m, diverging=signed), MAP_TITLES.get(kind, kind), mask)
        images[name + "_rollout"] = show_map(a.image, a.rollout, alpha, robust_scale(a.rollout, diverging=False),
                                             "rollout", mask)
    where = f"layer {li + 1}, {'head mean' if h is None else f'head {h}'}"
    rows = [("", "standard (vanilla)", "differential"), ("---", "---:", "---:")]
    j = results["standard"].label_index(label)
    rows.append((f"p({label})", *(f"{results[n].probs[j]:.3f}" for n in MODELS)))
    for what, pick in ((where, lambda n: maps[n][0]), ("rollout", lambda n: results[n].rollout)):
        if mask is not None and mask.any():
            rows.append((f"attention in lesion mask, {what}", *(f"{mass_in_mask(pick(n), mask):.3f}" for n in MODELS)))
            rows.append((f"pointing game (15 px), {what}",
                         *("hit" if pointing_game(pick(n), mask, 15) else "miss" for n in MODELS)))
        rows.append((f"entropy (0 focused, 1 uniform), {what}", *(f"{entropy(pick(n)):.3f}" for n in MODELS)))
    table = "\n".join("| " + " | ".join(r) + " |" for r in rows)
    note = ("Mask available (green outline): the share of positive attention inside the lesion, and whether the "
            "peak hits it." if mask is not None and mask.any() else
            "No lesion mask for this frame: only the entropy of the maps (lower = less spread).")
    colours = ("Colours as in the Frames tab: softmax maps from 0 (dark) up, the differential map red/blue around "
               "white 0; each saturates where the top 2% of its mass begins (Captum's outlier convention).")
    return images, table + "\n\n" + note + " " + colours
