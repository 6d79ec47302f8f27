"""How a map is shown: robust colour limits, a colour bar beside it, and the lesion outline on it.

Colour limits follow Captum's visualisation convention (``outlier_perc``): the scale saturates at the value
below which 98% of the map's absolute mass lies, so one hot pixel cannot wash the rest of the map out.
Signed maps use a diverging colour map centred at zero with symmetric limits; magnitudes and non-negative
maps (attention) a sequential one from zero. docs/design.md, "Reading a map", says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize, TwoSlopeNorm
from PIL import Image

from .colour_bar import BAR_WIDTH, draw_colour_bar
from .overlay import DIVERGING, SEQUENTIAL, overlay

OUTLIER_PERC = 2.0  # Captum's default: the top 2% of the absolute mass saturates the colours
OUTLINE = (0, 255, 0)  # the lesion mask's outline: green is neither in inferno nor in RdBu


@dataclass(frozen=True)
class Scale:
    """Colour limits of one panel (or of several panels shown on one scale)."""

    lo: float
    hi: float
    diverging: bool
    clipped: bool  # some values lie beyond the limits and show at full colour
    outlier_perc: float = OUTLIER_PERC
    empty: bool = False  # the map is zero everywhere: there is nothing to show

    @property
    def cmap(self):
        return colormaps[DIVERGING if self.diverging else SEQUENTIAL]

    @property
    def norm(self):
        return TwoSlopeNorm(vmin=self.lo, vcenter=0.0, vmax=self.hi) if self.diverging else Normalize(self.lo, self.hi)

    @property
    def limits(self) -> tuple[float, float]:
        return self.lo, self.hi

    def note(self) -> str:
        """One sentence on what the colours mean, for a caption."""
        if self.empty:
            return "the map is 0 everywhere: nothing to show"
        if self.diverging:
            text = f"red positive, blue negative, white 0; limits ±{self.hi:.3g}"
        else:
            text = f"from 0 (dark) to {self.hi:.3g} (bright)"
        if self.clipped:
            # the convention itself is explained once, in the glossary under each tab (demo.glossary)
            text += f"; its top {self.outlier_perc:g}% of mass at full colour"
        return text


def robust_scale(*maps: np.ndarray, diverging: bool, outlier_perc: float = OUTLIER_PERC) -> Scale:
    """One :class:`Scale` for the given maps together: saturates at Captum's cumulative-sum threshold of
    their absolute values at ``100 - outlier_perc`` percent of the mass."""
    values = np.concatenate([np.abs(np.asarray(m, np.float64)).ravel() for m in maps])
    values = values[np.isfinite(values)]
    if values.size == 0 or values.max() <= 0:
        return Scale(-1.0 if diverging else 0.0, 1.0, diverging, False, outlier_perc, empty=True)
    limit = cumulative_mass_limit(values, 100.0 - outlier_perc)
    limit = limit if limit > 0 else float(values.max())
    return Scale(-limit if diverging else 0.0, limit, diverging, bool(values.max() > limit), outlier_perc)


def cumulative_mass_limit(values: np.ndarray, percentile: float) -> float:
    """The smallest of the (non-negative) ``values`` up to which, in ascending order, they hold ``percentile``
    percent of their sum: Captum's colour limit for ``outlier_perc`` (its ``visualize_image_attr``), restated
    here because Captum keeps the function private; tests/test_display.py checks the two agree."""
    ordered = np.sort(np.asarray(values).ravel())
    cumulative = np.cumsum(ordered)
    return float(ordered[np.searchsorted(cumulative, cumulative[-1] * 0.01 * percentile)])


def draw_outline(rgb: np.ndarray, mask: np.ndarray | None, colour=OUTLINE, thickness: int = 1) -> np.ndarray:
    """``rgb`` with the outline of ``mask`` (bool, same height and width) drawn on it; a copy."""
    out = np.ascontiguousarray(rgb).copy()
    if mask is None or not np.any(mask):
        return out
    mask = np.asarray(mask)
    if mask.shape != out.shape[:2]:
        raise ValueError(f"mask {mask.shape} does not match the image {out.shape[:2]}")
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, colour, thickness)
    return out


def with_colorbar(rgb: np.ndarray, scale: Scale, label: str = "") -> np.ndarray:
    """The image with a labelled colour bar on its right, as one RGB array (what is saved is what is read): a
    4-pixel white margin around the image, the bar 10 pixels right of it, from 12 pixels below the image's top to
    12 above its bottom (room for the end arrows), drawn by :func:`explain.colour_bar.draw_colour_bar`."""
    h, w = rgb.shape[:2]
    canvas = Image.new("RGB", (w + 110, h + 8), "white")
    canvas.paste(Image.fromarray(np.ascontiguousarray(np.asarray(rgb)[..., :3])), (4, 4))
    # below 40 pixels there is no room for the end arrows: the bar spans the image's height
    top, length = (16, h - 24) if h >= 40 else (4, max(h, 1))
    draw_colour_bar(canvas, (w + 14, top, BAR_WIDTH, length), scale.lo, scale.hi,
                    DIVERGING if scale.diverging else SEQUENTIAL, scale.diverging,
                    extend_low=scale.clipped and scale.diverging, extend_high=scale.clipped, label=label,
                    ticks=not scale.empty)
    return np.array(canvas)  # writable, as callers may draw on it


def show_map(image: np.ndarray, map2d: np.ndarray, alpha: float, scale: Scale, label: str = "",
             mask: np.ndarray | None = None) -> np.ndarray:
    """The map over the frame on ``scale``, the lesion outline when a mask is known, and a colour bar."""
    blended = overlay(image, map2d, alpha, diverging=scale.diverging, limits=scale.limits)
    return with_colorbar(draw_outline(blended, mask), scale, label)
