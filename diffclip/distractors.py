"""Distractors: what a capsule frame shows besides mucosa and findings (bubbles, specular highlights,
debris, the dark rim outside the field of view), their mask codes, and the drawing functions the synthetic
generator and the Noise lab share (docs/design.md, "Distractors").

Each drawer paints one cluster into a float RGB frame in place and returns its alpha; the mask marks
alpha > 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .fov import fov_mask
from .paint import blend, circle, fill, polygon

#: The distractor mask's codes (uint8 PNG beside each synthetic frame); 0 is none.
CODES: dict[int, str] = {1: "bubble", 2: "specular highlight", 3: "debris", 4: "outside the field of view"}
#: The generator's instance kinds that are distractors, and their codes.
KIND_CODES: dict[str, int] = {"bubbles": 1, "highlights": 2, "debris": 3}
OUTSIDE = 4


def draw_bubbles(img: np.ndarray, rng: np.random.Generator, c, r: float, rim=(0.97, 0.97, 0.95),
                 fill=(0.9, 0.95, 0.9)) -> np.ndarray:
    """A cluster of 6-13 translucent bubbles with bright rims and glints (colours: the rims' and the fill's)."""
    alpha = np.zeros(img.shape[:2], np.float32)
    for _ in range(int(rng.integers(6, 14))):
        off = rng.normal(0, 0.25 * r, 2)
        centre = (c[0] + off[0], c[1] + off[1])
        rad = rng.uniform(0.03, 0.1) * r
        disc = circle(img.shape[:2], centre, rad)
        inner = circle(img.shape[:2], centre, rad * 0.8)
        blend(img, (disc - inner).clip(0, 1) * 0.8, rim)
        blend(img, inner * 0.15, fill)
        glint = circle(img.shape[:2], (centre[0] - 0.4 * rad, centre[1] - 0.4 * rad), 0.2 * rad)
        blend(img, glint, (1.0, 1.0, 1.0))
        np.maximum(alpha, disc, out=alpha)
    return alpha


def draw_highlights(img: np.ndarray, rng: np.random.Generator, c, r: float, colour=(1.0, 1.0, 1.0)) -> np.ndarray:
    """2-5 specular glints (the capsule's LEDs reflected by wet mucosa): white, soft-edged, elongated."""
    alpha = np.zeros(img.shape[:2], np.float32)
    for _ in range(int(rng.integers(2, 6))):
        off = rng.normal(0, 0.15 * r, 2)
        length, width = rng.uniform(0.03, 0.08) * r, rng.uniform(0.012, 0.03) * r
        angle = rng.uniform(0, math.pi)
        n = 5
        for k in range(n):  # an elongated glint as a row of discs
            s = (k / (n - 1) - 0.5) * length
            centre = (c[0] + off[0] + s * math.cos(angle), c[1] + off[1] + s * math.sin(angle))
            np.maximum(alpha, circle(img.shape[:2], centre, width, blur=0.3 * width), out=alpha)
    blend(img, alpha, colour)
    return alpha


def draw_debris(img: np.ndarray, rng: np.random.Generator, c, r: float, colour=(0.45, 0.42, 0.12)) -> np.ndarray:
    """3-6 clumps of yellow-brown food residue."""
    polys = [polygon(rng, (c[0] + dx, c[1] + dy), rng.uniform(0.04, 0.1) * r, 0.6, 20)
             for dx, dy in rng.normal(0, 0.2 * r, (int(rng.integers(3, 7)), 2))]
    alpha = fill(img.shape[:2], polys, blur=0.01 * r)
    blend(img, alpha * 0.85, colour)
    return alpha


DRAWERS: dict[str, Callable[[np.ndarray, np.random.Generator, tuple[float, float], float], np.ndarray]] = {
    "bubbles": draw_bubbles,
    "highlights": draw_highlights,
    "debris": draw_debris,
}
#: The most clusters the Noise lab adds per kind at level 1 (level L draws the first round(L * n)).
LAB_CLUSTERS: dict[str, int] = {"bubbles": 4, "highlights": 5, "debris": 4}


def add_distractors(rgb: np.ndarray, levels: dict[str, float], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Draw distractors over a clean uint8 RGB frame with the generator's drawers: for each kind in
    :data:`DRAWERS`, ``levels[kind]`` in [0, 1] draws the first round(level * LAB_CLUSTERS[kind]) clusters of a
    sequence fixed by ``seed``, so a higher level adds clusters and keeps the earlier ones. Returns the new
    frame and its distractor mask (codes as in :data:`CODES`; the rim outside the field of view is 4)."""
    img = np.asarray(rgb)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got {img.shape} {img.dtype}")
    unknown = set(levels) - set(DRAWERS)
    if unknown:
        raise ValueError(f"unknown distractor kinds {sorted(unknown)}; known: {sorted(DRAWERS)}")
    for kind, level in levels.items():
        if not 0.0 <= float(level) <= 1.0:
            raise ValueError(f"{kind} level must lie in [0, 1], got {level}")
    inside = fov_mask(img)
    h, w = inside.shape
    r = min(h, w) / 2
    out = img.astype(np.float32) / 255.0
    codes = np.zeros((h, w), np.uint8)
    for kind, draw in DRAWERS.items():  # painting order: bubbles, highlights, debris
        rng = np.random.default_rng([seed, KIND_CODES[kind]])
        for _ in range(round(float(levels.get(kind, 0.0)) * LAB_CLUSTERS[kind])):
            radius, angle = 0.55 * r * math.sqrt(rng.uniform()), rng.uniform(0, 2 * math.pi)
            centre = (w / 2 + radius * math.cos(angle), h / 2 + radius * math.sin(angle))
            alpha = draw(out, np.random.default_rng(rng.integers(2**31)), centre, r)
            codes[alpha > 0.5] = KIND_CODES[kind]
    drawn = (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)
    drawn[~inside] = img[~inside]
    codes[~inside] = OUTSIDE
    return drawn, codes
