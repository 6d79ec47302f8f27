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


def draw_lines(rgb: np.ndarray, lines: Sequence[str], size: int = 17, stroke: int = 1,
               origin: tuple[int, int] = (8, 6), bottom: str | None = None) -> np.ndarray:
    """``rgb`` (H, W, 3) uint8 with ``lines`` written top-left, one under another, and ``bottom`` (e.g. the
    frame's time) at the bottom-left: white letters with a black ``stroke``-pixel outline, on a
    translucent dark box that keeps them apart from the picture (and from video compression's blur)."""
    image = Image.fromarray(np.ascontiguousarray(rgb)).convert("RGBA")
    shade = Image.new("RGBA", image.size, (0, 0, 0, 0))
    font = _font(size)
    step = size + 2 * stroke + 4
    x, y = origin
    placed = [((x, y + k * step), text) for k, text in enumerate(lines)]
    if bottom:
        placed.append(((x, rgb.shape[0] - step - origin[1]), bottom))
    box = ImageDraw.Draw(shade)
    for (tx, ty), text in placed:
        left, top, right, low = box.textbbox((tx, ty), text, font=font, stroke_width=stroke)
        box.rectangle((left - 3, top - 2, right + 3, low + 2), fill=(0, 0, 0, 110))
    image = Image.alpha_composite(image, shade)
    draw = ImageDraw.Draw(image)
    for pos, text in placed:
        draw.text(pos, text, font=font, fill=(255, 255, 255, 255), stroke_width=stroke, stroke_fill=(0, 0, 0, 255))
    return np.asarray(image.convert("RGB"))
