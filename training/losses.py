"""Losses: the asymmetric focal loss of the paper and the frozen text-prompt contrastive term."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def pos_weight_from_targets(targets: np.ndarray | torch.Tensor, max_weight: float = 100.0) -> torch.Tensor:
    """Per-label ``clip(negatives / positives, 1, max_weight)``; a label with no positives gets the maximum."""
    t = torch.as_tensor(np.asarray(targets), dtype=torch.float64)
    pos = (t > 0.5).sum(0)
    neg = t.shape[0] - pos
    ratio = torch.where(pos > 0, neg / pos.clamp(min=1), torch.full_like(neg, max_weight, dtype=torch.float64))
    return ratio.clamp(1.0, max_weight).float()


class AsymmetricFocalLoss(nn.Module):
    """Asymmetric loss for multi-label classification (Ridnik et al., ICCV 2021), mean-reduced.

    Per element, with ``p = sigmoid(x)`` and (smoothed) target ``y``::

        p_m   = min(1 - p + clip, 1)                   # probability shifting of negatives
        L+    = y log(p) (1 - p)^gamma_pos * pos_weight
        L-    = (1 - y) log(p_m) (1 - p_m)^gamma_neg
        loss  = -mean(L+ + L-)

    Label smoothing moves targets to ``y (1 - s) + s / 2``. With soft targets the focusing exponent is
    interpolated as in Ridnik's reference code. With gamma_pos = gamma_neg = clip = 0, no smoothing
    and no pos_weight this is exactly mean BCE-with-logits. Grad mode is never touched: the focal
    weights carry gradients unless ``detach_focal_weight``.
    """

    def __init__(
        self,
        gamma_pos: float = 1.0,
        gamma_neg: float = 4.0,
        clip: float = 0.05,
        label_smoothing: float = 0.05,
        pos_weight: torch.Tensor | None = None,
        detach_focal_weight: bool = False,
        eps: float = 1e-8,
    ) -> None:
        super().__init__()
        self.gamma_pos, self.gamma_neg, self.clip = gamma_pos, gamma_neg, clip
        self.label_smoothing, self.detach_focal_weight, self.eps = label_smoothing, detach_focal_weight, eps
        self.register_buffer("pos_weight", None if pos_weight is None else torch.as_tensor(pos_weight).float())

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        x = logits.float()
        y = targets.float()
        if self.label_smoothing > 0:
            y = y * (1 - self.label_smoothing) + self.label_smoothing / 2
        p = torch.sigmoid(x)
        log_p = F.logsigmoid(x)
        if self.clip > 0:
            p_neg = (1 - p + self.clip).clamp(max=1)
            log_p_neg = torch.log(p_neg.clamp(min=self.eps))
        else:
            p_neg = 1 - p
            log_p_neg = F.logsigmoid(-x)
        loss_pos = y * log_p
        if self.pos_weight is not None:
            loss_pos = loss_pos * self.pos_weight
        loss = loss_pos + (1 - y) * log_p_neg
        if self.gamma_pos > 0 or self.gamma_neg > 0:
            pt = p * y + p_neg * (1 - y)
            gamma = self.gamma_pos * y + self.gamma_neg * (1 - y)
            weight = torch.pow((1 - pt).clamp(min=0), gamma)
            loss = loss * (weight.detach() if self.detach_focal_weight else weight)
        return -loss.mean()


class TextPromptLoss(nn.Module):
    """Sigmoid contrastive term between image features and frozen per-label text embeddings
    ("a video capsule endoscopy image showing {label}"): ``BCE(t * cos(f, T_l) + b, y_l)`` with a
    learnable temperature ``t`` and bias ``b`` (SigLIP-style, Zhai et al. 2023)."""

    def __init__(self, text_features: torch.Tensor, init_scale: float = 10.0, init_bias: float = -5.0) -> None:
        super().__init__()
        self.register_buffer("text", F.normalize(text_features.float(), dim=-1))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(init_scale)))
        self.logit_bias = nn.Parameter(torch.tensor(init_bias))

    def logits(self, image_features: torch.Tensor) -> torch.Tensor:
        img = F.normalize(image_features.float(), dim=-1)
        return self.logit_scale.exp() * img @ self.text.T + self.logit_bias

    def forward(self, image_features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(self.logits(image_features), targets.float())
