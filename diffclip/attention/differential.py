"""Differential attention (Ye et al., "Differential Transformer", ICLR 2025) on timm's ``DiffAttention``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.layers import Attention, DiffAttention

from .base import RecordingAttention, adopt, check_pretrained, layer_kwargs
from .kernels import causal_bias, differential_attention, softmax_maps
from .maps import AttentionMaps, MapSemantics
from .registry import register_attention

if not hasattr(DiffAttention, "_compute_lambda"):  # pragma: no cover - guards a timm upgrade
    raise ImportError("this timm's DiffAttention has no _compute_lambda; install timm>=1.0.31,<1.1 (pyproject.toml)")


@register_attention
class TimmDiffAttention(RecordingAttention, DiffAttention):
    """Differential attention of Ye et al. (ICLR 2025), built on timm's ``DiffAttention``.

    ``A = softmax(Q1 K1^T / sqrt(d)) - lambda softmax(Q2 K2^T / sqrt(d))`` with
    ``lambda = exp(lq1 . lk1) - exp(lq2 . lk2) + lambda_init`` and
    ``lambda_init = 0.8 - 0.6 exp(-0.3 depth)``; per-head RMSNorm, then ``x (1 - lambda_init)``.
    A pretrained layer with H heads of size d becomes H/2 differential heads: its consecutive
    head pairs (2h, 2h+1) are (Q1, Q2) and (K1, K2) of head h, and their values, concatenated, the
    value of head h.
    """

    variant = "diff"
    semantics = MapSemantics(differential=True, shown="diff", applied=("diff",), signed=True, lambda_per="layer")

    @classmethod
    def from_attention(cls, attn: Attention, depth: int = 0) -> TimmDiffAttention:
        """Build from a pretrained timm ``Attention``, reusing its qkv and proj layers."""
        check_pretrained(attn, need_even_heads=True)
        return adopt(cls(attn.qkv.in_features, num_heads=attn.num_heads // 2, depth=depth, **layer_kwargs(attn)),
                      attn)

    def lambda_per_head(self) -> torch.Tensor:
        """The layer's lambda, repeated for each head (shape (heads,))."""
        return self.layer_lambda().reshape(1).expand(self.num_heads)

    def layer_lambda(self) -> torch.Tensor:
        """The layer's scalar lambda, the one place that calls timm's private ``_compute_lambda`` (checked
        to exist at import: timm is pinned to the versions the tests run on)."""
        return self._compute_lambda()

    def forward_fast(self, x, attn_mask=None, is_causal=False):
        """No maps kept. On CUDA: timm's fused path (scaled-dot-product attention kernels handle a value
        twice as wide as q/k). On the CPU that width sends SDPA to its slow unfused fallback, so this
        path uses :func:`differential_attention` (one image at a time, both maps' scores in cache, one
        product with the value) and :meth:`scaled_sub_norm`."""
        if x.is_cuda:
            if is_causal:
                attn_mask = causal_bias(x.shape[1], x)
            return DiffAttention.forward(self, x, attn_mask=attn_mask)
        b, n, c = x.shape
        h, d = self.num_heads, self.head_dim
        q, k, v = self.qkv(x).chunk(3, dim=2)
        q = self.q_norm(q.reshape(b, n, 2 * h, d).transpose(1, 2))  # heads (2i, 2i+1) = (Q1, Q2) of head i
        k = self.k_norm(k.reshape(b, n, 2 * h, d).transpose(1, 2))
        v = v.reshape(b, n, h, 2 * d).transpose(1, 2)
        out = differential_attention(q[:, 0::2], k[:, 0::2], q[:, 1::2], k[:, 1::2], v, self.layer_lambda(),
                                     self.scale, attn_mask, is_causal, self.attn_drop)
        out = self.scaled_sub_norm(out.transpose(1, 2))
        out = self.norm(out.reshape(b, n, c))
        return self.proj_drop(self.proj(out))

    def scaled_sub_norm(self, out: torch.Tensor) -> torch.Tensor:
        """timm's per-head RMSNorm times ``(1 - lambda_init)``, over the last dimension (2d). Without
        autograd it runs in place, with the mean square from one vector-norm pass: torch's CPU RMSNorm
        takes several passes over the tensor."""
        weight = (self.sub_norm.weight * (1 - self.lambda_init)).to(out.dtype)
        if torch.is_grad_enabled() and (out.requires_grad or weight.requires_grad):
            return F.rms_norm(out, (out.shape[-1],), weight, self.sub_norm.eps)
        ms = torch.linalg.vector_norm(out, dim=-1, keepdim=True, dtype=torch.float32).square_().div_(out.shape[-1])
        return out.mul_(ms.add_(self.sub_norm.eps).rsqrt_().to(out.dtype)).mul_(weight)

    def forward_maps(self, x, attn_mask=None, is_causal=False):
        b, n, c = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=2)
        q = q.reshape(b, n, 2 * self.num_heads, self.head_dim).transpose(1, 2)
        k = k.reshape(b, n, 2 * self.num_heads, self.head_dim).transpose(1, 2)
        v = v.reshape(b, n, self.num_heads, 2 * self.head_dim).transpose(1, 2)
        q, k = self.q_norm(q), self.k_norm(k)
        attn = softmax_maps(q, k, self.scale, attn_mask, is_causal).view(b, self.num_heads, 2, n, n)
        a1, a2 = attn[:, :, 0], attn[:, :, 1]
        lam = self.lambda_per_head().float()
        diff = a1 - lam.view(1, -1, 1, 1) * a2
        # The recorded map is the one applied, so gradients with respect to it are meaningful.
        out = self.attn_drop(diff).to(v.dtype) @ v
        out = self.sub_norm(out) * (1 - self.lambda_init)
        out = self.norm(out.transpose(1, 2).reshape(b, n, c))
        out = self.proj_drop(self.proj(out))
        return out, AttentionMaps(a1=a1, a2=a2, lam=lam, diff=diff, semantics=self.semantics)
