"""Standard multi-head attention (Vaswani et al. 2017), the comparison baseline."""

from __future__ import annotations

import torch.nn as nn
from timm.layers import Attention

from .base import RecordingAttention, check_pretrained
from .kernels import softmax_maps, split_qkv
from .maps import STANDARD, AttentionMaps
from .registry import register_attention


@register_attention
class VanillaAttention(RecordingAttention, Attention):
    """Standard multi-head self-attention (timm ``Attention``) that can also return its maps."""

    variant = "vanilla"
    semantics = STANDARD
    convertible = True  # a wrapped timm Attention can still be converted to a differential variant

    @classmethod
    def from_attention(cls, attn: Attention, depth: int = 0) -> VanillaAttention:
        """Wrap a pretrained timm ``Attention``, sharing all of its layers."""
        check_pretrained(attn, need_even_heads=False)
        # Not through Attention.__init__: that would build (and randomly initialise) layers only to drop
        # them for the pretrained ones, moving the random stream of everything built after it.
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        for name in ("num_heads", "head_dim", "attn_dim", "scale"):
            setattr(new, name, getattr(attn, name))
        new.fused_attn = True
        for name in ("qkv", "q_norm", "k_norm", "attn_drop", "norm", "proj", "proj_drop"):
            setattr(new, name, getattr(attn, name))
        new.gate = getattr(attn, "gate", None)
        return new

    def forward_fast(self, x, attn_mask=None, is_causal=False):
        return Attention.forward(self, x, attn_mask=attn_mask, is_causal=is_causal)

    def forward_maps(self, x, attn_mask=None, is_causal=False):
        b, n, _ = x.shape
        gate = self.gate(x).sigmoid() if self.gate is not None else None
        q, k, v = split_qkv(self.qkv, x, self.num_heads, self.head_dim)
        q, k = self.q_norm(q), self.k_norm(k)
        a1 = softmax_maps(q, k, self.scale, attn_mask, is_causal)
        out = self.attn_drop(a1).to(v.dtype) @ v
        out = self.norm(out.transpose(1, 2).reshape(b, n, self.attn_dim))
        if gate is not None:
            out = out * gate
        out = self.proj_drop(self.proj(out))
        lam = a1.new_zeros(self.num_heads)
        return out, AttentionMaps(a1=a1, a2=None, lam=lam, diff=a1, semantics=self.semantics)
