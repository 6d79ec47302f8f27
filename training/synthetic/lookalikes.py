"""Look-alike distractors for the attention study's setting where looking matters (docs/design.md, "The noise
study"): the shapes of the ordinary distractors in a finding's colours, so that colour alone no longer tells a
finding from a distractor and only local shape does.

* red glare: specular glints in active bleeding's and angiectasia's bright red (told from them by shape:
  short elongated glints, not a pool with a streak or a star);
* dark clumps: debris clumps in blood's and hematin's dark red-brown (irregular clumps, not one fluid pool or
  flakes around a centre);
* pink bubbles: bubbles tinted like the mucosa, as a polyp is (thin bright rims, not a shaded bulb).

They are placed like the other distractors, independently of the labels, from their own random stream, and
masked with the codes of the distractor whose shape they have.
"""

from __future__ import annotations

import math

import numpy as np

from diffclip.distractors import KIND_CODES, draw_bubbles, draw_debris, draw_highlights

RED = (0.93, 0.07, 0.07)
DARK_RED = (0.35, 0.06, 0.04)


def draw_red_glare(img: np.ndarray, rng: np.random.Generator, c, r: float) -> np.ndarray:
    """Glints in a bleeding's red."""
    return draw_highlights(img, rng, c, r, colour=RED)


def draw_dark_clumps(img: np.ndarray, rng: np.random.Generator, c, r: float) -> np.ndarray:
    """Debris clumps in blood's dark red."""
    return draw_debris(img, rng, c, r, colour=DARK_RED)


def draw_pink_bubbles(img: np.ndarray, rng: np.random.Generator, c, r: float) -> np.ndarray:
    """Bubbles whose rims and fill take the mucosa's colour, reddened as a polyp's is."""
    tint = tuple(float(v) for v in np.clip(img.mean(axis=(0, 1)) * np.array([1.25, 0.95, 0.95]), 0, 1))
    return draw_bubbles(img, rng, c, r, rim=tint, fill=tint)


DRAWERS = {"red glare": draw_red_glare, "dark clumps": draw_dark_clumps, "pink bubbles": draw_pink_bubbles}
#: Each look-alike's mask code: that of the distractor whose shape it has.
CODES = {"red glare": KIND_CODES["highlights"], "dark clumps": KIND_CODES["debris"],
         "pink bubbles": KIND_CODES["bubbles"]}


def runs(m: int, seed: int, cover: float, make) -> list:
    """Look-alike runs over ``m`` frames, each kind covering about ``cover`` of the frames (Poisson runs of
    mean length 17, as the ordinary distractors); ``make(kind, start, end, seed, rng)`` builds one instance.
    Drawn from the stream ``[seed, 4]``, so turning them on changes nothing else in a video."""
    if cover <= 0:
        return []
    rng = np.random.default_rng([seed, 4])
    out = []
    for kind in DRAWERS:
        for _ in range(rng.poisson(-math.log(1 - cover) * m / 17)):
            length = int(min(m, rng.integers(5, 30)))
            start = int(rng.integers(0, m - length + 1))
            out.append(make(kind, start, start + length - 1, int(rng.integers(2**31)), rng))
    return out
