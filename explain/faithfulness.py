"""Is an explanation faithful? Numbers, not impressions: share of the map inside the lesion mask, the
pointing game, deletion and insertion curves, and map entropy as an "attention noise" measure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import distance_transform_edt

from diffclip.attention_noise import normalised_entropy

from .overlay import upsample


def _positive(map2d: np.ndarray, shape: tuple[int, int] | None = None) -> np.ndarray:
    m = np.asarray(map2d, np.float64)
    if shape is not None and m.shape != shape:
        m = upsample(m, shape).astype(np.float64)
    return np.clip(m, 0, None)


def mass_in_mask(map2d: np.ndarray, mask: np.ndarray) -> float:
    """Share of the (positive part of the) map that falls inside the mask; the map is upsampled to the
    mask's size. NaN for an all-zero map."""
    mask = np.asarray(mask) > 0
    m = _positive(map2d, mask.shape)
    total = m.sum()
    return float(m[mask].sum() / total) if total > 0 else float("nan")


def pointing_game(map2d: np.ndarray, mask: np.ndarray, tolerance: int = 0) -> bool:
    """Hit when the map's maximum lies within ``tolerance`` pixels (Euclidean) of the mask (Zhang et al.
    2018 use 15 px)."""
    mask = np.asarray(mask) > 0
    if not mask.any():
        return False
    m = _positive(map2d, mask.shape)
    y, x = np.unravel_index(int(np.argmax(m)), m.shape)
    return bool(distance_transform_edt(~mask)[y, x] <= tolerance)


def entropy(map2d: np.ndarray) -> float:
    """Shannon entropy of the normalised positive map divided by log(n): 0 when all mass sits on one
    cell, 1 when it is spread evenly (noisy attention)."""
    return normalised_entropy(_positive(map2d))


@dataclass
class Curve:
    fractions: np.ndarray
    scores: np.ndarray

    @property
    def auc(self) -> float:
        """Area under the curve by the trapezoid rule over fractions in [0, 1]."""
        return float(np.trapezoid(self.scores, self.fractions))


def _perturbation_curve(score: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, baseline: torch.Tensor,
                        map2d: np.ndarray, steps: int, insert: bool) -> Curve:
    h, w = x.shape[-2:]
    order = np.argsort(-upsample(map2d, (h, w)).ravel(), kind="stable")
    n = order.size
    cuts = np.linspace(0, n, steps + 1).round().astype(int)
    batch = []
    for k in cuts:
        keep = np.zeros(n, bool)
        keep[order[:k]] = True
        sel = torch.from_numpy(keep.reshape(1, 1, h, w)).to(x.device)
        # deletion: the top-k pixels go to the baseline; insertion: only the top-k pixels are shown
        batch.append(torch.where(sel, x, baseline) if insert else torch.where(sel, baseline, x))
    with torch.no_grad():
        scores = torch.cat([score(b) for b in torch.stack(batch)[:, 0].split(16)]).cpu().numpy()
    return Curve(cuts / n, scores.astype(np.float64))


def deletion_curve(score, x, baseline, map2d, steps: int = 20) -> Curve:
    """Remove pixels in the map's order of importance; a faithful map makes the score fall fast (low AUC)."""
    return _perturbation_curve(score, x, baseline, map2d, steps, insert=False)


def insertion_curve(score, x, baseline, map2d, steps: int = 20) -> Curve:
    """Reveal pixels in the map's order of importance; a faithful map makes the score rise fast (high AUC)."""
    return _perturbation_curve(score, x, baseline, map2d, steps, insert=True)


def label_probability(model: torch.nn.Module, label: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """score(x) = sigmoid probability of ``label`` for a batch."""
    def score(batch: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(model(batch)[:, label].float())
    return score
