"""The explicit softmax maps and the differential attention kernel of the CPU fast path."""

from __future__ import annotations

import torch
import torch.nn as nn
from timm.layers.attention import maybe_add_mask, resolve_self_attn_mask

from ..device import full_precision


def softmax_maps(
    q: torch.Tensor,
    k: torch.Tensor,
    scale: float,
    attn_mask: torch.Tensor | None,
    is_causal: bool,
) -> torch.Tensor:
    """Explicit ``softmax(q k^T * scale + mask)`` with SDPA's mask semantics, computed in fp32 under any
    autocast (which would otherwise run the product in bf16)."""
    with full_precision(q):
        scores = (q.float() * scale) @ k.float().transpose(-2, -1)
        bias = resolve_self_attn_mask(q.shape[-2], scores, attn_mask, is_causal)
        return maybe_add_mask(scores, bias).softmax(dim=-1)


def differential_attention(
    q1: torch.Tensor,
    k1: torch.Tensor,
    q2: torch.Tensor,
    k2: torch.Tensor,
    v: torch.Tensor,
    lam: torch.Tensor,
    scale: float,
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    attn_drop: nn.Module | None = None,
) -> torch.Tensor:
    """``(softmax(Q1 K1^T s) - lam softmax(Q2 K2^T s)) V`` without keeping the maps.

    ``q1, k1, q2, k2`` are (B, H, N, d) and ``v`` is (B, H, N, dv), in any strides (views of a fused
    projection need no copy); ``lam`` is a scalar or one value per head (H,). The mask follows SDPA's
    semantics with heads counted as H. The result is (B, H, N, dv).

    Scores, softmax and the difference are computed in fp32 whatever the inputs' precision, as fused
    attention kernels accumulate; only the value product runs in ``v``'s dtype. In bf16 the two maps'
    roundings survive their subtraction, and the bf16 score product's rounding changed with the thread
    count (docs/design.md, "Precision").

    Without autograd the work goes one image at a time (docs/design.md, "The CPU fast path"): both
    maps' scores of an image (2H x N x N) stay in cache, the scale and the mask are fused into the
    score product, the softmax and the difference run in place, and the one value product writes
    straight into a (B, N, H, dv) buffer, so that merging the heads afterwards is free.
    """
    b, h, n, _ = q1.shape
    work = torch.promote_types(q1.dtype, torch.float32)
    bias = resolve_self_attn_mask(n, q1, attn_mask, is_causal)
    if bias is not None:
        # SDPA reads (N, N) as (1, 1, N, N) and (X, N, N) as (1, X, N, N): X counts heads
        bias = bias.reshape((1,) * (4 - bias.dim()) + bias.shape).to(work)
    lam = lam.reshape(-1, 1, 1) if lam.dim() else lam
    if torch.is_grad_enabled() and any(t.requires_grad for t in (q1, k1, q2, k2, v, lam)):
        # autograd keeps every map for the backward pass anyway: one batched computation
        with full_precision(q1):
            scores = torch.stack([(q1.to(work) * scale) @ k1.to(work).transpose(-2, -1),
                                  (q2.to(work) * scale) @ k2.to(work).transpose(-2, -1)])
            attn = maybe_add_mask(scores, bias).softmax(dim=-1)
            if attn_drop is not None:
                attn = attn_drop(attn)
            diff = attn[0] - lam.to(attn.dtype) * attn[1]
        return diff.to(v.dtype) @ v
    out = v.new_empty(b, n, h, v.shape[-1])
    scores = q1.new_empty(2, h, n, n, dtype=work)
    lam = lam.to(scores.dtype) if lam.dim() else float(lam)  # once, not per image
    for s in range(b):
        for m, (q, k) in enumerate(((q1, k1), (q2, k2))):
            qs, kt = q[s].to(work), k[s].to(work).transpose(-2, -1)  # no copy in fp32
            if bias is None:
                torch.baddbmm(scores[m], qs, kt, beta=0, alpha=scale, out=scores[m])
            else:
                image_bias = bias[s if bias.shape[0] > 1 else 0].expand(h, n, n)
                torch.baddbmm(image_bias, qs, kt, alpha=scale, out=scores[m])
        attn = torch.softmax(scores, dim=-1, out=scores)
        if attn_drop is not None:
            attn = attn_drop(attn)
        if isinstance(lam, float):
            diff = attn[0].sub_(attn[1], alpha=lam)
        else:
            diff = attn[0].addcmul_(attn[1], lam, value=-1.0)
        torch.bmm(diff.to(v.dtype), v[s], out=out[s].transpose(0, 1))
    return out.transpose(1, 2)


def causal_bias(n: int, like: torch.Tensor) -> torch.Tensor:
    return like.new_full((n, n), float("-inf")).triu_(1)


def split_qkv(qkv: nn.Linear, x: torch.Tensor, num_heads: int, head_dim: int):
    """Project x with the fused qkv layer into (B, heads, N, head_dim) q, k, v."""
    b, n, _ = x.shape
    q, k, v = qkv(x).reshape(b, n, 3, num_heads, head_dim).permute(2, 0, 3, 1, 4).unbind(0)
    return q, k, v
