"""Text burnt into the overlay video's frames: drawn once per line, a light fill with a dark outline from
the same glyphs (Pillow's stroke), so that it reads on any background.

OpenCV's putText cannot do this: a thicker pass (the outline) advances wider than the thin one (the fill),
so an outline-then-fill pair drifts apart along the line and words look doubled ("intestinee")."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont:
    from matplotlib import font_manager

    # matplotlib ships DejaVu Sans: a real font on every machine, no system font needed
    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def draw_lines(rgb: np.ndarray, lines: Sequence[str], size: int = 16, stroke: int = 2,
               origin: tuple[int, int] = (8, 6), bottom: str | None = None) -> np.ndarray:
    """``rgb`` (H, W, 3) uint8 with ``lines`` written top-left, one under another, and ``bottom`` (e.g. the
    frame's time) at the bottom-left: white letters with a black ``stroke``-pixel outline."""
    image = Image.fromarray(np.ascontiguousarray(rgb))
    draw = ImageDraw.Draw(image)
    font = _font(size)
    x, y = origin
    step = size + 2 * stroke + 2
    for k, text in enumerate(lines):
        draw.text((x, y + k * step), text, font=font, fill=(255, 255, 255), stroke_width=stroke,
                  stroke_fill=(0, 0, 0))
    if bottom:
        draw.text((x, rgb.shape[0] - step - origin[1]), bottom, font=font, fill=(255, 255, 255),
                  stroke_width=stroke, stroke_fill=(0, 0, 0))
    return np.asarray(image)
