"""Multi-label mixup (Zhang et al. 2018) as the paper uses it."""

from __future__ import annotations

import numpy as np
import torch


def mixup(
    images: torch.Tensor,
    targets: torch.Tensor,
    rng: np.random.Generator,
    alpha: float = 0.3,
    min_lambda: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Mix each sample with a random partner: ``lam = max(Beta(alpha, alpha), min_lambda)``;
    images and multi-hot targets are both mixed as ``lam a + (1 - lam) b``. Returns (x, y, lam)."""
    lam = max(float(rng.beta(alpha, alpha)), min_lambda)
    perm = torch.as_tensor(rng.permutation(images.shape[0]))
    x = lam * images + (1 - lam) * images[perm]
    y = lam * targets + (1 - lam) * targets[perm]
    return x, y, lam
