"""Attention maps as explanations: CLS-to-patch rows of ``a1``, ``a2`` and ``diff`` per layer and head,
lambda per layer, attention rollout and gradient-weighted attention.

All functions take the per-layer :class:`~diffclip.attention.AttentionMaps` list returned by
``model(x, return_attention=True)``.

Signed maps. A differential map ``diff = a1 - lambda a2`` has rows that sum to ``1 - lambda`` and
entries that may be negative, so it is not a distribution. :func:`rollout` handles it in one of two
stated ways: ``signed="clamp"`` (default) keeps the positive part and renormalises each row, i.e. it
rolls out where attention *adds* information; ``signed="abs"`` rolls out magnitudes. Single-layer CLS
maps are returned signed, to be drawn with a diverging colormap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from diffclip.attention import AttentionMaps

KINDS = ("a1", "a2", "diff")


def _select(m: AttentionMaps, kind: str) -> torch.Tensor:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    t = getattr(m, kind)
    if t is None:
        raise ValueError(f"this attention has no {kind!r} map (standard attention has only a1)")
    return t


def grid_shape(num_patches: int) -> tuple[int, int]:
    side = int(round(num_patches**0.5))
    if side * side != num_patches:
        raise ValueError(f"{num_patches} patch tokens do not form a square grid")
    return side, side


def patch_grid(row: torch.Tensor) -> np.ndarray:
    """A (B, P) row over the patches as an owned (B, gh, gw) array. A copy on purpose: a view would keep
    the whole (B, N, N) map it was sliced from alive (a session's analyses grew by 5 MB this way)."""
    gh, gw = grid_shape(row.shape[-1])
    return row.reshape(-1, gh, gw).cpu().numpy().copy()


def cls_map(
    maps: Sequence[AttentionMaps], layer: int = -1, head: int | None = None, kind: str = "diff",
) -> np.ndarray:
    """The CLS token's attention to each patch, as (B, gh, gw): one ``layer``, one ``head`` or the head
    mean (``head=None``), of ``kind`` a1, a2 or diff (signed)."""
    t = _select(maps[layer], kind).detach().float()
    n_heads = t.shape[1]
    if head is not None and not -n_heads <= head < n_heads:
        raise ValueError(f"head {head} out of range: this layer has {n_heads} heads")
    row = t[:, :, 0, maps[layer].prefix_tokens:]  # (B, H, P)
    return patch_grid(row.mean(1) if head is None else row[:, head])


def lambdas(maps: Sequence[AttentionMaps]) -> np.ndarray:
    """Lambda per layer and head, shape (layers, heads)."""
    return np.stack([m.lam.detach().float().cpu().numpy() for m in maps])


def _positive_rows(a: torch.Tensor, signed: str) -> torch.Tensor:
    if signed == "clamp":
        a = a.clamp(min=0)
    elif signed == "abs":
        a = a.abs()
    else:
        raise ValueError(f"signed must be 'clamp' or 'abs', got {signed!r}")
    return a / a.sum(-1, keepdim=True).clamp(min=1e-12)


def rollout_matrix(
    maps: Sequence[AttentionMaps], kind: str = "diff", signed: str = "clamp", residual: float = 0.5,
    start_layer: int = 0,
) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema 2020) as a (B, N, N) matrix: per layer the head-mean map,
    made non-negative (see the module docstring), mixed with the identity for the residual path as
    ``(1 - residual) A + residual I``, rows renormalised, multiplied through the layers."""
    joint = None
    for m in maps[start_layer:]:
        a = _positive_rows(_select(m, kind).detach().float().mean(1), signed)
        eye = torch.eye(a.shape[-1], device=a.device).expand_as(a)
        a = (1 - residual) * a + residual * eye
        a = a / a.sum(-1, keepdim=True)
        joint = a if joint is None else a @ joint
    return joint


def rollout(
    maps: Sequence[AttentionMaps], kind: str = "diff", signed: str = "clamp", residual: float = 0.5,
    start_layer: int = 0,
) -> np.ndarray:
    """The CLS row of :func:`rollout_matrix` over the patches, (B, gh, gw)."""
    return patch_grid(rollout_matrix(maps, kind, signed, residual, start_layer)[:, 0, maps[0].prefix_tokens:])


def gradient_weighted_attention(
    model: torch.nn.Module, x: torch.Tensor, label: int | Sequence[int]
) -> np.ndarray:
    """Gradient-weighted attention relevance (Chefer, Gur & Wolf, ICCV 2021, eq. 5-6) for ``label``:
    ``R = I``; for each layer ``R += mean_h((dA * A)^+) R`` with ``A`` the applied maps (heads of
    several applied maps are pooled) and ``dA`` the gradient of the label's logit with respect to
    them. Returns the CLS row over patches (B, gh, gw). ``label`` may give one label per batch item: the
    items are independent in eval mode, so one backward pass of the sum gives each item its own gradient."""
    with torch.enable_grad():
        logits, maps = model(x.detach(), return_attention=True)
        applied = [m.applied() for m in maps]  # what each layer multiplies with its values
        flat = [t for layer in applied for t in layer]
        index = torch.as_tensor(label, device=logits.device).reshape(-1, 1).expand(logits.shape[0], 1)
        grads = iter(torch.autograd.grad(logits.gather(1, index).sum(), flat))
    attn = [torch.cat([t.detach() for t in layer], dim=1) for layer in applied]
    grad = [torch.cat([next(grads) for _ in layer], dim=1) for layer in applied]
    return chefer_relevance(attn, grad, maps[0].prefix_tokens)


def chefer_relevance(attn: Sequence[torch.Tensor], grads: Sequence[torch.Tensor], prefix_tokens: int) -> np.ndarray:
    """The relevance update of Chefer et al. 2021 given per-layer maps and their gradients."""
    b, _, n, _ = attn[0].shape
    r = torch.eye(n, dtype=torch.float32).expand(b, n, n).clone()
    for a, g in zip(attn, grads, strict=True):
        cam = (g.float() * a.float()).clamp(min=0).mean(1)
        r = r + cam @ r
    return patch_grid(r[:, 0, prefix_tokens:])
