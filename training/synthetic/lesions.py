"""What is drawn on the mucosa: lesions, landmarks and distractors (bubbles, specular highlights, debris;
their drawers live in ``diffclip.distractors``, which the Noise lab shares), each a function that paints into
the frame and returns its alpha (the lesion or distractor mask) or None."""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from diffclip.distractors import DRAWERS as DISTRACTOR_DRAWERS
from diffclip.paint import blend as _blend
from diffclip.paint import circle as _circle
from diffclip.paint import fill as _fill
from diffclip.paint import polygon as _poly

from .lookalikes import DRAWERS as LOOKALIKE_DRAWERS

# A drawer paints one instance in place and returns its alpha (for the mask) or None.
Drawer = Callable[[np.ndarray, np.random.Generator, tuple[float, float], float], np.ndarray | None]


def _draw_blood(img, rng, c, r):
    alpha = _fill(img.shape[:2], [_poly(rng, c, 0.38 * r, 0.45)], blur=0.01 * r)
    _blend(img, alpha * 0.92, (0.42, 0.03, 0.04))
    return alpha


def _draw_active_bleeding(img, rng, c, r):
    pool = _fill(img.shape[:2], [_poly(rng, c, 0.17 * r, 0.3)], blur=0.01 * r)
    streak_pts = np.array([[c[0] - 0.03 * r, c[1]], [c[0] + 0.03 * r, c[1]],
                           [c[0] + 0.07 * r, c[1] + 0.45 * r], [c[0] - 0.05 * r, c[1] + 0.45 * r]])
    streak = _fill(img.shape[:2], [np.round(streak_pts * 16).astype(np.int32)], blur=0.015 * r)
    alpha = np.maximum(pool, streak)
    _blend(img, alpha * 0.95, (0.92, 0.04, 0.05))
    return alpha


def _draw_angiectasia(img, rng, c, r):
    core = _circle(img.shape[:2], c, 0.035 * r)
    arms = np.zeros(img.shape[:2], np.uint8)
    for a in rng.uniform(0, 2 * np.pi, 7):
        end = (c[0] + 0.09 * r * math.cos(a), c[1] + 0.09 * r * math.sin(a))
        cv2.line(arms, (round(c[0] * 16), round(c[1] * 16)), (round(end[0] * 16), round(end[1] * 16)), 255,
                 max(1, round(0.012 * r)), cv2.LINE_AA, shift=4)
    alpha = np.maximum(core, arms.astype(np.float32) / 255.0)
    _blend(img, alpha, (0.95, 0.1, 0.12))
    return alpha


def _draw_erosion(img, rng, c, r):
    halo = _circle(img.shape[:2], c, 0.09 * r, blur=0.02 * r)
    _blend(img, halo * 0.7, (0.85, 0.2, 0.18))
    spot = _fill(img.shape[:2], [_poly(rng, c, 0.045 * r, 0.3)], blur=0.005 * r)
    _blend(img, spot, (0.97, 0.93, 0.78))
    return np.maximum(halo, spot)


def _draw_erythema(img, rng, c, r):
    alpha = _fill(img.shape[:2], [_poly(rng, c, 0.26 * r, 0.35)], blur=0.06 * r)
    a = alpha[..., None]
    img *= 1.0 + a * (np.array([0.25, -0.35, -0.35], np.float32))
    return alpha


def _draw_hematin(img, rng, c, r):
    polys = []
    for _ in range(int(rng.integers(4, 8))):
        off = rng.normal(0, 0.1 * r, 2)
        polys.append(_poly(rng, (c[0] + off[0], c[1] + off[1]), rng.uniform(0.03, 0.06) * r, 0.5, 16))
    alpha = _fill(img.shape[:2], polys, blur=0.004 * r)
    _blend(img, alpha * 0.95, (0.16, 0.08, 0.05))
    return alpha


def _draw_lymphangioectasis(img, rng, c, r):
    canvas = np.zeros(img.shape[:2], np.uint8)
    for _ in range(int(rng.integers(12, 24))):
        off = rng.normal(0, 0.07 * r, 2)
        centre = (round((c[0] + off[0]) * 16), round((c[1] + off[1]) * 16))
        cv2.circle(canvas, centre, max(16, round(rng.uniform(0.012, 0.022) * r * 16)), 255, -1, cv2.LINE_AA, 4)
    alpha = canvas.astype(np.float32) / 255.0
    _blend(img, alpha, (0.98, 0.96, 0.9))
    return alpha


def _draw_polyp(img, rng, c, r):
    radius = 0.16 * r
    alpha = _fill(img.shape[:2], [_poly(rng, c, radius, 0.12)], blur=0.01 * r)
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # Lambertian shading of a bulb lit from the upper left.
    dx, dy = (xx - c[0]) / radius, (yy - c[1]) / radius
    shade = np.clip(1.0 - 0.45 * (dx + dy) - 0.35 * (dx**2 + dy**2), 0.35, 1.5)
    colour = img.mean(axis=(0, 1)) * np.array([1.08, 0.9, 0.9], np.float32)
    bulb = np.clip(colour[None, None, :] * shade[..., None], 0, 1)
    a = alpha[..., None]
    img *= 1.0 - a
    img += a * bulb
    return alpha


def _draw_ulcer(img, rng, c, r):
    rim = _fill(img.shape[:2], [_poly(rng, c, 0.2 * r, 0.25)], blur=0.02 * r)
    _blend(img, rim * 0.9, (0.75, 0.1, 0.1))
    base = _fill(img.shape[:2], [_poly(rng, c, 0.13 * r, 0.3)], blur=0.008 * r)
    _blend(img, base, (0.93, 0.88, 0.62))
    return np.maximum(rim, base)


def _draw_pylorus(img, rng, c, r):
    canvas = np.zeros(img.shape[:2], np.uint8)
    for a in np.linspace(0, 2 * np.pi, 10, endpoint=False) + rng.uniform(0, 1):
        p0 = (c[0] + 0.2 * r * math.cos(a), c[1] + 0.2 * r * math.sin(a))
        p1 = (c[0] + 0.6 * r * math.cos(a), c[1] + 0.6 * r * math.sin(a))
        cv2.line(canvas, (round(p0[0] * 16), round(p0[1] * 16)), (round(p1[0] * 16), round(p1[1] * 16)), 255,
                 max(2, round(0.04 * r)), cv2.LINE_AA, shift=4)
    folds = cv2.GaussianBlur(canvas.astype(np.float32) / 255.0, (0, 0), 0.02 * r)
    img *= 1.0 - 0.3 * folds[..., None]
    ring = _circle(img.shape[:2], c, 0.24 * r, blur=0.03 * r)
    _blend(img, ring * 0.7, (0.9, 0.45, 0.35))
    hole = _circle(img.shape[:2], c, 0.13 * r, blur=0.03 * r)
    _blend(img, hole, (0.05, 0.02, 0.02))
    return None


def _draw_ileocecal_valve(img, rng, c, r):
    lip = np.zeros(img.shape[:2], np.uint8)
    cv2.ellipse(lip, (round(c[0] * 16), round(c[1] * 16)), (round(0.42 * r * 16), round(0.2 * r * 16)),
                float(rng.uniform(-20, 20)), 0, 360, 255, -1, cv2.LINE_AA, shift=4)
    lip_alpha = cv2.GaussianBlur(lip.astype(np.float32) / 255.0, (0, 0), 0.03 * r)
    _blend(img, lip_alpha * 0.85, (0.93, 0.78, 0.45))
    slit = np.zeros(img.shape[:2], np.uint8)
    cv2.ellipse(slit, (round(c[0] * 16), round(c[1] * 16)), (round(0.3 * r * 16), round(0.035 * r * 16)),
                0, 0, 360, 255, -1, cv2.LINE_AA, shift=4)
    _blend(img, cv2.GaussianBlur(slit.astype(np.float32) / 255.0, (0, 0), 0.01 * r), (0.1, 0.03, 0.03))
    return None


DRAWERS: dict[str, Drawer] = {
    "blood": _draw_blood,
    "active bleeding": _draw_active_bleeding,
    "angiectasia": _draw_angiectasia,
    "erosion": _draw_erosion,
    "erythema": _draw_erythema,
    "hematin": _draw_hematin,
    "lymphangioectasis": _draw_lymphangioectasis,
    "polyp": _draw_polyp,
    "ulcer": _draw_ulcer,
    "pylorus": _draw_pylorus,
    "ileocecal valve": _draw_ileocecal_valve,
    **DISTRACTOR_DRAWERS,
    **LOOKALIKE_DRAWERS,
}
# Painting order: landmarks under lesions; the distractors (debris, bubbles, highlights) float on top.
DRAW_ORDER = ("pylorus", "ileocecal valve", "erythema", "blood", "active bleeding", "hematin", "ulcer",
              "erosion", "angiectasia", "lymphangioectasis", "polyp", "debris", "dark clumps", "bubbles", "pink bubbles",
              "highlights", "red glare")
