"""Anti-aliased painting primitives on float RGB frames in [0, 1]: the synthetic generator draws its lesions
and distractors with them, and the Noise lab draws distractors over a clean frame with the same code."""

from __future__ import annotations

import cv2
import numpy as np


def polygon(rng: np.random.Generator, centre, radius: float, irregular: float = 0.25, n: int = 40) -> np.ndarray:
    """A random blob outline around ``centre`` (cv2 points with shift=4 sub-pixel precision)."""
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in range(2, 6):
        r += irregular / k * rng.uniform(0.5, 1.0) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    pts = np.column_stack([centre[0] + radius * r * np.cos(theta), centre[1] + radius * r * np.sin(theta)])
    return np.round(pts * 16).astype(np.int32)


def fill(shape, polys, blur: float = 0.0) -> np.ndarray:
    """Alpha in [0, 1] of the filled polygons, optionally blurred."""
    canvas = np.zeros(shape, np.uint8)
    cv2.fillPoly(canvas, polys, 255, lineType=cv2.LINE_AA, shift=4)
    alpha = canvas.astype(np.float32) / 255.0
    if blur > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), blur)
    return alpha


def circle(shape, centre, radius, blur: float = 0.0) -> np.ndarray:
    """Alpha in [0, 1] of a filled disc, optionally blurred."""
    canvas = np.zeros(shape, np.uint8)
    cv2.circle(canvas, (round(centre[0] * 16), round(centre[1] * 16)), max(16, round(radius * 16)), 255, -1,
               lineType=cv2.LINE_AA, shift=4)
    alpha = canvas.astype(np.float32) / 255.0
    return cv2.GaussianBlur(alpha, (0, 0), blur) if blur > 0 else alpha


def _support(alpha: np.ndarray) -> tuple[slice, slice] | None:
    """Bounding box of the non-zero part of ``alpha`` (most shapes cover a small part of the frame)."""
    rows = np.flatnonzero(alpha.max(axis=1) > 0)
    if rows.size == 0:
        return None
    cols = np.flatnonzero(alpha[rows[0] : rows[-1] + 1].max(axis=0) > 0)
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def blend(img: np.ndarray, alpha: np.ndarray, colour) -> None:
    """Paint ``colour`` into the float image in place with opacity ``alpha``."""
    box = _support(alpha)
    if box is None:
        return
    a = alpha[box][..., None]
    region = img[box]
    region *= 1.0 - a
    region += a * np.asarray(colour, np.float32)
