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
from .scores import ood_banner
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
    j = results["standard"].label_index(label)
    numbers = {"label": label, "layer": li + 1, "head": "mean" if h is None else h,
               **ood_numbers(results), "models": {}}
    for n in MODELS:
        entry = numbers["models"][n] = {"probability": float(results[n].probs[j])}
        for what, m in (("layer", maps[n][0]), ("rollout", results[n].rollout)):
            entry[what] = {"entropy": float(entropy(m))}
            if mask is not None and mask.any():
                entry[what] |= {"lesion_mass": float(mass_in_mask(m, mask)),
                                "pointing_game": bool(pointing_game(m, mask, 15))}
    rows = [("", "standard (vanilla)", "differential"), ("---", "---:", "---:")]
    rows.append((f"p({label})", *(f"{numbers['models'][n]['probability']:.3f}" for n in MODELS)))
    for what, key in ((where, "layer"), ("rollout", "rollout")):
        got = {n: numbers["models"][n][key] for n in MODELS}
        if "lesion_mass" in got["standard"]:
            rows.append((f"attention in lesion mask, {what}", *(f"{got[n]['lesion_mass']:.3f}" for n in MODELS)))
            rows.append((f"pointing game (15 px), {what}",
                         *("hit" if got[n]["pointing_game"] else "miss" for n in MODELS)))
        rows.append((f"entropy (0 focused, 1 uniform), {what}", *(f"{got[n]['entropy']:.3f}" for n in MODELS)))
    table = "\n".join("| " + " | ".join(r) + " |" for r in rows)
    note = ("Mask available (green outline): the share of positive attention inside the lesion, and whether the "
            "peak hits it." if mask is not None and mask.any() else
            "No lesion mask for this frame: only the entropy of the maps (lower = less spread).")
    colours = ("Colours as in the Frames tab: softmax maps from 0 (dark) up, the differential map red/blue around "
               "white 0; each saturates where the top 2% of its mass begins (see the glossary below).")
    banner = ""
    if numbers["in_distribution"] is False:
        flagged = numbers["ood"]
        first = next(v for v in flagged.values() if v["in_distribution"] is False)
        banner = ood_banner(first["ood_reasons"], first["ood_score"], first["ood_threshold"],
                            what="maps and numbers below describe a picture the models were not trained on") + "\n\n"
    said = on_this_frame(numbers, where)
    return images, banner + said + "\n\n" + table + "\n\n" + note + " " + colours, numbers


def ood_numbers(results) -> dict:
    """``in_distribution`` of the frame (False when either model flags it, None when neither can tell) and
    each model's verdict (diffclip.ood), as /predict_frame gives them."""
    per = {n: a.ood_dict() for n, a in results.items()}
    verdicts = [v["in_distribution"] for v in per.values()]
    overall = False if False in verdicts else (True if True in verdicts else None)
    return {"in_distribution": overall, "ood": per}


def on_this_frame(numbers: dict, where: str) -> str:
    """In words, which model's map (the chosen layer) is more on the lesion and which is less spread on this
    frame, whichever model that is: one frame says nothing about the models in general."""
    got = {n: numbers["models"][n]["layer"] for n in MODELS}
    said = []
    if "lesion_mass" in got["standard"]:
        s, d = got["standard"]["lesion_mass"], got["differential"]["lesion_mass"]
        more = "the standard" if s > d else "the differential"
        said.append(f"{more.capitalize()} model puts more of its attention inside the lesion "
                    f"({max(s, d):.3f} against {min(s, d):.3f})" if s != d else
                    f"Both models put {s:.3f} of their attention inside the lesion")
        hits = [n for n in MODELS if got[n]["pointing_game"]]
        said.append({0: "neither map's peak hits it", 2: "both maps' peaks hit it"}.get(
            len(hits), f"only the {hits[0] if hits else ''} model's peak hits it"))
    s, d = got["standard"]["entropy"], got["differential"]["entropy"]
    spread = (f"the {'standard' if s < d else 'differential'} model's map is less spread (entropy "
              f"{min(s, d):.3f} against {max(s, d):.3f})") if s != d else "both maps are equally spread"
    said.append(spread)
    text = "; ".join(said)
    return f"**On this frame ({where}):** {text[0].upper() + text[1:]}."
