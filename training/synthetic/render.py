"""One frame of a planned video: texture under the camera, instances in painting order (distractors on
top), lighting and the circular field of view."""

from __future__ import annotations

import functools
from typing import NamedTuple

import cv2
import numpy as np

from diffclip.distractors import OUTSIDE
from diffclip.labels import SECTIONS
from diffclip.paint import blend as _blend

from .lesions import DRAW_ORDER, DRAWERS
from .plan import DISTRACTOR_CODES, LABEL_INDEX, Instance, VideoPlan
from .textures import make_texture


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


class Rendered(NamedTuple):
    """A rendered frame: RGB uint8 (H, W, 3), lesion mask (0 or 1 + label index) and distractor mask
    (codes of ``diffclip.distractors.CODES``)."""

    rgb: np.ndarray
    mask: np.ndarray
    distractors: np.ndarray


def render_frame(plan: VideoPlan, t: int) -> Rendered:
    """Render frame index ``t`` with its lesion and distractor masks."""
    size = plan.config.size
    textures = _textures(plan.seed, size)
    active = plan.active(t)
    zline = next((inst for inst in active if inst.kind == "z-line"), None)
    if zline is not None:
        img = _zline(plan, t, zline, size, textures)
    else:
        img = _crop(textures[plan.sections[t]], size, plan.camera[t, :2])
    mask = np.zeros((size, size), np.uint8)
    distractors = np.zeros((size, size), np.uint8)
    r = size / 2
    order = {kind: i for i, kind in enumerate(DRAW_ORDER)}
    for inst in sorted((i for i in active if i.kind in DRAWERS), key=lambda i: order[i.kind]):
        span = max(1, inst.end - inst.start)
        f = (t - inst.start) / span
        x0, y0, x1, y1 = inst.path
        centre = (r + r * (x0 + f * (x1 - x0)), r + r * (y0 + f * (y1 - y0)))
        # Shapes depend on the instance only; distractors also get a per-frame jitter.
        code = DISTRACTOR_CODES.get(inst.kind)
        shape_rng = np.random.default_rng(inst.seed if code is None else [inst.seed, t // 3])
        alpha = DRAWERS[inst.kind](img, shape_rng, centre, r * inst.scale)
        if alpha is None:
            continue
        if code is None:
            mask[alpha > 0.5] = LABEL_INDEX[inst.kind] + 1
        else:
            distractors[alpha > 0.5] = code
    frame_rng = np.random.default_rng([plan.seed, 2, t])
    light, fov = _fov(size)
    img *= (light * plan.camera[t, 2])[..., None]
    img += frame_rng.normal(0, 0.012, img.shape).astype(np.float32)
    img = img * fov[..., None] + 0.015 * (1 - fov[..., None])
    mask[fov < 0.5] = 0
    distractors[fov < 0.5] = OUTSIDE
    return Rendered((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8), mask, distractors)
