"""Differential attention V2 (Ye, Dong, Sun and Wei, "Differential Transformer V2", Microsoft, January 2026)
on a ViT block, built from a pretrained timm ``Attention``.

Twice as many query heads as key/value heads: query heads 2h and 2h+1 share key/value head h, so both of a
head's softmax maps weight the same value. The two outputs are subtracted with a lambda that depends on the
token and the head, ``sigmoid(W_lambda x)``; there is no per-head norm. Per head h and query token i:
``out_h(i) = A1_h(i) V_h - sigmoid(lambda_h(i)) A2_h(i) V_h = (A1_h(i) - sigmoid(lambda_h(i)) A2_h(i)) V_h``.

Conversion (docs/design.md, "Attention variants"): the first query of each head is the pretrained one, the
second a copy of it, ``W_lambda = 0`` (so sigmoid gives 1/2 for every token) and the output projection's
weight doubled: the layer computes ``2 W (A - A/2) V = W A V``, the pretrained function, exactly (halving and
doubling are exact in binary floating point, and ``A - A/2`` is exact by Sterbenz's lemma).
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import Attention

from .base import RecordingAttention, adopt, check_pretrained, init_layers, layer_kwargs
from .kernels import softmax_maps, split_qkv
from .maps import AttentionMaps, MapSemantics
from .registry import register_attention


@register_attention
class DiffV2Attention(RecordingAttention, nn.Module):
    """Differential attention V2: paired query heads over one key/value head, per-token lambda, no sub-norm.

    The recorded ``lam`` is the CLS token's ``sigmoid(lambda)`` per head (the row the views show; averaged
    over a batch of several images), and ``lam_tokens`` every token's, shape (B, heads, N).
    """

    variant = "diff_v2"
    semantics = MapSemantics(differential=True, shown="diff", applied=("diff",), signed=True, lambda_per="head")

    def __init__(self, dim: int, num_heads: int = 12, qkv_bias: bool = True, proj_bias: bool = True,
                 attn_drop: float = 0.0, proj_drop: float = 0.0) -> None:
        super().__init__()
        init_layers(self, dim, num_heads, qkv_bias, proj_bias, attn_drop, proj_drop)
        self.q2 = nn.Linear(dim, dim, bias=qkv_bias)  # the second query of every head
        self.lambda_proj = nn.Linear(dim, num_heads, bias=False)  # as the reference: no bias
        nn.init.zeros_(self.lambda_proj.weight)

    @classmethod
    def from_attention(cls, attn: Attention, depth: int = 0) -> DiffV2Attention:
        """Build from a pretrained timm ``Attention``: its qkv is shared, its q copied into ``q2``, and its
        proj copied with the weight doubled (not shared: the pretrained layer keeps its own)."""
        check_pretrained(attn, need_even_heads=False)
        dim = attn.qkv.in_features
        new = adopt(cls(dim, num_heads=attn.num_heads, **layer_kwargs(attn)), attn)
        new.proj = copy.deepcopy(attn.proj)
        with torch.no_grad():
            new.q2.weight.copy_(attn.qkv.weight[:dim])
            if attn.qkv.bias is not None:
                new.q2.bias.copy_(attn.qkv.bias[:dim])
            new.proj.weight.mul_(2.0)
        return new

    def token_lambda(self, x: torch.Tensor) -> torch.Tensor:
        """``sigmoid(W_lambda x)`` per token and head, shape (B, heads, N, 1)."""
        return torch.sigmoid(self.lambda_proj(x)).transpose(1, 2).unsqueeze(-1)

    def _projections(self, x):
        b, n, _ = x.shape
        q1, k, v = split_qkv(self.qkv, x, self.num_heads, self.head_dim)
        q2 = self.q2(x).reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)
        return self.q_norm(q1), self.q_norm(q2), self.k_norm(k), v

    def _finish(self, out: torch.Tensor) -> torch.Tensor:
        b, _, n, _ = out.shape
        return self.proj_drop(self.proj(self.norm(out.transpose(1, 2).reshape(b, n, self.attn_dim))))

    def forward_fast(self, x, attn_mask=None, is_causal=False):
        q1, q2, k, v = self._projections(x)
        h = self.num_heads
        # one fused call over 2H query heads; each pair reads the same key and value head
        o = F.scaled_dot_product_attention(torch.cat([q1, q2], dim=1), torch.cat([k, k], dim=1),
                                           torch.cat([v, v], dim=1), attn_mask=attn_mask, is_causal=is_causal,
                                           dropout_p=self.attn_drop.p if self.training else 0.0)
        lam = self.token_lambda(x).to(o.dtype)
        return self._finish(o[:, :h] - lam * o[:, h:])

    def forward_maps(self, x, attn_mask=None, is_causal=False):
        q1, q2, k, v = self._projections(x)
        a1 = softmax_maps(q1, k, self.scale, attn_mask, is_causal)
        a2 = softmax_maps(q2, k, self.scale, attn_mask, is_causal)
        lam = self.token_lambda(x).float()  # (B, H, N, 1): one lambda per query row
        diff = a1 - lam * a2
        out = self._finish(self.attn_drop(diff).to(v.dtype) @ v)
        maps = AttentionMaps(a1=a1, a2=a2, lam=lam[:, :, 0, 0].mean(0), diff=diff, semantics=self.semantics,
                             lam_tokens=lam[..., 0])
        return out, maps
