"""Overlays of maps on frames and the side-by-side panel (frame, a1, a2, diff, attribution).

Sequential colormap for non-negative maps (a1, a2, attribution magnitudes); a diverging colormap
centred at zero with symmetric limits for signed maps (diff, signed attributions), so that white
means "no contribution" and red/blue the two signs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.figure import Figure

SEQUENTIAL = "inferno"
DIVERGING = "RdBu_r"


def color_limits(values: np.ndarray, diverging: bool) -> tuple[float, float]:
    """(vmin, vmax): symmetric about zero for diverging maps, the data range otherwise."""
    v = np.asarray(values, dtype=np.float64)
    if diverging:
        m = float(np.max(np.abs(v))) if v.size else 0.0
        m = m if m > 0 else 1e-12
        return -m, m
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
    return (lo, hi if hi > lo else lo + 1e-12)


def upsample(map2d: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a (gh, gw) map to (H, W) with bilinear interpolation."""
    h, w = size
    return cv2.resize(np.asarray(map2d, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


def colorize(map2d: np.ndarray, diverging: bool = False, limits: tuple[float, float] | None = None) -> np.ndarray:
    """Map values to RGB uint8 with the module's colormaps."""
    lo, hi = limits or color_limits(map2d, diverging)
    norm = TwoSlopeNorm(vmin=lo, vcenter=0.0, vmax=hi) if diverging else Normalize(lo, hi)
    cmap = colormaps[DIVERGING if diverging else SEQUENTIAL]
    return (cmap(norm(np.asarray(map2d)))[..., :3] * 255).astype(np.uint8)


def overlay(image: np.ndarray, map2d: np.ndarray, alpha: float = 0.5, diverging: bool = False,
            limits: tuple[float, float] | None = None) -> np.ndarray:
    """Blend a map (any resolution; upsampled) over an RGB uint8 image."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    img = np.asarray(image)
    heat = colorize(upsample(map2d, img.shape[:2]), diverging, limits)
    return (img.astype(np.float32) * (1 - alpha) + heat.astype(np.float32) * alpha).round().astype(np.uint8)


@dataclass
class PanelItem:
    title: str
    map: np.ndarray | None  # None: show the frame itself
    diverging: bool = False


def panel_figure(image: np.ndarray, items: Sequence[PanelItem], alpha: float = 0.5, suptitle: str = ""):
    """A row of panels with colorbars: the frame, then each map overlaid on it."""
    # a Figure without pyplot: no global backend switch, no shared state between concurrent requests
    fig = Figure(figsize=(3.3 * len(items), 3.6))
    axes = fig.subplots(1, len(items), squeeze=False)
    for ax, item in zip(axes[0], items, strict=True):
        ax.set_axis_off()
        ax.set_title(item.title, fontsize=9)
        if item.map is None:
            ax.imshow(image)
            continue
        up = upsample(item.map, image.shape[:2])
        lo, hi = color_limits(up, item.diverging)
        ax.imshow(image)
        norm = TwoSlopeNorm(vmin=lo, vcenter=0.0, vmax=hi) if item.diverging else Normalize(lo, hi)
        shown = ax.imshow(up, cmap=DIVERGING if item.diverging else SEQUENTIAL, norm=norm, alpha=alpha)
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def figure_to_rgb(fig) -> np.ndarray:
    """Render a matplotlib figure to an RGB uint8 array."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
