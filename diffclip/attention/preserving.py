"""Our function-preserving differential retrofit of a pretrained attention layer."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import Attention

from .base import RecordingAttention, adopt, check_pretrained, init_layers, layer_kwargs
from .kernels import differential_attention, softmax_maps, split_qkv
from .maps import AttentionMaps, MapSemantics
from .registry import register_attention


@register_attention
class PreservingDiffAttention(RecordingAttention, nn.Module):
    """Function-preserving differential retrofit of a pretrained attention layer.

    ``A1`` comes from the pretrained q/k heads; ``A2`` from a second q/k projection initialised as a
    copy of the pretrained one; both maps weight the same values. Per head,
    ``lambda = exp(a) - exp(b)`` with ``a = b = 0`` at initialisation, so the layer's output at step 0
    equals the pretrained layer's; there is no sub-norm, which would break that equality.
    """

    variant = "diff_preserving"
    semantics = MapSemantics(differential=True, shown="diff", applied=("diff",), signed=True, lambda_per="head")

    def __init__(
        self,
        dim: int,
        num_heads: int = 12,
        qkv_bias: bool = True,
        proj_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        init_layers(self, dim, num_heads, qkv_bias, proj_bias, attn_drop, proj_drop)
        self.qk2 = nn.Linear(dim, 2 * dim, bias=qkv_bias)  # copied from the pretrained q/k by from_attention
        self.lambda_a = nn.Parameter(torch.zeros(num_heads))
        self.lambda_b = nn.Parameter(torch.zeros(num_heads))

    @classmethod
    def from_attention(cls, attn: Attention, depth: int = 0) -> PreservingDiffAttention:
        """Build from a pretrained timm ``Attention``: reuse qkv and proj, copy q/k into ``qk2``."""
        check_pretrained(attn, need_even_heads=False)
        dim = attn.qkv.in_features
        new = adopt(cls(dim, num_heads=attn.num_heads, **layer_kwargs(attn)), attn)
        with torch.no_grad():
            new.qk2.weight.copy_(attn.qkv.weight[: 2 * dim])
            if attn.qkv.bias is not None:
                new.qk2.bias.copy_(attn.qkv.bias[: 2 * dim])
        return new

    def compute_lambda(self) -> torch.Tensor:
        """Per-head lambda, shape (heads,)."""
        return torch.exp(self.lambda_a) - torch.exp(self.lambda_b)

    def _projections(self, x):
        b, n, _ = x.shape
        q1, k1, v = split_qkv(self.qkv, x, self.num_heads, self.head_dim)
        q2, k2 = self.qk2(x).reshape(b, n, 2, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        return self.q_norm(q1), self.k_norm(k1), self.q_norm(q2), self.k_norm(k2), v

    def _finish(self, out: torch.Tensor) -> torch.Tensor:
        b, _, n, _ = out.shape
        out = self.norm(out.transpose(1, 2).reshape(b, n, self.attn_dim))
        return self.proj_drop(self.proj(out))

    def forward_fast(self, x, attn_mask=None, is_causal=False):
        q1, k1, q2, k2, v = self._projections(x)
        if not x.is_cuda:
            # Both maps weight the same value, so their difference needs one value product, not two.
            return self._finish(differential_attention(q1, k1, q2, k2, v, self.compute_lambda(), self.scale,
                                                       attn_mask, is_causal, self.attn_drop))
        h = self.num_heads
        # One fused call over 2H heads (both maps share the value) instead of two launches.
        o = F.scaled_dot_product_attention(
            torch.cat([q1, q2], dim=1), torch.cat([k1, k2], dim=1), torch.cat([v, v], dim=1),
            attn_mask=attn_mask, is_causal=is_causal,
            dropout_p=self.attn_drop.p if self.training else 0.0,
        )
        lam = self.compute_lambda().to(o.dtype).view(1, h, 1, 1)
        return self._finish(o[:, :h] - lam * o[:, h:])

    def forward_maps(self, x, attn_mask=None, is_causal=False):
        q1, k1, q2, k2, v = self._projections(x)
        a1 = softmax_maps(q1, k1, self.scale, attn_mask, is_causal)
        a2 = softmax_maps(q2, k2, self.scale, attn_mask, is_causal)
        lam = self.compute_lambda().float()
        diff = a1 - lam.view(1, -1, 1, 1) * a2
        out = self._finish(self.attn_drop(diff).to(v.dtype) @ v)
        return out, AttentionMaps(a1=a1, a2=a2, lam=lam, diff=diff, semantics=self.semantics)
