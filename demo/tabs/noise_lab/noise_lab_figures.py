"""What the Noise lab draws and writes: the frame with its lesion and distractor outlines, each model's
last-layer map with its colour bar, lambda per layer and head, the subtraction a1 - lambda a2 as three panels
on one colour scale, and the captions that say what each shows (conventions: explain.display)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure

from explain.display import OUTLINE, Scale, draw_outline, robust_scale, with_colorbar
from explain.overlay import figure_to_rgb, overlay

from ...scores import ood_banner
from .experiment import DRAWN, KIND_NAMES, KINDS, RIM, LabResult, check_layer, clusters, subtraction

# cyan: apart from the lesion's green, from the mucosa's reds and from both colour maps (inferno, RdBu)
DISTRACTOR_OUTLINE = (0, 255, 255)
OUTLINES = "green outline: the lesion mask; cyan outline: the drawn distractors"
# the maps keep the frame's green lesion outline only: 13 distractor outlines over a heat map hide the map
MAP_OUTLINE = "green outline: the lesion mask (the distractors show through the colours; see the frame)"
MODEL_TITLES = {"standard": "standard (vanilla) model", "differential": "differential model"}
KIND_TITLES = {"bubbles": "bubbles", "highlights": "specular highlights", "debris": "debris"}
MAP_TITLES = {"a1": "a1", "diff": "a1 − λ·a2"}
SCALE_ONLY = ("Numbers are shares of the map's positive mass per region; they sum to 1 over the regions, "
              "which do not overlap (a distractor drawn over the lesion counts as the distractor).")


def outlined(image: np.ndarray, lesion: np.ndarray | None, drawn: np.ndarray) -> np.ndarray:
    """``image`` with the lesion's outline (green) and the drawn distractors' outline (cyan); a copy."""
    return draw_outline(draw_outline(image, lesion, OUTLINE), drawn, DISTRACTOR_OUTLINE)


def frame_view(result: LabResult) -> np.ndarray:
    """The frame the models saw, with both outlines."""
    return outlined(result.image, result.lesion, result.drawn)


def map_scale(result: LabResult, model: str) -> Scale:
    """The colour scale of one model's last-layer map: diverging for a signed map (a1 − λ·a2), else from 0."""
    a = result.analyses[model]
    return robust_scale(a.cls_map(a.shown_kind, -1, None), diverging=a.semantics.signed)


def model_view(result: LabResult, model: str, alpha: float = 0.5) -> np.ndarray:
    """One model's last-layer map (head mean) over the frame, both outlines and its colour bar."""
    a = result.analyses[model]
    scale = map_scale(result, model)
    shown = overlay(result.image, a.cls_map(a.shown_kind, -1, None), alpha, scale.diverging, scale.limits)
    return with_colorbar(draw_outline(shown, result.lesion), scale, MAP_TITLES.get(a.shown_kind, a.shown_kind))


def lambda_figure(result: LabResult, layer: int) -> np.ndarray:
    """The differential model's lambda per layer (mean over heads) and per head, the chosen 1-based
    ``layer`` marked."""
    a = result.analyses["differential"]
    lam = a.lam.astype(np.float64)  # (layers, heads)
    x = np.arange(1, lam.shape[0] + 1)
    shared = bool(np.allclose(lam, lam[:, :1]))
    fig = Figure(figsize=(4.4, 3.4), dpi=100, facecolor="white")
    ax = fig.add_subplot()
    ax.axhline(0.0, color="0.6", lw=0.8)
    for h in range(lam.shape[1]):
        ax.scatter(x, lam[:, h], s=160, marker="_", color="C1", linewidths=2, zorder=3,
                   label=("per head (the heads of a layer share one λ here)" if shared else "per head") if h == 0 else None)
    ax.plot(x, lam.mean(1), "o-", color="C0", ms=4, label="mean over the heads")
    ax.axvline(layer, color="0.3", ls=":", lw=1, label=f"layer {layer}, shown below")
    ax.set(xlabel="layer", ylabel="λ (weight of a2 in a1 − λ·a2)", xticks=x)
    ax.set_title("differential model: λ per layer and head", fontsize=9)
    ax.xaxis.label.set_size(8)
    ax.yaxis.label.set_size(8)
    ax.tick_params(labelsize=7)
    # below the axes: inside, the legend would hide points wherever training put them
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.93))  # a blank band on top, where the app puts the image's label
    return figure_to_rgb(fig)


def subtraction_overlays(image: np.ndarray, maps: Sequence[np.ndarray], alpha: float = 0.7,
                         lesion: np.ndarray | None = None):
    """Each map over ``image`` on ONE diverging scale centred at 0 (so that a colour means the same value in
    every panel), with the lesion outline; returns the overlays and the shared :class:`Scale`."""
    scale = robust_scale(*maps, diverging=True)
    return [draw_outline(overlay(image, m, alpha, True, scale.limits), lesion) for m in maps], scale


def subtraction_figure(result: LabResult, layer: int, head: int | None, alpha: float = 0.7):
    """a1, λ·a2 and a1 − λ·a2 of the differential model for a 1-based ``layer`` and a head (None: mean), side
    by side on one colour scale with one colour bar; returns the figure as RGB and the scale."""
    a = result.analyses["differential"]
    li = check_layer(result, layer)
    maps = subtraction(a, li, head)
    panels, scale = subtraction_overlays(result.image, maps, alpha, result.lesion)
    lam = a.lam_value(li, head)
    titles = ("a1 (softmax map 1)", f"λ·a2 (λ = {lam:.3f})", "a1 − λ·a2 (what the layer applies)")
    fig = Figure(figsize=(10.0, 3.7), dpi=100, facecolor="white")
    width = 0.27
    for k, (panel, title) in enumerate(zip(panels, titles, strict=True)):
        ax = fig.add_axes((0.01 + k * (width + 0.02), 0.04, width, 0.78))
        ax.imshow(panel, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(title, fontsize=10)
    for x, sign in ((0.01 + width + 0.01, "−"), (0.01 + 2 * width + 0.03, "=")):
        fig.text(x, 0.43, sign, fontsize=16, ha="center", va="center")
    cax = fig.add_axes((0.885, 0.1, 0.015, 0.66))
    extend = "both" if scale.clipped else "neither"
    bar = fig.colorbar(ScalarMappable(norm=scale.norm, cmap=scale.cmap), cax=cax, extend=extend)
    if not scale.empty:
        bar.set_ticks([scale.lo, scale.lo / 2, 0.0, scale.hi / 2, scale.hi])
    bar.ax.yaxis.set_major_formatter("{x:.2g}")
    bar.ax.tick_params(labelsize=8)
    bar.set_label("attention weight (one scale for all three)", fontsize=8)
    where = f"layer {li + 1} of {a.num_layers}, {'head mean' if head is None else f'head {head}'}"
    fig.suptitle(f"Differential model, {where}: the subtraction", fontsize=11, y=0.97)
    return figure_to_rgb(fig), scale


def _pct(x: float | None) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.0%}"


def frame_caption(result: LabResult) -> str:
    """What the frame shows: which distractors were drawn and how, and the outlines; first, when the frame
    does not look like a capsule frame to the differential model, the same warning as the Frames tab's."""
    ood = result.analyses["differential"].ood
    if ood is not None and ood.in_distribution is False:
        return (ood_banner(ood.reasons, ood.score, ood.threshold, what="shares below describe a picture the models "
                           "were not trained on") + "\n\n" + _frame_words(result))
    return _frame_words(result)


def who_has_less(standard: Mapping, differential: Mapping) -> str:
    """In words, on this frame, which model's last-layer map puts less of its mass on the drawn distractors,
    on the dark rim and on the lesion (``map_numbers`` of each), whichever model that is."""
    regions = (("drawn_distractor_mass", "the drawn distractors"), (RIM, "the dark rim"), ("lesion_mass", "the lesion"))
    said = []
    for key, words in regions:
        s, d = (n["masses"].get(RIM) if key == RIM else n[key] for n in (standard, differential))
        if s is None or d is None or (key == "drawn_distractor_mass" and s == d == 0):
            continue
        if abs(s - d) < 0.005:
            said.append(f"both put about {_pct(s)} on {words}")
        else:
            less = "the standard" if s < d else "the differential"
            said.append(f"{less} model puts less on {words} ({_pct(min(s, d))} against {_pct(max(s, d))})")
    if not said:
        return ""
    text = "; ".join(said)
    return f"**On this frame (last layer, head mean):** {text[0].upper() + text[1:]}. One frame is not the study."


def _frame_words(result: LabResult) -> str:
    n = clusters(result.levels)
    lesion = "" if result.lesion is not None else " (no lesion mask is known for an uploaded frame)"
    size = f"the {result.shape[1]}×{result.shape[0]} crop both models saw"
    if not any(n.values()):
        return f"**{result.name}**: {size}, clean: no distractors drawn (every level at 0) · {OUTLINES}{lesion}."
    drawn = ", ".join(f"{n[k]} cluster{'s' if n[k] != 1 else ''} of {KIND_TITLES[k]}" for k in KINDS)
    return (f"**{result.name}**: {size}, with {drawn}, drawn by the synthetic generator's own drawers (seed "
            f"{result.seed}, fixed by the frame: the same frame and levels give the same picture) · "
            f"{OUTLINES}{lesion}.")


def model_caption(numbers: Mapping, label: str, scale: Scale, model: str) -> str:
    """The numbers under one model's map (``numbers``: :func:`demo.tabs.noise_lab.experiment.map_numbers`)."""
    shares = numbers["masses"]
    rows = [f"**{MODEL_TITLES[model]}** · p({label}) = **{numbers['probability']:.3f}** · last layer, head mean, "
            f"map {MAP_TITLES.get(numbers['map'], numbers['map'])}",
            "", "| where the map's positive mass lies | share |", "|---|---:|"]
    if "lesion" in shares:
        rows.append(f"| lesion | **{_pct(numbers['lesion_mass'])}** |")
    rows.append(f"| drawn distractors | **{_pct(numbers['drawn_distractor_mass'])}** |")
    rows += [f"| · {KIND_TITLES[k]} | {_pct(shares[KIND_NAMES[k]])} |" for k in KINDS]
    rows.append(f"| dark rim outside the field of view | {_pct(shares[RIM])} |")
    rows.append(f"| elsewhere | {_pct(shares['elsewhere'])} |")
    rows.append(f"| all distractors (drawn and the rim) | {_pct(numbers['distractor_mass'])} |")
    rows += ["", f"{SCALE_ONLY} Colours: {scale.note()} · {MAP_OUTLINE}."]
    sinks = numbers.get("sinks", {}).get("last_layer")
    if sinks:
        rows += ["", f"**Attention sinks** (last layer; each head's share of its own positive mass, averaged over "
                     f"the heads, so not the head-mean map's shares above): {_pct(sinks['top_token'])} on the single "
                     f"largest token, {_pct(sinks['rim'])} on the rim, {_pct(sinks['high_norm'])} on "
                     f"{sinks['high_norm_tokens']} high-norm token{'s' if sinks['high_norm_tokens'] != 1 else ''} "
                     "(norm an outlier of the layer's; Darcet et al., 2023)."]
    return "\n".join(rows)


def subtraction_caption(cancel: Mapping, scale: Scale, lambda_per: str = "layer") -> str:
    """What the three panels show and how much of a1's mass the subtraction removes per region
    (``cancel``: :func:`demo.tabs.noise_lab.experiment.cancellation_numbers`)."""
    removed, head = cancel["removed"], cancel["head"]
    lam = "mean λ over the heads" if lambda_per == "head" and head == "mean" else "λ"
    if removed.get(DRAWN) is None:
        said = ["No distractors are drawn here (or a1 puts no mass on them): move a slider above 0."]
    else:
        kinds = ", ".join(f"{KIND_TITLES[k]} {_pct(removed.get(KIND_NAMES[k]))}" for k in KINDS)
        said = [f"The subtraction removes **{_pct(removed[DRAWN])}** of a1's mass on the drawn distractors ({kinds})."]
    if removed.get("lesion") is not None:
        said.append(f"It removes **{_pct(removed['lesion'])}** of a1's mass on the lesion.")
    said.append(f"On the dark rim: {_pct(removed.get(RIM))}; elsewhere: {_pct(removed.get('elsewhere'))}.")
    return (f"**Layer {cancel['layer']}, head {head}, {lam} = {cancel['lambda']:.3f}.** The three panels share one "
            f"diverging colour scale ({scale.note()}): a1 minus λ·a2 is the map the layer applies, blue where "
            f"λ·a2 outweighs a1 · {MAP_OUTLINE}.\n\n" + " ".join(said) +
            " Removed = 1 − (positive mass of a1 − λ·a2 in a region) / (mass of a1 there): 1 means all of a1's "
            "mass there cancelled, 0 none of it.")
