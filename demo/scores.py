"""Per-label scores as an HTML bar list: each label's threshold marked, its group's colour named in a
legend, and, where the truth is known, whether each prediction is a hit, a miss or a false alarm."""

from __future__ import annotations

import html
from collections.abc import Collection, Sequence

import numpy as np

from diffclip.labels import GROUP_COLOURS, label_group

#: outcome -> (mark, words); marks differ in shape, not only in colour
OUTCOMES = {
    "hit": ("&#10004;", "hit: predicted and true"),
    "miss": ("&#9675;", "missed: true but not predicted"),
    "false alarm": ("&#10008;", "false alarm: predicted but not true"),
}


def outcome(predicted: bool, true: bool) -> str | None:
    """"hit", "miss", "false alarm" or None (correctly absent)."""
    return "hit" if predicted and true else "miss" if true else "false alarm" if predicted else None


def _legend(truth_known: bool) -> str:
    groups = " ".join(f'<span class="dc-swatch" style="background:{c}"></span>{g}' for g, c in GROUP_COLOURS.items())
    parts = [f"bar colour: {groups}", "bar length: probability", "tick across the bar: the label's threshold",
             "bold: predicted"]
    if truth_known:
        parts.append(" ".join(f'<span class="dc-mark dc-{k.replace(" ", "-")}">{m}</span> {w.split(":")[0]}'
                              for k, (m, w) in OUTCOMES.items()))
    return '<div class="dc-legend">' + " &nbsp;|&nbsp; ".join(parts) + "</div>"


def scores_html(probs: np.ndarray, thresholds: Sequence[float], labels: Sequence[str], sort: bool = True,
                truth: Collection[str] | None = None, banner: str = "") -> str:
    """One row per label: a bar for the probability in its group's colour, a tick at the threshold, the
    label in bold when it is predicted (probability >= threshold) and, with ``truth`` (the true labels),
    a mark for hit, miss or false alarm. ``banner`` (HTML) goes above the bars."""
    order = np.argsort(-np.asarray(probs)) if sort else np.arange(len(labels))
    rows = []
    for j in order:
        p, t, lab = float(probs[j]), float(thresholds[j]), labels[j]
        on = p >= t
        colour = GROUP_COLOURS[label_group(lab)]
        kind = outcome(on, lab in truth) if truth is not None else None
        mark = (f'<span class="dc-mark dc-{kind.replace(" ", "-")}" title="{OUTCOMES[kind][1]}">'
                f"{OUTCOMES[kind][0]}</span>") if kind else '<span class="dc-mark"></span>'
        rows.append(
            f'<div class="dc-row" data-label="{html.escape(lab)}" data-on="{int(on)}" data-outcome="{kind or ""}">'
            f'<span class="dc-name" style="font-weight:{700 if on else 400}">{html.escape(lab)}</span>{mark}'
            f'<span class="dc-bar"><span class="dc-fill" style="width:{100 * p:.1f}%;background:{colour};'
            f'opacity:{1.0 if on else 0.45}"></span>'
            f'<span class="dc-thr" style="left:{100 * t:.1f}%" title="threshold {t:.2f}"></span></span>'
            f'<span class="dc-val">{p:.2f}</span></div>'
        )
    known = "" if truth is None else (
        f'<div class="dc-truth">Truth known for this frame: {html.escape(", ".join(sorted(truth)) or "no label")}</div>')
    return f'<div class="dc-scores">{banner}{_legend(truth is not None)}{known}{"".join(rows)}</div>'


def ood_banner(reasons: Sequence[str], score: float | None = None, threshold: float | None = None,
               what: str = "scores below are not to be trusted",
               headline: str = "This does not look like a capsule endoscopy frame.") -> str:
    """The warning shown above a view's numbers when a frame does not look like the training frames (the
    same in every tab; ``what`` says what it means for that view's numbers)."""
    why = "; ".join(html.escape(r) for r in reasons)
    number = f" (score {score:.3g}, threshold {threshold:.3g})" if score is not None and threshold is not None else ""
    return (f'<div class="dc-warning dc-ood" role="alert"><b>{html.escape(headline)}</b> '
            f"The {html.escape(what)}{number}{': ' + why if why else ''}.</div>")


def flagged_banner(names: Sequence[str], total: int, noun: str, prefix: str, what: str, named: int) -> str:
    """:func:`ood_banner` for a set or a clip: "k of n <noun> do not look like capsule endoscopy frames", naming
    the first ``named`` flagged ones after ``prefix``; empty when ``names`` is empty."""
    if not names:
        return ""
    which = ", ".join(names[:named]) + (", …" if len(names) > named else "")
    return ood_banner([f"{prefix} {which}"], what=what,
                      headline=f"{len(names)} of {total} {noun} do not look like capsule endoscopy frames.")


CSS = """
.dc-scores {font-size: 13px}
.dc-legend {color: var(--body-text-color-subdued); margin-bottom: 4px; font-size: 12px}
.dc-swatch {display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 3px 0 6px}
.dc-truth {font-size: 12px; margin-bottom: 4px}
.dc-row {display: flex; align-items: center; gap: 8px; margin: 2px 0}
.dc-name {width: 150px; text-align: right}
.dc-mark {width: 14px; text-align: center; font-weight: 700}
.dc-hit {color: #2f9e44} .dc-miss {color: #e8590c} .dc-false-alarm {color: #c92a2a}
.dc-bar {position: relative; flex: 1; height: 12px; background: var(--border-color-primary); border-radius: 3px}
.dc-fill {position: absolute; left: 0; top: 0; bottom: 0; border-radius: 3px}
.dc-thr {position: absolute; top: -3px; bottom: -3px; width: 2px; background: var(--body-text-color)}
.dc-val {width: 36px; font-variant-numeric: tabular-nums}
/* the theme's own error colours: readable in light and dark mode (Spaces follows the system theme) */
.dc-warning {background: var(--error-background-fill); border: 1px solid var(--error-border-color);
             padding: 6px 10px; border-radius: 6px; margin-bottom: 6px}
.dc-warning, .dc-warning * {color: var(--error-text-color) !important}
/* a map's picture starts below Gradio's block label and toolbar, which otherwise cover its top corners: the
   colour bar's top tick label sits in the right one */
.dc-map .image-container {padding-top: 30px}
/* a row of threshold sliders: each name on its own line above its number box, the sliders on one line
   whatever the names' lengths (a long name once pushed its box, and its slider, down a line) */
.dc-threshold > .wrap {display: flex; flex-direction: column; justify-content: space-between; height: 100%}
.dc-threshold .head {flex-direction: column; align-items: stretch !important; gap: 4px}
"""
