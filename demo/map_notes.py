"""The numbers written beside each map in the Frames view: where its mass lies (inside the lesion mask,
on the black rim outside the field of view), how faithful it is, and the rim lesson when it applies."""

from __future__ import annotations

import math

import numpy as np

from diffclip.fov import fov_mask, outside_share
from explain.checks import faithfulness_caption, rim_note
from explain.faithfulness import mass_in_mask


def where_maps_lie(image: np.ndarray, maps: dict[str, np.ndarray], mask: np.ndarray | None = None) -> str:
    """One line for maps read from the attention (no model run): per map, its positive mass in the lesion
    mask (when known) and on the rim; then the rim lesson if one map lies mostly there."""
    parts, worst = [], 0.0
    fov = fov_mask(image)  # one frame, one field of view, whatever the number of maps
    for name, m in maps.items():
        rim = outside_share(m, fov)
        worst = max(worst, rim) if math.isfinite(rim) else worst
        inside = f"{mass_in_mask(m, mask):.0%} in the lesion, " if mask is not None and mask.any() else ""
        parts.append(f"{name}: {inside}{rim:.0%} on the rim" if math.isfinite(rim) else f"{name}: no positive mass")
    uniform = f" (a uniform map: {mask.mean():.0%} in the lesion)" if mask is not None and mask.any() else ""
    line = "Positive mass · " + "; ".join(parts) + uniform + "."
    note = rim_note(worst)
    return line + (f"\n\n**A lesson in this map:** {note}" if note else "")


def faithfulness_note(numbers: dict) -> str:
    """The attribution panel's faithfulness paragraph and, if it applies, the rim lesson."""
    note = rim_note(numbers.get("outside_fov_share", float("nan")))
    return faithfulness_caption(numbers) + (f"\n\n**A lesson in this map:** {note}" if note else "")
