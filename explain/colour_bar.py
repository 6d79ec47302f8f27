"""A labelled colour bar drawn straight into pixels: the bar, its end arrows, its ticks and their labels.

Why not matplotlib's ``Figure.colorbar``: an overlay with a matplotlib colour bar took about 50 ms, nearly all
of it the axes' layout and text drawing, for a strip 110 pixels wide; the report of an error analysis draws two
hundred of them and the Frames view three on every slider move (docs/design.md, "Reading a map"). Here the bar's colours come from the same colour map and norm (so a value's colour on the bar is its
colour on the map), the ticks from matplotlib's own locator, the text from Pillow with matplotlib's DejaVu Sans.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
from matplotlib import get_data_path
from matplotlib.ticker import MaxNLocator
from PIL import Image, ImageDraw, ImageFont

FONT_PX = 10  # 7 pt at 100 dpi, the size the matplotlib colour bars had
BAR_WIDTH = 12
TICK = 4  # tick length in pixels
INK = (0, 0, 0)
_fonts = threading.local()  # one FreeType face per thread: Pillow does not promise a face is thread-safe


def font() -> ImageFont.FreeTypeFont:
    """DejaVu Sans at :data:`FONT_PX` (the font matplotlib ships), loaded once per thread."""
    face = getattr(_fonts, "face", None)
    if face is None:
        face = _fonts.face = ImageFont.truetype(str(Path(get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"),
                                                FONT_PX)
    return face


def tick_values(lo: float, hi: float, diverging: bool, length_px: int) -> list[float]:
    """The values that get a tick: five at -hi, -hi/2, 0, hi/2, hi on a diverging bar; on a sequential one,
    matplotlib's ``MaxNLocator`` ('nice' steps 1, 2, 2.5, 5, 10), one tick per 30 pixels at most."""
    if diverging:
        return [lo, lo / 2, 0.0, hi / 2, hi]
    values = MaxNLocator(nbins=max(2, length_px // 30), steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
    span = hi - lo
    return [float(v) for v in values if lo - 1e-9 * span <= v <= hi + 1e-9 * span]


def tick_text(value: float) -> str:
    """Two significant digits, with a true minus sign, as the matplotlib colour bars printed them."""
    return f"{value:.2g}".replace("-", "\u2212")


@lru_cache(maxsize=64)
def _gradient(cmap_name: str, diverging: bool, lo: float, hi: float, length: int) -> np.ndarray:
    """The bar's colours, top (hi) to bottom (lo), one row per pixel."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize, TwoSlopeNorm

    norm = TwoSlopeNorm(vmin=lo, vcenter=0.0, vmax=hi) if diverging else Normalize(lo, hi)
    values = np.linspace(hi, lo, length)
    return (colormaps[cmap_name](norm(values))[:, :3] * 255).round().astype(np.uint8)


def draw_colour_bar(canvas: Image.Image, box: tuple[int, int, int, int], lo: float, hi: float, cmap_name: str,
                    diverging: bool, extend_low: bool, extend_high: bool, label: str = "",
                    ticks: bool = True) -> None:
    """Draw a vertical colour bar into ``canvas`` (RGB) with its top-left corner and size ``box`` = (x, y, width,
    height): ``hi`` at the top, ``lo`` at the bottom; an arrow beyond an end whose values go further than the
    limit (``extend_*``); ticks with labels on the right; ``label`` (lines split at ``\\n``) turned to read
    upwards, right of the tick labels."""
    x, y, width, height = box
    colours = _gradient(cmap_name, diverging, lo, hi, height)
    pixels = np.asarray(canvas).copy()
    pixels[y : y + height, x : x + width] = colours[:, None, :]
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    arrow = max(4, round(0.05 * height))
    top_colour, bottom_colour = (tuple(int(c) for c in row) for row in (colours[0], colours[-1]))
    if extend_high:
        draw.polygon([(x, y - 1), (x + width - 1, y - 1), (x + (width - 1) / 2, y - arrow)], fill=top_colour,
                     outline=INK)
    if extend_low:
        draw.polygon([(x, y + height), (x + width - 1, y + height), (x + (width - 1) / 2, y + height + arrow - 1)],
                     fill=bottom_colour, outline=INK)
    draw.rectangle((x - 1, y - 1, x + width, y + height), outline=INK)
    face = font()
    right = x + width
    text_right = right
    if ticks and hi > lo:
        for value in tick_values(lo, hi, diverging, height):
            ty = y + round((hi - value) / (hi - lo) * (height - 1))
            draw.line((right, ty, right + TICK, ty), fill=INK)
            text = tick_text(value)
            draw.text((right + TICK + 3, ty), text, fill=INK, font=face, anchor="lm")
            text_right = max(text_right, right + TICK + 3 + round(draw.textlength(text, font=face)))
    if label:
        lines = label.split("\n")
        line_px = FONT_PX + 2
        strip = Image.new("RGB", (height, line_px * len(lines)), "white")
        strip_draw = ImageDraw.Draw(strip)
        for i, line in enumerate(lines):
            strip_draw.text((height / 2, i * line_px + line_px / 2), line, fill=INK, font=face, anchor="mm")
        turned = strip.rotate(90, expand=True)  # reads upwards, first line on the left
        image.paste(turned, (min(text_right + 4, image.width - turned.width), y))
    canvas.paste(image)
