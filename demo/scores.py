"""Per-label scores as an HTML bar list with each label's threshold marked."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

from diffclip.labels import GROUP_COLOURS, label_group


def scores_html(probs: np.ndarray, thresholds: Sequence[float], labels: Sequence[str], sort: bool = True) -> str:
    """One row per label: a bar for the probability, a tick at the threshold, the label in bold when it
    is predicted (probability >= threshold)."""
    order = np.argsort(-np.asarray(probs)) if sort else np.arange(len(labels))
    rows = []
    for j in order:
        p, t, lab = float(probs[j]), float(thresholds[j]), labels[j]
        on = p >= t
        colour = GROUP_COLOURS[label_group(lab)]
        rows.append(
            f'<div class="dc-row" data-label="{html.escape(lab)}" data-on="{int(on)}">'
            f'<span class="dc-name" style="font-weight:{700 if on else 400}">{"&#10003; " if on else ""}'
            f"{html.escape(lab)}</span>"
            f'<span class="dc-bar"><span class="dc-fill" style="width:{100 * p:.1f}%;background:{colour};'
            f'opacity:{1.0 if on else 0.45}"></span>'
            f'<span class="dc-thr" style="left:{100 * t:.1f}%" title="threshold {t:.2f}"></span></span>'
            f'<span class="dc-val">{p:.2f}</span></div>'
        )
    return ('<div class="dc-scores"><div class="dc-legend">bar: probability &nbsp;|&nbsp; black tick: '
            "the label's threshold &nbsp;|&nbsp; &#10003; predicted</div>" + "".join(rows) + "</div>")


CSS = """
.dc-scores {font-size: 13px}
.dc-legend {color: var(--body-text-color-subdued); margin-bottom: 4px; font-size: 12px}
.dc-row {display: flex; align-items: center; gap: 8px; margin: 2px 0}
.dc-name {width: 150px; text-align: right}
.dc-bar {position: relative; flex: 1; height: 12px; background: var(--border-color-primary); border-radius: 3px}
.dc-fill {position: absolute; left: 0; top: 0; bottom: 0; border-radius: 3px}
.dc-thr {position: absolute; top: -3px; bottom: -3px; width: 2px; background: var(--body-text-color)}
.dc-val {width: 36px; font-variant-numeric: tabular-nums}
/* the theme's own error colours: readable in light and dark mode (Spaces follows the system theme) */
.dc-warning {background: var(--error-background-fill); border: 1px solid var(--error-border-color);
             padding: 6px 10px; border-radius: 6px}
.dc-warning, .dc-warning * {color: var(--error-text-color) !important}
"""
