"""Compare view logic: one frame through two models (the standard and the differential one by default; any
two of the served models), with the faithfulness numbers that show attention noise cancellation (or its
absence). Maps follow the Frames
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

#: How the table names a model of each attention variant (others: the variant's own name).
TITLES = {"vanilla": "standard (vanilla)", "diff": "differential (diff)", "diff_v2": "DIFF V2 (diff_v2)",
          "diff_paper": "differential, the paper's (diff_paper)"}
MAP_TITLES = {"diff": "a1 − λ·a2"}  # a map kind (FrameAnalysis.cls_map), not a variant


def layer_map(a: FrameAnalysis, layer: int = -1, head: int | None = None) -> tuple[np.ndarray, str]:
    """The map a layer shows (its semantics say which: a1 for softmax attention, a1 − λ·a2 for
    differential attention), for a 0-based ``layer`` (negative from the last) and a head (None: mean)."""
    return a.cls_map(a.shown_kind, layer, head), a.shown_kind


def model_names(first: Predictor, second: Predictor) -> tuple[str, str]:
    """The two models' names: their attention variants ("vanilla", "diff", "diff_v2", ...), told apart as
    first and second when both have the same one."""
    if first is second:
        raise ValueError("pick two different models to compare")
    a, b = first.model.config.attention, second.model.config.attention
    return (a, b) if a != b else (f"{a} (first)", f"{b} (second)")


def title(name: str) -> str:
    """A model's name in the table and the captions: its variant's title, and what tells it apart."""
    variant, _, rest = name.partition(" ")
    return f"{TITLES.get(variant, variant)} {rest}".strip()


def compare(first: Predictor, second: Predictor, image, label: str, mask_path: str | Path | None = None,
            alpha: float = 0.5, layer: int | None = None, head: str | int | None = "mean",
            names: tuple[str, str] | None = None):
    """Overlays of both models (keyed by their names, :func:`model_names`; ``<name>_rollout`` for the rollout)
    of one layer (1-based; None: the last), a markdown table and the numbers as a dict. ``names``: the app's
    names of the two (ModelBank.names)."""
    rgb = to_rgb(image)
    models = model_names(first, second) if names is None else tuple(names)
    if len(set(models)) != 2:
        raise ValueError("pick two different models to compare")
    results = {name: analyse(pred, rgb) for name, pred in zip(models, (first, second), strict=True)}
    depth = min(a.num_layers for a in results.values())
    li = depth - 1 if layer is None else int(layer) - 1
    if not 0 <= li < depth:
        raise ValueError(f"layer must lie in 1..{depth}, got {layer}")
    h = parse_head(head)
    heads = min(a.num_heads for a in results.values())
    if h is not None and not 0 <= h < heads:
        raise ValueError(f"head must be 'mean' or lie in 0..{heads - 1}, got {head}")
    # each model's own crop size: two served models need not take the same input
    masks = {n: load_mask(mask_path, a.image.shape[0]) if mask_path is not None else None
             for n, a in results.items()}
    maps = {name: layer_map(a, li, h) for name, a in results.items()}
    images = {}
    for name, a in results.items():
        m, kind = maps[name]
        signed = a.semantics.signed
        images[name] = show_map(a.image, m, alpha, robust_scale(m, diverging=signed), MAP_TITLES.get(kind, kind),
                                masks[name])
        images[name + "_rollout"] = show_map(a.image, a.rollout, alpha, robust_scale(a.rollout, diverging=False),
                                             "rollout", masks[name])
    where = f"layer {li + 1}, {'head mean' if h is None else f'head {h}'}"
    j = results[models[0]].label_index(label)
    numbers = {"label": label, "layer": li + 1, "head": "mean" if h is None else h,
               **ood_numbers(results), "models": {}}
    for n in models:
        entry = numbers["models"][n] = {"probability": float(results[n].probs[j]),
                                        "map": MAP_TITLES.get(maps[n][1], maps[n][1])}
        for what, m in (("layer", maps[n][0]), ("rollout", results[n].rollout)):
            entry[what] = {"entropy": float(entropy(m))}
            mask = masks[n]
            if mask is not None and mask.any():
                entry[what] |= {"lesion_mass": float(mass_in_mask(m, mask)),
                                "pointing_game": bool(pointing_game(m, mask, 15))}
    rows = [("", *(title(n) for n in models)), ("---", "---:", "---:")]
    rows.append((f"p({label})", *(f"{numbers['models'][n]['probability']:.3f}" for n in models)))
    for what, key in ((where, "layer"), ("rollout", "rollout")):
        got = {n: numbers["models"][n][key] for n in models}
        if "lesion_mass" in got[models[0]]:
            rows.append((f"attention in lesion mask, {what}", *(f"{got[n]['lesion_mass']:.3f}" for n in models)))
            rows.append((f"pointing game (15 px), {what}",
                         *("hit" if got[n]["pointing_game"] else "miss" for n in models)))
        rows.append((f"entropy (0 focused, 1 uniform), {what}", *(f"{got[n]['entropy']:.3f}" for n in models)))
    table = "\n".join("| " + " | ".join(r) + " |" for r in rows)
    note = ("Mask available (green outline): the share of positive attention inside the lesion, and whether the "
            "peak hits it." if any(m is not None and m.any() for m in masks.values()) else
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
    (a, ga), (b, gb) = ((n, m["layer"]) for n, m in numbers["models"].items())
    said = []
    if "lesion_mass" in ga:
        s, d = ga["lesion_mass"], gb["lesion_mass"]
        said.append(f"The {title(a if s > d else b)} model puts more of its attention inside the lesion "
                    f"({max(s, d):.3f} against {min(s, d):.3f})" if s != d else
                    f"Both models put {s:.3f} of their attention inside the lesion")
        hits = [title(n) for n, g in ((a, ga), (b, gb)) if g["pointing_game"]]
        said.append({0: "neither map's peak hits it", 2: "both maps' peaks hit it"}.get(
            len(hits), f"only the {hits[0] if hits else ''} model's peak hits it"))
    s, d = ga["entropy"], gb["entropy"]
    said.append(f"the {title(a if s < d else b)} model's map is less spread (entropy {min(s, d):.3f} against "
                f"{max(s, d):.3f})" if s != d else "both maps are equally spread")
    text = "; ".join(said)
    return f"**On this frame ({where}):** {text[0].upper() + text[1:]}."
