"""Attention noise, measured: where a map's mass falls among lesions, distractors (bubbles, specular
highlights, debris, the dark rim outside the field of view) and the rest of the frame, and how much of
a1's distractor mass the differential subtraction a1 - lambda a2 removes.

Masses are shares of the map's positive part. A token map (gh, gw) over an (H, W) frame spreads each
token's mass evenly over its pixels, so no interpolation enters the count.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .distractors import CODES, OUTSIDE

#: The distractor mask's codes (uint8, beside each synthetic frame): 0 none.
DISTRACTORS: dict[int, str] = CODES
#: The distractors drawn on the mucosa (bubbles, specular highlights, debris): every type but the rim.
DRAWN_TYPES: tuple[str, ...] = tuple(name for code, name in CODES.items() if code != OUTSIDE)
#: The region :func:`merge_drawn` makes of them.
DRAWN = "drawn distractors"


def regions(lesion: np.ndarray | None, distractors: np.ndarray | None, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Disjoint boolean regions covering the frame: each distractor type (what is drawn on top wins),
    then the lesion, then "elsewhere"."""
    taken = np.zeros(shape, bool)
    out: dict[str, np.ndarray] = {}
    if distractors is not None:
        codes = np.asarray(distractors)
        if codes.shape != shape:
            raise ValueError(f"distractor mask {codes.shape} does not match the frame {shape}")
        unknown = set(np.unique(codes).tolist()) - {0, *DISTRACTORS}
        if unknown:
            raise ValueError(f"unknown distractor codes {sorted(unknown)}; known: 0 and {DISTRACTORS}")
        for code, name in DISTRACTORS.items():
            out[name] = codes == code
            taken |= out[name]
    if lesion is not None:
        les = np.asarray(lesion) > 0
        if les.shape != shape:
            raise ValueError(f"lesion mask {les.shape} does not match the frame {shape}")
        out["lesion"] = les & ~taken
        taken |= les
    out["elsewhere"] = ~taken
    return out


def cover(region: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Share of each map cell's pixels inside ``region``."""
    h, w = region.shape
    gh, gw = grid
    if h % gh or w % gw:
        raise ValueError(f"a {gh}x{gw} map does not tile a {h}x{w} frame")
    return region.reshape(gh, h // gh, gw, w // gw).mean(axis=(1, 3))


def absolute_masses(map2d: np.ndarray, parts: Mapping[str, np.ndarray]) -> dict[str, float]:
    """The positive part of ``map2d`` summed over each region (not normalised)."""
    m = np.clip(np.asarray(map2d, np.float64), 0, None)
    return {name: float((m * cover(region, m.shape)).sum()) for name, region in parts.items()}


def masses(map2d: np.ndarray, parts: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Shares of the map's positive mass per region (they sum to 1 over disjoint regions covering the frame;
    NaN for a map without positive mass)."""
    absolute = absolute_masses(map2d, parts)
    total = sum(absolute.values())
    return {k: (v / total if total > 0 else float("nan")) for k, v in absolute.items()}


def normalised_entropy(map2d: np.ndarray) -> float:
    """Shannon entropy of the map's positive part (normalised to sum 1) divided by log(cells): 0 when all mass
    sits on one cell, 1 for a uniform map; NaN for a map without positive mass."""
    m = np.clip(np.asarray(map2d, np.float64), 0, None).ravel()
    if m.sum() <= 0 or m.size < 2:
        return float("nan")
    p = m / m.sum()
    nz = p[p > 0]
    return float(-(nz * np.log(nz)).sum() / np.log(m.size))


def distractor_mass(shares: Mapping[str, float]) -> float:
    """The share on all distractor types together."""
    return float(sum(shares.get(name, 0.0) for name in DISTRACTORS.values()))


def drawn_distractor_mass(shares: Mapping[str, float]) -> float:
    """The share on the drawn distractors together (not the rim, which every frame has)."""
    return float(sum(shares.get(name, 0.0) for name in DRAWN_TYPES))


def merge_drawn(parts: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same regions with the drawn distractor types merged into one region, :data:`DRAWN` (first)."""
    drawn = [parts[name] for name in DRAWN_TYPES if name in parts]
    merged = {DRAWN: np.logical_or.reduce(drawn)} if drawn else {}
    merged.update({k: v for k, v in parts.items() if k not in DRAWN_TYPES})
    return merged


def cancellation(a1: np.ndarray, a2: np.ndarray, lam: float, parts: Mapping[str, np.ndarray]) -> dict:
    """What the subtraction does: shares of a1 and of diff = a1 - lam a2 (positive part, renormalised) per
    region, and per region the part of a1's mass that the subtraction removes, 1 - sum(max(diff, 0)) /
    sum(a1) over the region (1: all of it cancelled, 0: none)."""
    return subtraction_effect(a1, np.asarray(a1, np.float64) - lam * np.asarray(a2, np.float64), parts)


def subtraction_effect(a1: np.ndarray, diff: np.ndarray, parts: Mapping[str, np.ndarray]) -> dict:
    """:func:`cancellation` for a difference map already formed (e.g. the head mean of a1 - lambda a2 with a
    lambda per head)."""
    before, after = absolute_masses(a1, parts), absolute_masses(diff, parts)
    removed = {k: (1 - after[k] / before[k] if before[k] > 0 else float("nan")) for k in before}
    return {"a1": masses(a1, parts), "diff": masses(diff, parts), "removed": removed}
