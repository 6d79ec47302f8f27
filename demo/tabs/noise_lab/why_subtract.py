"""'Why subtract?': differential attention's subtraction a1 - lambda a2 (Ye et al., "Differential
Transformer", ICLR 2025) on a made-up attention row of 64 positions, no model needed.

Each map is a mix of uniform distributions over disjoint position sets: the lesion (signal), distractors
that both maps attend to (common noise), and noise that only one map has (E1 for a1, E2 for a2). The
numbers shown are computed from the rows themselves; tests/test_why_subtract.py checks them against the
closed form by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gradio as gr
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from explain.overlay import figure_to_rgb

N = 64
SIGNAL = tuple(range(20, 28))  # the lesion: one contiguous run, as a lesion is on a row of patches
COMMON = (2, 9, 35, 41, 48, 52, 58, 61)  # distractors both maps attend to (bubbles, highlights)
ONLY_A1 = (5, 13, 17, 30, 38, 44, 54, 63)  # noise of a1 alone
ONLY_A2 = (0, 11, 15, 32, 39, 46, 56, 60)  # noise of a2 alone, disjoint from a1's: it cannot cancel
_SETS = (SIGNAL, COMMON, ONLY_A1, ONLY_A2)
assert len({p for s in _SETS for p in s}) == sum(map(len, _SETS)), "the position sets must be disjoint"


@dataclass(frozen=True)
class Preset:
    """Masses of a1 (s1 signal, c common, e own noise) and a2 (s2 signal, c2 common, e own noise)."""

    name: str
    title: str
    s1: float
    c: float
    e: float
    s2: float

    @property
    def c2(self) -> float:
        """a2's common-noise mass: whatever a2 does not put on the lesion or on its own noise."""
        return 1.0 - self.s2 - self.e


# Both presets share a1; only a2 differs. In "common", c2 = 2c, so the common noise cancels exactly at
# lambda = c / c2 = 0.5, the slider's starting point. In "shared_signal" a2 also looks at the lesion (s2 = 0.40,
# close to s1), so the subtraction takes signal away as well: on the polyp example the bundled diff model's
# last layer removes 79% of a1 on the lesion against 38% on the drawn distractors at level 1 (docs/noise-lab.md).
PRESETS: dict[str, Preset] = {
    "common": Preset("common", "Noise common to both maps (a2 ignores the lesion)", 0.45, 0.45, 0.10, 0.0),
    "shared_signal": Preset("shared_signal", "a2 also attends to the lesion",
                            0.45, 0.45, 0.10, 0.40),
}
BY_TITLE = {p.title: p for p in PRESETS.values()}
ROW_LABELS = {"a1": "a1", "lam_a2": "λ·a2", "diff": "a1 − λ·a2"}
LESSONS = {
    "common": ("In this made-up row, a2 puts its mass on the distractors, not on the lesion, so subtracting it "
               "cancels the common "
               "noise and keeps all the signal: the signal-to-noise ratio is best near λ = c / c2 = 0.5, and "
               "past it the subtraction overshoots into negative values at the distractors."),
    "shared_signal": ("a2 attends to the lesion too, so the subtraction removes signal along with the common "
                      "noise, while the two maps' own noise adds up: the signal-to-noise ratio only falls as λ "
                      "grows. Whether the trained models are in this case is measured below, on real frames: the subtraction "
                      "panel says how much of a1 is removed on the lesion and on the distractors."),
}
HEDGE = ("A constructed example (uniform masses on made-up positions), not a measurement of any model; "
         "the argument is Ye et al., ICLR 2025.")


def _uniform(positions: tuple[int, ...], mass: float) -> np.ndarray:
    """``mass`` split equally over ``positions`` of a length-N row."""
    row = np.zeros(N, dtype=np.float64)
    row[list(positions)] = mass / len(positions)
    return row


def rows(preset: Preset, lam: float) -> dict[str, np.ndarray]:
    """The rows a1, lambda·a2 and a1 - lambda·a2 (float64, length N), built position by position."""
    a1 = _uniform(SIGNAL, preset.s1) + _uniform(COMMON, preset.c) + _uniform(ONLY_A1, preset.e)
    a2 = _uniform(SIGNAL, preset.s2) + _uniform(COMMON, preset.c2) + _uniform(ONLY_A2, preset.e)
    lam_a2 = lam * a2
    return {"a1": a1, "lam_a2": lam_a2, "diff": a1 - lam_a2}


def _mass(row: np.ndarray, positions: tuple[int, ...]) -> float:
    """Absolute mass of ``row`` on ``positions`` (absolute: negative values are noise or signal too)."""
    return float(np.abs(row[list(positions)]).sum())


def snr(row: np.ndarray, signal_positions: tuple[int, ...] | list[int]) -> float:
    """Absolute mass on the signal positions over absolute mass everywhere else (inf when that is 0)."""
    inside = np.zeros(len(row), dtype=bool)
    inside[list(signal_positions)] = True
    signal, noise = float(np.abs(row[inside]).sum()), float(np.abs(row[~inside]).sum())
    return math.inf if noise == 0 else signal / noise


def _preset(name: str) -> Preset:
    """The preset called ``name`` (its key or its title), or a plain gr.Error."""
    found = PRESETS.get(name) or BY_TITLE.get(name)
    if found is None:
        raise gr.Error(f"Unknown example {name!r}: pick one of the listed examples.")
    return found


def _lambda(lam: object) -> float:
    """``lam`` as a float in [0, 1], or a plain gr.Error (a slider value can be typed in)."""
    try:
        value = float(lam)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise gr.Error("λ must be a number between 0 and 1.") from None
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise gr.Error(f"λ must be between 0 and 1; got {value:g}.")
    return value


def figure(preset_name: str, lam: float) -> np.ndarray:
    """The three rows as heat strips on one diverging scale centred on 0, lesion and distractors marked."""
    preset, lam = _preset(preset_name), _lambda(lam)
    r = rows(preset, lam)
    limit = max(float(np.abs(v).max()) for v in r.values()) or 1.0  # one symmetric scale for all three
    fig = Figure(figsize=(9.0, 4.2), dpi=100, facecolor="white")
    grid = fig.add_gridspec(4, 2, height_ratios=[1.0, 1, 1, 1], width_ratios=[40, 1], hspace=0.35,
                            wspace=0.03, left=0.11, right=0.9, top=0.83, bottom=0.12)
    marks = fig.add_subplot(grid[0, 0])
    image = None
    keys = ("a1", "lam_a2", "diff")
    for i, key in enumerate(keys):
        ax = fig.add_subplot(grid[i + 1, 0], sharex=marks)
        image = ax.imshow(r[key][None, :], cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto",
                          extent=(-0.5, N - 0.5, 0, 1), interpolation="nearest")
        ax.set_yticks([0.5], [ROW_LABELS[key]], fontsize=12)
        # the lesion's edges through every strip, so a reader sees what happens to it row by row
        for x in (SIGNAL[0] - 0.5, SIGNAL[-1] + 0.5):
            ax.axvline(x, color="green", lw=1.5, ls="--")
        ax.tick_params(axis="x", labelbottom=i == len(keys) - 1, labelsize=10)  # positions under the last row
    marks.set_ylim(0, 1)
    marks.axis("off")
    # green bracket over the lesion; dark triangles over the distractors; grey ticks for each map's own noise
    lo, hi = SIGNAL[0] - 0.4, SIGNAL[-1] + 0.4
    marks.plot([lo, lo, hi, hi], [0.05, 0.3, 0.3, 0.05], color="green", lw=2.5)
    marks.text((lo + hi) / 2, 0.42, "lesion (signal)", color="green", ha="center", va="bottom", fontsize=11,
               fontweight="bold")
    marks.plot(COMMON, [0.15] * len(COMMON), "v", color="black", ms=9)
    marks.plot(ONLY_A1, [0.15] * len(ONLY_A1), "|", color="dimgray", ms=12, mew=2)
    marks.plot(ONLY_A2, [0.15] * len(ONLY_A2), "x", color="dimgray", ms=7, mew=1.5)
    # a key above the marks: labels beside the markers would collide with the lesion's label
    fig.legend(handles=[Line2D([], [], ls="", marker=m, color=col, ms=ms, mew=mew, label=text)
                        for m, col, ms, mew, text in (("v", "black", 9, 1, "distractors (common to both maps)"),
                                                      ("|", "dimgray", 12, 2, "a1-only noise"),
                                                      ("x", "dimgray", 7, 1.5, "a2-only noise"))],
               loc="upper center", bbox_to_anchor=(0.5, 0.92), ncol=3, frameon=False, fontsize=10.5)
    fig.axes[-1].set_xlabel("position in the row (e.g. image patch)", fontsize=10)
    bar = fig.colorbar(image, cax=fig.add_subplot(grid[1:, 1]))
    bar.set_label("attention weight\n(blue < 0 < red)", fontsize=10)
    bar.ax.tick_params(labelsize=9)
    fig.suptitle(f"{preset.title}: λ = {lam:.2f}", fontsize=13)
    return figure_to_rgb(fig)


def caption(preset_name: str, lam: float) -> str:
    """Markdown: what the rows are, signal-to-noise before and after, signal and common noise kept."""
    preset, lam = _preset(preset_name), _lambda(lam)
    r = rows(preset, lam)
    before, after = snr(r["a1"], SIGNAL), snr(r["diff"], SIGNAL)
    kept = _mass(r["diff"], SIGNAL) / _mass(r["a1"], SIGNAL)
    common = _mass(r["diff"], COMMON) / _mass(r["a1"], COMMON)
    own = _mass(r["diff"], ONLY_A1 + ONLY_A2) / _mass(r["a1"], ONLY_A1)
    return (f"**Rows:** a1 and a2 are two softmax attention rows over {N} positions (each sums to 1); the "
            f"differential map is a1 − λ·a2 at λ = {lam:.2f}. Red is positive, blue negative, on one scale.\n\n"
            f"**Signal-to-noise** (mass on the lesion / mass elsewhere, absolute values): "
            f"a1 {before:.2f} → a1 − λ·a2 {after:.2f}.\n\n"
            f"**Kept by the subtraction:** signal {kept:.0%} of a1's; common noise {common:.0%}; "
            f"each map's own noise {own:.0%} (not shared by the maps, so it adds up).\n\n"
            f"{LESSONS[preset.name]}\n\n*{HEDGE}*")


def on_change(preset_title: str, lam: float) -> tuple[np.ndarray, str]:
    """Redraw for a picked example and λ; gr.Error with a plain sentence for a bad input."""
    return figure(preset_title, lam), caption(preset_title, lam)


def build() -> None:
    """The accordion, inside the caller's gr.Blocks; its events stay out of the app's API."""
    first, lam = PRESETS["common"].title, 0.5
    with gr.Accordion("Why subtract? The mechanism on a made-up attention row", open=False,
                      elem_id="why-subtract"):
        preset = gr.Radio([p.title for p in PRESETS.values()], value=first, label="Example",
                          elem_id="why-preset")
        slider = gr.Slider(0, 1, step=0.05, value=lam, label="λ", elem_id="why-lambda")
        image = gr.Image(figure(first, lam), type="numpy", elem_id="why-figure", interactive=False,
                         label="a1, λ·a2 and a1 − λ·a2 on one colour scale (made-up rows)", show_label=False)
        text = gr.Markdown(caption(first, lam), elem_id="why-caption")
    # always_last: dragging the slider redraws once for the latest value, not once per step
    gr.on([preset.change, slider.change], on_change, [preset, slider], [image, text], queue=False,
          show_progress="hidden", trigger_mode="always_last", api_visibility="private")
