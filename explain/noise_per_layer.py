"""Attention noise per layer of an analysed frame (the metrics themselves: :mod:`diffclip.attention_noise`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from diffclip.attention_noise import cancellation, masses


def per_layer(analysis, parts: Mapping[str, np.ndarray], head: int | None = None) -> list[dict]:
    """Per layer of an analysed frame (``explain.analysis.FrameAnalysis``): the shares of the map the layer
    shows and, for differential attention, a1's shares and what the subtraction removes. For the head mean,
    a2 is weighted by each head's own lambda before averaging, so the subtraction is exactly the head mean of
    a1 - lambda a2 (variants with a lambda per head too)."""
    rows = []
    for layer in range(analysis.num_layers):
        row = {"layer": layer, "shown": masses(analysis.cls_map(analysis.shown_kind, layer, head), parts)}
        if analysis.has_second_map:
            lam = analysis.lam_value(layer, head)
            if head is None:
                weighted = analysis.lam[layer][:, None, None] * analysis.cls_rows["a2"][layer].astype(np.float64)
                row.update(cancellation(analysis.cls_map("a1", layer), weighted.mean(0), 1.0, parts))
            else:
                row.update(cancellation(analysis.cls_map("a1", layer, head), analysis.cls_map("a2", layer, head), lam,
                                        parts))
            row["lambda"] = lam
        rows.append(row)
    return rows
