"""The circular field of view of a capsule frame: the lit disc inside the black rim.

A capsule camera sees through a round window; everything outside it is (near) black. We call a pixel
outside the field of view when it is dark and its dark region reaches the image border, so dark content
inside the disc (a lumen, a dark lesion) stays inside. Explanation maps report how much of their mass
falls outside (``explain``), and the out-of-distribution check asks whether a frame has such a rim at all.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

DARK = 20  # 0..255: the brightest channel of a rim pixel stays below this (JPEG noise included)


def fov_mask(rgb: np.ndarray, dark: int = DARK) -> np.ndarray:
    """Boolean (H, W) mask, True inside the field of view, for an RGB (H, W, 3) or grey (H, W) uint8 image."""
    img = np.asarray(rgb)
    if img.ndim == 3:
        img = img.max(axis=2)
    if img.ndim != 2:
        raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {np.asarray(rgb).shape}")
    dim = img < dark
    regions, _ = ndimage.label(dim)
    edge = np.unique(np.concatenate([regions[0], regions[-1], regions[:, 0], regions[:, -1]]))
    outside = np.isin(regions, edge[edge > 0])
    return ~outside


def outside_share(map2d: np.ndarray, inside: np.ndarray) -> float:
    """Share of a map's positive mass that lies outside the field of view (``inside`` from :func:`fov_mask`;
    the map is resized to it with nearest neighbours' areas, i.e. each map cell covers its pixels).
    NaN when the map has no positive mass."""
    inside = np.asarray(inside, bool)
    m = np.clip(np.asarray(map2d, np.float64), 0, None)
    if m.shape != inside.shape:
        # a (gh, gw) token map: each cell's share of pixels inside the disc weighs its mass
        gh, gw = m.shape
        h, w = inside.shape
        if h % gh or w % gw:
            raise ValueError(f"map {m.shape} does not tile the image {inside.shape}")
        frac_in = inside.reshape(gh, h // gh, gw, w // gw).mean(axis=(1, 3))
    else:
        frac_in = inside.astype(np.float64)
    total = m.sum()
    return float((m * (1 - frac_in)).sum() / total) if total > 0 else float("nan")
