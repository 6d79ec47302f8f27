"""Mucosa textures: one colour and texture per section of the gut."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

SECTION_COLOURS = {
    "mouth": (0.86, 0.56, 0.58),
    "esophagus": (0.90, 0.74, 0.70),
    "stomach": (0.80, 0.36, 0.24),
    "small intestine": (0.86, 0.64, 0.34),
    "colon": (0.80, 0.56, 0.47),
}


def _noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    n = gaussian_filter(rng.normal(0, 1, shape).astype(np.float32), sigma, mode="wrap")
    return n / (n.std() + 1e-6)


def make_texture(section: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A (3 size, 3 size, 3) float texture in [0, 1] with the section's colour and pattern."""
    t = 3 * size
    s = size / 224.0
    yy, xx = np.mgrid[0:t, 0:t].astype(np.float32)
    colour = np.array(SECTION_COLOURS[section], np.float32) * rng.uniform(0.94, 1.06, 3)
    lum = 0.06 * _noise(rng, (t, t), 10 * s)
    tint = np.zeros((t, t, 3), np.float32)
    if section == "mouth":
        patches = _noise(rng, (t, t), 14 * s) > 1.0  # saliva and tongue highlights
        tint[patches] += (0.12, 0.2, 0.18)
    elif section == "esophagus":
        warp = 6 * _noise(rng, (t, t), 20 * s)
        lum += 0.1 * np.sin((xx + warp) / (5.0 * s))  # longitudinal striations
    elif section == "stomach":
        warp = 18 * _noise(rng, (t, t), 25 * s)
        lum += 0.16 * np.sin((xx * 0.6 + yy * 0.8 + warp) / (9.0 * s))  # rugae
    elif section == "small intestine":
        lum += 0.12 * _noise(rng, (t, t), 1.2 * s)  # villi: fine grain
        tint[..., 2] -= 0.04 * _noise(rng, (t, t), 6 * s)
    elif section == "colon":
        vessels = np.abs(_noise(rng, (t, t), 5 * s)) < 0.12  # thin vessel network
        tint[vessels] -= (0.12, 0.3, 0.28)
        lum += 0.08 * np.sin((yy + 10 * _noise(rng, (t, t), 30 * s)) / (16.0 * s))  # haustral folds
    tex = colour[None, None, :] * (1.0 + lum[..., None]) + tint
    return np.clip(tex, 0.0, 1.0).astype(np.float32)
