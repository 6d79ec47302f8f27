"""Differential attention as the RARE-VISION paper's released code computes it."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import Attention

from .base import RecordingAttention, adopt, check_pretrained, init_layers, layer_kwargs
from .kernels import softmax_maps, split_qkv
from .maps import AttentionMaps, MapSemantics
from .registry import register_attention


@register_attention
class PaperDiffAttention(RecordingAttention, nn.Module):
    """Differential attention as the RARE-VISION paper's released code computes it.

    The H pretrained heads (size d) are split into groups: heads 0..H/2-1 give (Q1, K1, V1) and heads
    H/2..H-1 give (Q2, K2, V2). Lambda vectors of shape (H/2, d) start at N(0, 0.02); per head
    ``l_i = exp(min(lq_i . lk_i, 5))`` and the layer's single ``lambda = mean_h(l_1 - l_2 + 0.8)``.
    The output before ``proj`` is ``concat(A1 V1 - lambda A2 V2, A2 V2)``; there is no sub-norm.
    """

    variant = "diff_paper"
    # the output heads are [A1 V1 - lambda A2 V2, A2 V2]: both softmax maps are applied
    semantics = MapSemantics(differential=True, shown="diff", applied=("a1", "a2"), signed=True, lambda_per="layer")

    def __init__(
        self,
        dim: int,
        num_heads: int = 12,
        qkv_bias: bool = True,
        proj_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        lambda_init: float = 0.8,
        lambda_std: float = 0.02,
        lambda_clamp: float = 5.0,
    ) -> None:
        super().__init__()
        if num_heads % 2:
            raise ValueError(f"diff_paper needs an even number of heads, got {num_heads}")
        init_layers(self, dim, num_heads, qkv_bias, proj_bias, attn_drop, proj_drop)
        self.lambda_init = lambda_init
        self.lambda_clamp = lambda_clamp
        half = num_heads // 2
        self.lambda_q1 = nn.Parameter(torch.empty(half, self.head_dim))
        self.lambda_k1 = nn.Parameter(torch.empty(half, self.head_dim))
        self.lambda_q2 = nn.Parameter(torch.empty(half, self.head_dim))
        self.lambda_k2 = nn.Parameter(torch.empty(half, self.head_dim))
        for p in (self.lambda_q1, self.lambda_k1, self.lambda_q2, self.lambda_k2):
            nn.init.normal_(p, mean=0.0, std=lambda_std)

    @classmethod
    def from_attention(cls, attn: Attention, depth: int = 0) -> PaperDiffAttention:
        """Build from a pretrained timm ``Attention``, reusing its qkv and proj layers."""
        check_pretrained(attn, need_even_heads=True)
        return adopt(cls(attn.qkv.in_features, num_heads=attn.num_heads, **layer_kwargs(attn)), attn)

    def compute_lambda(self) -> torch.Tensor:
        """The layer's scalar lambda."""
        l1 = torch.exp(torch.clamp(torch.sum(self.lambda_q1 * self.lambda_k1, dim=-1), max=self.lambda_clamp))
        l2 = torch.exp(torch.clamp(torch.sum(self.lambda_q2 * self.lambda_k2, dim=-1), max=self.lambda_clamp))
        return (l1 - l2 + self.lambda_init).mean()

    def _qkv(self, x):
        q, k, v = split_qkv(self.qkv, x, self.num_heads, self.head_dim)
        return self.q_norm(q), self.k_norm(k), v

    def _finish(self, o1: torch.Tensor, o2: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        b, _, n, _ = o1.shape
        out = torch.cat([o1 - lam.to(o1.dtype) * o2, o2], dim=1)
        out = self.norm(out.transpose(1, 2).reshape(b, n, self.attn_dim))
        return self.proj_drop(self.proj(out))

    def forward_fast(self, x, attn_mask=None, is_causal=False):
        q, k, v = self._qkv(x)
        # Both groups are ordinary heads of the same size, so one fused call computes A1 V1 and A2 V2.
        o = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, is_causal=is_causal,
            dropout_p=self.attn_drop.p if self.training else 0.0,
        )
        half = self.num_heads // 2
        return self._finish(o[:, :half], o[:, half:], self.compute_lambda())

    def forward_maps(self, x, attn_mask=None, is_causal=False):
        q, k, v = self._qkv(x)
        attn = softmax_maps(q, k, self.scale, attn_mask, is_causal)
        half = self.num_heads // 2
        a1, a2 = attn[:, :half], attn[:, half:]
        lam = self.compute_lambda().float()
        out = self._finish(self.attn_drop(a1).to(v.dtype) @ v[:, :half],
                           self.attn_drop(a2).to(v.dtype) @ v[:, half:], lam)
        lam_heads = lam.reshape(1).expand(half)
        return out, AttentionMaps(a1=a1, a2=a2, lam=lam_heads, diff=a1 - lam * a2, semantics=self.semantics)
