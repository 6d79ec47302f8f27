"""The explicit softmax maps and the differential attention kernel of the CPU fast path."""

from __future__ import annotations

import torch
import torch.nn as nn
from timm.layers.attention import maybe_add_mask, resolve_self_attn_mask


def softmax_maps(
    q: torch.Tensor,
    k: torch.Tensor,
    scale: float,
    attn_mask: torch.Tensor | None,
    is_causal: bool,
) -> torch.Tensor:
    """Explicit ``softmax(q k^T * scale + mask)`` with SDPA's mask semantics, computed in fp32."""
    scores = (q.float() * scale) @ k.float().transpose(-2, -1)
    bias = resolve_self_attn_mask(q.shape[-2], scores, attn_mask, is_causal)
    return maybe_add_mask(scores, bias).softmax(dim=-1)


# Score tensors of this many bytes or fewer per batch chunk stay in a CPU's last-level cache: the whole
# (B, 2H, N, N) tensor of a ViT-B/16 batch of 32 does not (60 MB) and halves the attention's speed.
CHUNK_BYTES = 4 * 2**20


def differential_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    lam: torch.Tensor,
    scale: float,
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    attn_drop: nn.Module | None = None,
) -> torch.Tensor:
    """``(softmax(Q1 K1^T s) - lam softmax(Q2 K2^T s)) V`` without keeping the maps.

    ``q`` and ``k`` hold both maps' queries and keys per head, shape (B, H, 2, N, d); ``v`` is
    (B, H, N, dv); ``lam`` is a scalar or one value per head (H,). The mask follows SDPA's semantics
    with heads counted as H. One matmul and one softmax cover both maps; the difference is taken in
    place when autograd does not need the maps, and then multiplies the value once. The batch is
    processed in chunks whose scores fit in ``CHUNK_BYTES``.
    """
    b, h, _, n, _ = q.shape
    keep_maps = torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or lam.requires_grad)
    # Under autograd every map is kept for the backward pass anyway, so chunks would save nothing.
    step = b if keep_maps else max(1, CHUNK_BYTES // (2 * h * n * k.shape[-2] * max(q.element_size(), 4)))
    bias = resolve_self_attn_mask(n, q, attn_mask, is_causal)
    if bias is not None and bias.dim() == 3:
        bias = bias.unsqueeze(0)  # SDPA reads (X, N, N) as (1, X, N, N): X counts heads
    if bias is not None and bias.dim() == 4:
        bias = bias.unsqueeze(2)  # (B or 1, H or 1, 1, N, N) against the (B, H, 2, N, N) scores
    lam = lam.reshape(-1, 1, 1) if lam.dim() else lam
    outs = []
    for s in range(0, b, step):
        chunk_bias = bias[s : s + step] if bias is not None and bias.dim() == 5 and bias.shape[0] > 1 else bias
        scores = torch.matmul(q[s : s + step] * scale, k[s : s + step].transpose(-2, -1))
        attn = maybe_add_mask(scores, chunk_bias).softmax(dim=-1)
        if attn_drop is not None:
            attn = attn_drop(attn)
        a1, a2 = attn[:, :, 0], attn[:, :, 1]
        if keep_maps:
            diff = a1 - lam.to(attn.dtype) * a2
        elif lam.dim():
            diff = a1.addcmul_(a2, lam.to(attn.dtype), value=-1.0)
        else:
            diff = a1.sub_(a2, alpha=float(lam))
        outs.append(torch.matmul(diff.to(v.dtype), v[s : s + step]))
    return outs[0] if len(outs) == 1 else torch.cat(outs)


def causal_bias(n: int, like: torch.Tensor) -> torch.Tensor:
    return like.new_full((n, n), float("-inf")).triu_(1)


def split_qkv(qkv: nn.Linear, x: torch.Tensor, num_heads: int, head_dim: int):
    """Project x with the fused qkv layer into (B, heads, N, head_dim) q, k, v."""
    b, n, _ = x.shape
    q, k, v = qkv(x).reshape(b, n, 3, num_heads, head_dim).permute(2, 0, 3, 1, 4).unbind(0)
    return q, k, v
