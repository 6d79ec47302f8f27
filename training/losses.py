"""Losses: the asymmetric focal loss of the paper and the frozen text-prompt contrastive term."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def pos_weight_from_targets(targets: np.ndarray | torch.Tensor, max_weight: float = 100.0) -> torch.Tensor:
    """Per-label ``clip((N - P) / (P + 1), 1, max_weight)`` over N frames with P positives, as the
    paper's code computes it (docs/design.md, "The paper's recipe")."""
    t = torch.as_tensor(np.asarray(targets), dtype=torch.float64)
    pos = (t > 0.5).sum(0).double()
    neg = t.shape[0] - pos
    return (neg / (pos + 1)).clamp(1.0, max_weight).float()


class AsymmetricFocalLoss(nn.Module):
    """Asymmetric focal loss for multi-label classification (Ridnik et al., ICCV 2021) exactly as the
    paper's released code computes it, mean-reduced.

    Per element, with smoothed target ``t = y (1 - s) + (1 - y) s`` and ``p = clamp(sigmoid(x), 1e-6, 1 - 1e-6)``::

        q    = min(max(1 - p, 1e-6) + clip, 1)             # probability shifting of negatives
        l    = t log p + (1 - t) log q
        l    = l * (1 - (p t + q (1 - t)))^(gamma_pos t + gamma_neg (1 - t))
        l    = l * (t pos_weight + (1 - t))                 # the whole element, soft targets included
        loss = -mean(l)

    With gamma_pos = gamma_neg = clip = 0, no smoothing and no pos_weight this is mean BCE up to the
    1e-6 clamp. The focal weights carry gradients (as in the paper) unless ``detach_focal_weight``.
    """

    def __init__(
        self,
        gamma_pos: float = 1.0,
        gamma_neg: float = 4.0,
        clip: float = 0.05,
        label_smoothing: float = 0.05,
        pos_weight: torch.Tensor | None = None,
        detach_focal_weight: bool = False,
        eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.gamma_pos, self.gamma_neg, self.clip = gamma_pos, gamma_neg, clip
        self.label_smoothing, self.detach_focal_weight, self.eps = label_smoothing, detach_focal_weight, eps
        self.register_buffer("pos_weight", None if pos_weight is None else torch.as_tensor(pos_weight).float())

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        x = logits.float()
        t = targets.float()
        s = self.label_smoothing
        if s > 0:
            t = t * (1 - s) + (1 - t) * s
        p = torch.sigmoid(x).clamp(self.eps, 1 - self.eps)
        q = (1 - p).clamp(min=self.eps)
        if self.clip > 0:
            q = (q + self.clip).clamp(max=1)
        loss = t * torch.log(p) + (1 - t) * torch.log(q)
        if self.gamma_pos > 0 or self.gamma_neg > 0:
            pt = p * t + q * (1 - t)
            weight = torch.pow(1 - pt, self.gamma_pos * t + self.gamma_neg * (1 - t))
            loss = loss * (weight.detach() if self.detach_focal_weight else weight)
        if self.pos_weight is not None:
            loss = loss * (t * self.pos_weight + (1 - t))
        return -loss.mean()


class TextPromptLoss(nn.Module):
    """The paper's contrastive term between image features and frozen per-label text embeddings
    ("a video capsule endoscopy image showing {label}"): ``BCE(s * cos(f, T_l), y_l)`` with the same
    pos_weight as the focal loss and a learnable temperature ``s = exp(min(log_s, log 100))``,
    ``log_s`` initialised to ``log(1 / 0.07)`` as CLIP's."""

    def __init__(self, text_features: torch.Tensor, pos_weight: torch.Tensor | None = None,
                 init_scale: float = 1 / 0.07, max_scale: float = 100.0) -> None:
        super().__init__()
        self.register_buffer("text", F.normalize(text_features.float(), dim=-1))
        self.register_buffer("pos_weight", None if pos_weight is None else torch.as_tensor(pos_weight).float())
        self.logit_scale = nn.Parameter(torch.tensor(math.log(init_scale)))
        self.max_log_scale = math.log(max_scale)

    def logits(self, image_features: torch.Tensor) -> torch.Tensor:
        img = image_features.float()
        img = img / (img.norm(dim=-1, keepdim=True) + 1e-8)
        return self.logit_scale.clamp(max=self.max_log_scale).exp() * img @ self.text.T

    def forward(self, image_features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(self.logits(image_features), targets.float(),
                                                  pos_weight=self.pos_weight)
