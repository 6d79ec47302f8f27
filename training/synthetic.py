"""Synthetic capsule videos written in Galar's exact on-disk format, with lesion masks.

Each video passes mouth -> esophagus -> stomach -> small intestine -> colon. Section lengths and
label frequencies follow Galar's (DESIGN.md section 3); ``rare_share`` raises rare labels for small
sets. Every label has its own look:

* sections: mucosa colour and texture (pale pink mouth, whitish streaked esophagus, orange-red stomach
  with rugae, yellow villous small intestine, salmon colon with a vessel network);
* landmarks at the section transitions: z-line (a wavy pale/red boundary), pylorus (a dark ring with
  radial folds), ileocecal valve (a yellowish lip with a dark slit);
* lesions: blood (dark red fluid), active bleeding (bright red pool with a streak), angiectasia (small
  red star), erosion (small white spot with a red halo), erythema (diffuse red patch), hematin (dark
  brown flakes), lymphangioectasis (clusters of white dots), polyp (a shaded bulb), ulcer (yellow-white
  fibrin with a red rim);
* distractors: bubbles, debris and specular highlights; smooth camera motion; a dark circular field of
  view.

On disk (``root`` is the output directory)::

    root/<video_id>/frame_000000.PNG          frames (6-digit numbers, upper-case extension)
    root/<video_id>/frame_000000_mask.png     lesion mask: 0 = none, k = 1 + index in LABELS
    root/Labels/<video_id>.csv                index, 17 labels, Galar's extra labels, section, frame
    root/ground_truth.json                    RARE-VISION events (label-set runs)
    root/synth.json                           generator settings and per-video label counts
    root/videos/<video_id>.mp4                H.264, with --mp4

Rendering a frame depends only on the video plan and the frame index, so frames render in parallel
and the same seed gives byte-identical files.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import math
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter, gaussian_filter1d
from tqdm.auto import tqdm

from diffclip.atomic import atomic_path, write_json
from diffclip.events import events_document, label_set_events
from diffclip.labels import GALAR_EXTRA_LABELS, GALAR_FREQUENCIES, LABELS, LESIONS, SECTIONS

log = logging.getLogger(__name__)

LABEL_INDEX = {name: i for i, name in enumerate(LABELS)}
#: Where each lesion may appear.
LESION_SECTIONS: dict[str, tuple[str, ...]] = {
    "active bleeding": ("stomach", "small intestine", "colon"),
    "angiectasia": ("stomach", "small intestine"),
    "blood": ("stomach", "small intestine", "colon"),
    "erosion": ("stomach", "small intestine"),
    "erythema": ("stomach", "small intestine", "colon"),
    "hematin": ("stomach", "small intestine"),
    "lymphangioectasis": ("small intestine",),
    "polyp": ("small intestine", "colon"),
    "ulcer": ("stomach", "small intestine", "colon"),
}
#: Each landmark sits at the transition between two sections.
LANDMARK_TRANSITIONS: dict[str, tuple[str, str]] = {
    "z-line": ("esophagus", "stomach"),
    "pylorus": ("stomach", "small intestine"),
    "ileocecal valve": ("small intestine", "colon"),
}
MIN_EVENT = 3


@dataclass(frozen=True)
class SynthConfig:
    """Generator settings. ``rare_share`` raises every landmark and lesion to at least that share of
    frames (0 keeps Galar's frequencies, where most rare labels are absent from a short video)."""

    frames: int = 1000
    size: int = 224
    seed: int = 0
    rare_share: float = 0.0
    frame_stride: int = 1
    fps: float = 10.0

    def __post_init__(self) -> None:
        if self.frames < 5 * MIN_EVENT:
            raise ValueError(f"need at least {5 * MIN_EVENT} frames per video (one run per section), got {self.frames}")
        if self.size < 64 or self.size % 2:
            raise ValueError(f"size must be an even number >= 64, got {self.size}")
        if not 0.0 <= self.rare_share <= 0.2:
            raise ValueError(f"rare_share must lie in [0, 0.2], got {self.rare_share}")
        if self.frame_stride < 1:
            raise ValueError(f"frame_stride must be >= 1, got {self.frame_stride}")


@dataclass(frozen=True)
class Instance:
    """One appearance of a lesion, landmark or distractor over frames [start, end] (indices)."""

    kind: str
    start: int
    end: int
    seed: int
    path: tuple[float, float, float, float]  # normalised (x0, y0, x1, y1) position at start and end
    scale: float


@dataclass
class VideoPlan:
    """Everything needed to render a video: per-frame labels, sections, instances, camera path."""

    video_id: str
    config: SynthConfig
    seed: int
    sections: np.ndarray  # (M,) index into SECTIONS
    labels: np.ndarray  # (M, 17) bool
    instances: list[Instance] = field(default_factory=list)
    camera: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))  # (M, 3): x, y, light

    @property
    def frame_numbers(self) -> np.ndarray:
        return np.arange(len(self.sections)) * self.config.frame_stride

    def active(self, t: int) -> list[Instance]:
        return [inst for inst in self.instances if inst.start <= t <= inst.end]

    def extra_columns(self) -> dict[str, np.ndarray]:
        """Galar's extra label columns: bubbles and dirt follow the distractors, the rest are 0."""
        m = len(self.sections)
        cols = {name: np.zeros(m, dtype=bool) for name in GALAR_EXTRA_LABELS}
        for inst in self.instances:
            if inst.kind in ("bubbles", "debris"):
                cols["bubbles" if inst.kind == "bubbles" else "dirt"][inst.start : inst.end + 1] = True
        return cols


# ---------------------------------------------------------------------------------------------------
# Planning


def _section_lengths(m: int, rare_share: float, rng: np.random.Generator) -> list[int]:
    shares = np.array([GALAR_FREQUENCIES[s] for s in SECTIONS]) * rng.lognormal(0.0, 0.15, len(SECTIONS))
    shares = shares / shares.sum()
    lengths = [max(MIN_EVENT, round(max(share, rare_share) * m)) for share in shares[:-1]]
    rest = m - sum(lengths)
    if rest < MIN_EVENT:  # very short videos: squeeze the large sections, keep every section
        over = MIN_EVENT - rest
        for i in np.argsort(lengths)[::-1]:
            take = min(over, lengths[i] - MIN_EVENT)
            lengths[i] -= take
            over -= take
        rest = m - sum(lengths)
    return [*lengths, rest]


def _position_path(rng: np.random.Generator, spread: float = 0.45) -> tuple[float, float, float, float]:
    """Start and end positions inside the field of view (normalised to its radius)."""
    def point():
        r = spread * math.sqrt(rng.uniform(0, 1))
        a = rng.uniform(0, 2 * math.pi)
        return r * math.cos(a), r * math.sin(a)

    (x0, y0), (x1, y1) = point(), point()
    return float(x0), float(y0), float(x1), float(y1)


def _expected_frames(label: str, m: int, rare_share: float, rng: np.random.Generator) -> float:
    return max(GALAR_FREQUENCIES[label] * m * rng.lognormal(0.0, 0.3), rare_share * m)


def plan_video(video_id: str, config: SynthConfig, index: int = 0) -> VideoPlan:
    """Plan a video: section runs, landmark and lesion events, distractors and camera path."""
    seed = int(np.random.SeedSequence([config.seed, index]).generate_state(1)[0])
    rng = np.random.default_rng(seed)
    m = config.frames
    lengths = _section_lengths(m, config.rare_share, rng)
    bounds = np.cumsum([0, *lengths])
    sections = np.repeat(np.arange(len(SECTIONS)), lengths)
    labels = np.zeros((m, len(LABELS)), dtype=bool)
    labels[np.arange(m), [LABEL_INDEX[SECTIONS[s]] for s in sections]] = True
    instances: list[Instance] = []

    def add(kind: str, start: int, length: int, spread: float = 0.45) -> None:
        end = min(m - 1, start + length - 1)
        instances.append(
            Instance(kind, int(start), int(end), int(rng.integers(2**31)), _position_path(rng, spread),
                     float(rng.uniform(0.8, 1.25)))
        )
        if kind in LABEL_INDEX:
            labels[start : end + 1, LABEL_INDEX[kind]] = True

    for landmark, (before, _after) in LANDMARK_TRANSITIONS.items():
        expected = _expected_frames(landmark, m, config.rare_share, rng)
        if config.rare_share > 0 or rng.uniform() < expected / MIN_EVENT:
            length = max(MIN_EVENT, round(expected))
            boundary = int(bounds[SECTIONS.index(before) + 1])
            add(landmark, max(0, boundary - length // 2), length, spread=0.1)

    for lesion in LESIONS:
        j = LABEL_INDEX[lesion]
        expected = _expected_frames(lesion, m, config.rare_share, rng)
        mean_len = float(np.clip(expected, MIN_EVENT, 25))
        allowed = [SECTIONS.index(s) for s in LESION_SECTIONS[lesion]]
        weights = np.array([lengths[i] for i in allowed], dtype=float)
        # Galar-like sets: a Poisson number of events (often none in a short video); boosted sets:
        # events until the label covers its share.
        count = rng.poisson(expected / mean_len) if config.rare_share == 0 else None
        placed = attempts = 0
        while (placed < count) if count is not None else (labels[:, j].sum() < expected and attempts < 200):
            attempts += 1
            sec = allowed[rng.choice(len(allowed), p=weights / weights.sum())]
            lo, hi = int(bounds[sec]), int(bounds[sec + 1])
            length = int(min(hi - lo, rng.integers(MIN_EVENT, max(MIN_EVENT, 2 * mean_len - MIN_EVENT) + 1)))
            start = int(rng.integers(lo, hi - length + 1))
            # keep events of one label apart, so each stays a separate event
            if labels[max(0, start - 1) : start + length + 1, j].any() and attempts < 200:
                continue
            add(lesion, start, length)
            placed += 1

    for kind, per_section in (("bubbles", (0.0, 0.05, 0.1, 0.25, 0.2)), ("debris", (0.0, 0.0, 0.05, 0.1, 0.3))):
        for sec, share in enumerate(per_section):
            lo, hi = int(bounds[sec]), int(bounds[sec + 1])
            for _ in range(rng.poisson(share * (hi - lo) / 15)):
                length = int(min(hi - lo, rng.integers(5, 30)))
                add(kind, int(rng.integers(lo, hi - length + 1)), length, spread=0.5)

    # Smooth camera path over a texture three times the frame size, and a slow lighting drift.
    walk = gaussian_filter1d(np.cumsum(rng.normal(0, 6.0, (m, 2)), axis=0), sigma=4, axis=0)
    light = 1.0 + 0.08 * gaussian_filter1d(rng.normal(0, 1, m), sigma=8) * 4
    camera = np.column_stack([walk, light]).astype(np.float32)
    return VideoPlan(video_id, config, seed, sections, labels, instances, camera)


# ---------------------------------------------------------------------------------------------------
# Textures and drawing

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


def _poly(rng: np.random.Generator, centre, radius: float, irregular: float = 0.25, n: int = 40) -> np.ndarray:
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in range(2, 6):
        r += irregular / k * rng.uniform(0.5, 1.0) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    pts = np.column_stack([centre[0] + radius * r * np.cos(theta), centre[1] + radius * r * np.sin(theta)])
    return np.round(pts * 16).astype(np.int32)  # cv2 shift=4 sub-pixel precision


def _fill(shape, polys, blur: float = 0.0) -> np.ndarray:
    canvas = np.zeros(shape, np.uint8)
    cv2.fillPoly(canvas, polys, 255, lineType=cv2.LINE_AA, shift=4)
    alpha = canvas.astype(np.float32) / 255.0
    if blur > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), blur)
    return alpha


def _circle(shape, centre, radius, blur: float = 0.0) -> np.ndarray:
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


def _blend(img: np.ndarray, alpha: np.ndarray, colour) -> None:
    box = _support(alpha)
    if box is None:
        return
    a = alpha[box][..., None]
    region = img[box]
    region *= 1.0 - a
    region += a * np.asarray(colour, np.float32)


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


def _draw_bubbles(img, rng, c, r):
    for _ in range(int(rng.integers(6, 14))):
        off = rng.normal(0, 0.25 * r, 2)
        centre = (c[0] + off[0], c[1] + off[1])
        rad = rng.uniform(0.03, 0.1) * r
        disc = _circle(img.shape[:2], centre, rad)
        inner = _circle(img.shape[:2], centre, rad * 0.8)
        _blend(img, (disc - inner).clip(0, 1) * 0.8, (0.97, 0.97, 0.95))
        _blend(img, inner * 0.15, (0.9, 0.95, 0.9))
        glint = _circle(img.shape[:2], (centre[0] - 0.4 * rad, centre[1] - 0.4 * rad), 0.2 * rad)
        _blend(img, glint, (1.0, 1.0, 1.0))
    return None


def _draw_debris(img, rng, c, r):
    polys = [_poly(rng, (c[0] + dx, c[1] + dy), rng.uniform(0.04, 0.1) * r, 0.6, 20)
             for dx, dy in rng.normal(0, 0.2 * r, (int(rng.integers(3, 7)), 2))]
    alpha = _fill(img.shape[:2], polys, blur=0.01 * r)
    _blend(img, alpha * 0.85, (0.45, 0.42, 0.12))
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
    "bubbles": _draw_bubbles,
    "debris": _draw_debris,
}
# Painting order: landmarks and distractors under lesions except bubbles/debris, which float on top.
DRAW_ORDER = ("pylorus", "ileocecal valve", "erythema", "blood", "active bleeding", "hematin", "ulcer",
              "erosion", "angiectasia", "lymphangioectasis", "polyp", "debris", "bubbles")


@functools.lru_cache(maxsize=8)
def _textures(seed: int, size: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng([seed, 1])
    return tuple(make_texture(section, size, rng) for section in SECTIONS)


@functools.lru_cache(maxsize=4)
def _fov(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Radial lighting falloff and the soft circular field-of-view mask."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2
    rr = np.hypot(xx - c, yy - c) / (size / 2)
    light = 1.05 - 0.4 * rr**2
    fov = np.clip((0.97 - rr) / 0.03, 0, 1)
    return light.astype(np.float32), fov.astype(np.float32)


def _crop(tex: np.ndarray, size: int, xy: np.ndarray) -> np.ndarray:
    span = tex.shape[0] - size
    # Reflect the unbounded walk into the texture (a triangle wave), so motion stays smooth.
    ox, oy = (int(abs((v + span) % (2 * span) - span)) for v in (xy[0] + span / 2, xy[1] + span / 2))
    return tex[oy : oy + size, ox : ox + size].copy()


def _zline(plan: VideoPlan, t: int, inst: Instance, size: int, textures) -> np.ndarray:
    """Esophagus above a wavy boundary, stomach below; the boundary rises as the capsule passes."""
    rng = np.random.default_rng(inst.seed)
    upper = _crop(textures[SECTIONS.index("esophagus")], size, plan.camera[t, :2])
    lower = _crop(textures[SECTIONS.index("stomach")], size, plan.camera[t, :2])
    progress = (t - inst.start + 0.5) / (inst.end - inst.start + 1)
    xx = np.arange(size, dtype=np.float32)
    phase, amp = rng.uniform(0, 2 * np.pi), rng.uniform(0.04, 0.08) * size
    line = size * (0.8 - 0.6 * progress) + amp * np.sin(xx / size * 6 * np.pi + phase)
    below = (np.arange(size, dtype=np.float32)[:, None] > line[None, :]).astype(np.float32)
    below = cv2.GaussianBlur(below, (0, 0), 1.5)[..., None]
    img = upper * (1 - below) + lower * below
    band = np.exp(-((np.arange(size)[:, None] - line[None, :]) ** 2) / (2 * (0.015 * size) ** 2))
    _blend(img, band.astype(np.float32) * 0.6, (0.97, 0.85, 0.82))
    return img


def render_frame(plan: VideoPlan, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Render frame index ``t``: an RGB uint8 image and its lesion mask (0 or 1 + label index)."""
    size = plan.config.size
    textures = _textures(plan.seed, size)
    active = plan.active(t)
    zline = next((inst for inst in active if inst.kind == "z-line"), None)
    if zline is not None:
        img = _zline(plan, t, zline, size, textures)
    else:
        img = _crop(textures[plan.sections[t]], size, plan.camera[t, :2])
    mask = np.zeros((size, size), np.uint8)
    r = size / 2
    order = {kind: i for i, kind in enumerate(DRAW_ORDER)}
    for inst in sorted((i for i in active if i.kind in DRAWERS), key=lambda i: order[i.kind]):
        span = max(1, inst.end - inst.start)
        f = (t - inst.start) / span
        x0, y0, x1, y1 = inst.path
        centre = (r + r * (x0 + f * (x1 - x0)), r + r * (y0 + f * (y1 - y0)))
        # Shapes depend on the instance only; distractors also get a per-frame jitter.
        shape_rng = np.random.default_rng(inst.seed if inst.kind not in ("bubbles", "debris") else [inst.seed, t // 3])
        alpha = DRAWERS[inst.kind](img, shape_rng, centre, r * inst.scale)
        if alpha is not None:
            mask[alpha > 0.5] = LABEL_INDEX[inst.kind] + 1
    frame_rng = np.random.default_rng([plan.seed, 2, t])
    for _ in range(int(frame_rng.integers(2, 6))):  # specular highlights
        centre = frame_rng.uniform(0.2 * size, 0.8 * size, 2)
        _blend(img, _circle((size, size), centre, frame_rng.uniform(0.004, 0.015) * size, blur=0.6), (1, 1, 1))
    light, fov = _fov(size)
    img *= (light * plan.camera[t, 2])[..., None]
    img += frame_rng.normal(0, 0.012, img.shape).astype(np.float32)
    img = img * fov[..., None] + 0.015 * (1 - fov[..., None])
    mask[fov < 0.5] = 0
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8), mask


# ---------------------------------------------------------------------------------------------------
# Writing


def frame_name(number: int) -> str:
    return f"frame_{number:06d}.PNG"


def mask_name(number: int) -> str:
    return f"frame_{number:06d}_mask.png"


def _render_chunk(plan: VideoPlan, root: str, start: int, stop: int) -> int:
    folder = Path(root) / plan.video_id
    png = [cv2.IMWRITE_PNG_COMPRESSION, 1]
    for t in range(start, stop):
        rgb, mask = render_frame(plan, t)
        number = int(plan.frame_numbers[t])
        cv2.imwrite(str(folder / frame_name(number)), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), png)
        cv2.imwrite(str(folder / mask_name(number)), mask, png)
    return stop - start


def write_labels_csv(plan: VideoPlan, path: Path) -> None:
    """Galar's label CSV: index, the 17 labels, the extra labels, section, frame."""
    extras = plan.extra_columns()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["index", *LABELS, *GALAR_EXTRA_LABELS, "section", "frame"])
    for t, number in enumerate(plan.frame_numbers):
        writer.writerow([t, *plan.labels[t].astype(int), *(int(extras[e][t]) for e in GALAR_EXTRA_LABELS),
                         SECTIONS[plan.sections[t]], int(number)])
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")


def write_mp4(frames: list[Path], path: Path, fps: float) -> Path:
    """Encode frames as browser-playable H.264 (yuv420p, faststart) with PyAV."""
    import av

    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream("libx264", rate=round(fps))
            first = cv2.imread(str(frames[0]))
            stream.height, stream.width = first.shape[:2]
            stream.pix_fmt = "yuv420p"
            # One thread keeps the bitstream identical between runs.
            stream.options = {"crf": "20", "preset": "veryfast", "threads": "1"}
            container.metadata["comment"] = "synthetic capsule video (DiffCLIP-VCE)"
            for path_i in frames:
                bgr = cv2.imread(str(path_i))
                frame = av.VideoFrame.from_ndarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), format="rgb24")
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    return path


@dataclass
class SynthResult:
    root: Path
    plans: list[VideoPlan]
    ground_truth: Path
    videos: list[Path]


def generate(
    out: str | Path,
    videos: int = 2,
    frames: int = 1000,
    seed: int = 0,
    size: int = 224,
    rare_share: float = 0.0,
    mp4: bool = False,
    fps: float = 10.0,
    workers: int | None = None,
    progress: bool = True,
    first_id: int = 1,
) -> SynthResult:
    """Write ``videos`` synthetic videos of ``frames`` frames to ``out`` in Galar's format."""
    if videos < 1:
        raise ValueError(f"videos must be >= 1, got {videos}")
    config = SynthConfig(frames=frames, size=size, seed=seed, rare_share=rare_share, fps=fps)
    root = Path(out)
    (root / "Labels").mkdir(parents=True, exist_ok=True)
    plans = [plan_video(str(first_id + i), config, index=i) for i in range(videos)]
    chunk = 50
    tasks = [(p, s, min(s + chunk, frames)) for p in plans for s in range(0, frames, chunk)]
    for plan in plans:
        (root / plan.video_id).mkdir(exist_ok=True)
        write_labels_csv(plan, root / "Labels" / f"{plan.video_id}.csv")
    workers = workers or min(os.cpu_count() or 1, len(tasks))
    bar = tqdm(total=videos * frames, unit="frame", desc="synth", disable=not progress)
    if workers <= 1:
        for plan, s, e in tasks:
            bar.update(_render_chunk(plan, str(root), s, e))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_render_chunk, plan, str(root), s, e) for plan, s, e in tasks]
            for fut in futures:
                bar.update(fut.result())
    bar.close()
    truth = events_document({p.video_id: label_set_events(p.labels, p.frame_numbers) for p in plans})
    gt_path = write_json(root / "ground_truth.json", truth, indent=1)
    mp4s = []
    if mp4:
        for plan in tqdm(plans, desc="mp4", unit="video", disable=not progress):
            files = [root / plan.video_id / frame_name(int(n)) for n in plan.frame_numbers]
            mp4s.append(write_mp4(files, root / "videos" / f"{plan.video_id}.mp4", fps))
    summary = {
        "generator": "training.synthetic",
        "config": asdict(config),
        "videos": {p.video_id: {lab: int(p.labels[:, i].sum()) for i, lab in enumerate(LABELS)} for p in plans},
        "mask_values": {str(i + 1): lab for i, lab in enumerate(LABELS) if lab in LESIONS},
    }
    write_json(root / "synth.json", summary)
    return SynthResult(root, plans, gt_path, mp4s)
