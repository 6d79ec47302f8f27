"""Attention variants for ViT blocks: standard, differential, the paper's split-head form, and a
function-preserving retrofit.

Every variant is a drop-in replacement for timm's ``Attention`` (``forward(x, attn_mask=None,
is_causal=False)``), can be built from a pretrained timm ``Attention`` reusing its ``qkv`` and ``proj``
layers (``from_attention``), and has two paths:

* a fast path built on fused ``scaled_dot_product_attention`` that returns no maps, and
* a maps path, taken while :func:`record_attention` is active, that computes the softmax maps
  explicitly and records one :class:`AttentionMaps` per call.

Variants (DESIGN.md section 5):

``vanilla``
    Standard multi-head attention (Vaswani et al. 2017), the comparison baseline.
``diff``
    Differential attention (Ye et al., "Differential Transformer", ICLR 2025) as timm's
    ``DiffAttention``: half as many heads, two q/k groups per head, a value twice as wide,
    per-head RMSNorm and the ``1 - lambda_init`` scale.
``diff_paper``
    What the RARE-VISION paper's released code computes: pretrained heads 0..H/2-1 form (Q1, K1, V1),
    heads H/2..H-1 form (Q2, K2, V2); one lambda per layer; output ``[A1 V1 - lambda A2 V2, A2 V2]``.
``diff_preserving``
    Our retrofit: the pretrained heads give A1, a second q/k projection initialised as a copy of the
    pretrained one gives A2, values are shared and ``lambda = exp(a) - exp(b)`` starts at 0, so the
    converted network computes exactly the pretrained function at step 0.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import Attention, DiffAttention
from timm.layers.attention import maybe_add_mask, resolve_self_attn_mask

__all__ = [
    "ATTENTION_VARIANTS",
    "AttentionMaps",
    "VanillaAttention",
    "TimmDiffAttention",
    "PaperDiffAttention",
    "PreservingDiffAttention",
    "differential_attention",
    "make_attention",
    "convert_attention",
    "record_attention",
]


@dataclass
class AttentionMaps:
    """Attention maps of one layer for a batch.

    ``a1`` and ``a2`` are softmax maps of shape (B, heads, N, N), ``lam`` holds one lambda per head
    (shape (heads,)), and ``diff = a1 - lam * a2``, whose rows sum to ``1 - lam``. Standard attention
    has no second map: ``a2`` is None, ``lam`` is zero and ``diff`` is ``a1``.
    """

    a1: torch.Tensor
    a2: torch.Tensor | None
    lam: torch.Tensor
    diff: torch.Tensor

    @property
    def num_heads(self) -> int:
        return self.a1.shape[1]


# A context variable rather than a module flag: concurrent requests (the Gradio app runs several
# threads over one model) each record only their own forward pass.
_RECORDER: ContextVar[list[AttentionMaps] | None] = ContextVar("diffclip_attention_recorder", default=None)


@contextlib.contextmanager
def record_attention() -> Iterator[list[AttentionMaps]]:
    """Record the maps of every attention variant called inside the block, in call order.

    >>> with record_attention() as maps:
    ...     model(x)
    >>> len(maps)  # one entry per transformer block
    """
    maps: list[AttentionMaps] = []
    token = _RECORDER.set(maps)
    try:
        yield maps
    finally:
        _RECORDER.reset(token)


def _softmax_maps(
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


def _causal_bias(n: int, like: torch.Tensor) -> torch.Tensor:
    return like.new_full((n, n), float("-inf")).triu_(1)


def _split_qkv(qkv: nn.Linear, x: torch.Tensor, num_heads: int, head_dim: int):
    """Project x with the fused qkv layer into (B, heads, N, head_dim) q, k, v."""
    b, n, _ = x.shape
    q, k, v = qkv(x).reshape(b, n, 3, num_heads, head_dim).permute(2, 0, 3, 1, 4).unbind(0)
    return q, k, v


def _check_pretrained(attn: nn.Module, need_even_heads: bool) -> None:
    if type(attn) not in (Attention, VanillaAttention):
        raise TypeError(
            f"expected a timm Attention (or VanillaAttention) to convert, got {type(attn).__name__}; "
            "an attention that is already differential cannot be converted again"
        )
    if getattr(attn, "gate", None) is not None:
        raise ValueError("gated timm attention is not supported by the differential variants")
    if attn.qkv.in_features != attn.proj.out_features or attn.attn_dim != attn.qkv.in_features:
        raise ValueError("only attention with dim_out == dim == num_heads * head_dim can be converted")
    if need_even_heads and attn.num_heads % 2:
        raise ValueError(f"differential attention needs an even number of heads, got {attn.num_heads}")


def _layer_kwargs(attn: Attention) -> dict:
    """Constructor arguments that a converted layer takes over from the pretrained one."""
    return {
        "qkv_bias": attn.qkv.bias is not None,
        "proj_bias": attn.proj.bias is not None,
        "attn_drop": attn.attn_drop.p,
        "proj_drop": attn.proj_drop.p,
    }


def _adopt(new: nn.Module, attn: Attention) -> nn.Module:
    """Move ``new`` to the pretrained layer's device and dtype and share its qkv, norms and proj."""
    new.to(device=attn.qkv.weight.device, dtype=attn.qkv.weight.dtype)
    for name in ("qkv", "q_norm", "k_norm", "norm", "proj"):
        setattr(new, name, getattr(attn, name))
    return new


class _Recording:
    """Mixin: dispatch between the fast path and the maps path."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # timm reads this flag (from its environment switch) in its own forward; ours are always fused
        self.fused_attn = True

    def forward(
        self, x: torch.Tensor, attn_mask: torch.Tensor | None = None, is_causal: bool = False
    ) -> torch.Tensor:
        recorder = _RECORDER.get()
        if recorder is None:
            return self.forward_fast(x, attn_mask, is_causal)
        out, maps = self.forward_maps(x, attn_mask, is_causal)
        recorder.append(maps)
        return out

    def forward_fast(self, x, attn_mask=None, is_causal=False):  # pragma: no cover - interface
        raise NotImplementedError

    def forward_maps(self, x, attn_mask=None, is_causal=False):  # pragma: no cover - interface
        raise NotImplementedError


class VanillaAttention(_Recording, Attention):
    """Standard multi-head self-attention (timm ``Attention``) that can also return its maps."""

    variant = "vanilla"

    @classmethod
    def from_attention(cls, attn: Attention, depth: int = 0) -> VanillaAttention:
        """Wrap a pretrained timm ``Attention``, sharing all of its layers."""
        _check_pretrained(attn, need_even_heads=False)
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
        q, k, v = _split_qkv(self.qkv, x, self.num_heads, self.head_dim)
        q, k = self.q_norm(q), self.k_norm(k)
        a1 = _softmax_maps(q, k, self.scale, attn_mask, is_causal)
        out = self.attn_drop(a1).to(v.dtype) @ v
        out = self.norm(out.transpose(1, 2).reshape(b, n, self.attn_dim))
        if gate is not None:
            out = out * gate
        out = self.proj_drop(self.proj(out))
        lam = a1.new_zeros(self.num_heads)
        return out, AttentionMaps(a1=a1, a2=None, lam=lam, diff=a1)


class TimmDiffAttention(_Recording, DiffAttention):
    """Differential attention of Ye et al. (ICLR 2025), built on timm's ``DiffAttention``.

    ``A = softmax(Q1 K1^T / sqrt(d)) - lambda softmax(Q2 K2^T / sqrt(d))`` with
    ``lambda = exp(lq1 . lk1) - exp(lq2 . lk2) + lambda_init`` and
    ``lambda_init = 0.8 - 0.6 exp(-0.3 depth)``; per-head RMSNorm, then ``x (1 - lambda_init)``.
    A pretrained layer with H heads of size d becomes H/2 differential heads: its consecutive
    head pairs (2h, 2h+1) are (Q1, Q2) and (K1, K2) of head h, and their values, concatenated, the
    value of head h.
    """

    variant = "diff"

    @classmethod
    def from_attention(cls, attn: Attention, depth: int = 0) -> TimmDiffAttention:
        """Build from a pretrained timm ``Attention``, reusing its qkv and proj layers."""
        _check_pretrained(attn, need_even_heads=True)
        return _adopt(cls(attn.qkv.in_features, num_heads=attn.num_heads // 2, depth=depth, **_layer_kwargs(attn)),
                      attn)

    def lambda_per_head(self) -> torch.Tensor:
        """The layer's lambda, repeated for each head (shape (heads,))."""
        return self._compute_lambda().reshape(1).expand(self.num_heads)

    def forward_fast(self, x, attn_mask=None, is_causal=False):
        """No maps kept. On CUDA: timm's fused path (scaled-dot-product attention kernels handle a value
        twice as wide as q/k). On the CPU that width sends SDPA to its slow unfused fallback, so this
        path uses :func:`differential_attention` (one softmax over both maps, one product with the
        value, cache-sized batch chunks) and an RMSNorm with the (1 - lambda_init) scale folded into
        its weight."""
        if x.is_cuda:
            if is_causal:
                attn_mask = _causal_bias(x.shape[1], x)
            return DiffAttention.forward(self, x, attn_mask=attn_mask)
        b, n, c = x.shape
        h, d = self.num_heads, self.head_dim
        q, k, v = self.qkv(x).chunk(3, dim=2)
        q = self.q_norm(q.reshape(b, n, 2 * h, d).transpose(1, 2))  # heads (2i, 2i+1) = (Q1, Q2) of head i
        k = self.k_norm(k.reshape(b, n, 2 * h, d).transpose(1, 2))
        v = v.reshape(b, n, h, 2 * d).transpose(1, 2)
        out = differential_attention(q.view(b, h, 2, n, d), k.view(b, h, 2, n, d), v, self._compute_lambda(),
                                     self.scale, attn_mask, is_causal, self.attn_drop)
        weight = self.sub_norm.weight * (1 - self.lambda_init)
        out = F.rms_norm(out, (2 * d,), weight.to(out.dtype), self.sub_norm.eps)
        out = self.norm(out.transpose(1, 2).reshape(b, n, c))
        return self.proj_drop(self.proj(out))

    def forward_maps(self, x, attn_mask=None, is_causal=False):
        b, n, c = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=2)
        q = q.reshape(b, n, 2 * self.num_heads, self.head_dim).transpose(1, 2)
        k = k.reshape(b, n, 2 * self.num_heads, self.head_dim).transpose(1, 2)
        v = v.reshape(b, n, self.num_heads, 2 * self.head_dim).transpose(1, 2)
        q, k = self.q_norm(q), self.k_norm(k)
        attn = _softmax_maps(q, k, self.scale, attn_mask, is_causal).view(b, self.num_heads, 2, n, n)
        a1, a2 = attn[:, :, 0], attn[:, :, 1]
        lam = self.lambda_per_head().float()
        diff = a1 - lam.view(1, -1, 1, 1) * a2
        # The recorded map is the one applied, so gradients with respect to it are meaningful.
        out = self.attn_drop(diff).to(v.dtype) @ v
        out = self.sub_norm(out) * (1 - self.lambda_init)
        out = self.norm(out.transpose(1, 2).reshape(b, n, c))
        out = self.proj_drop(self.proj(out))
        return out, AttentionMaps(a1=a1, a2=a2, lam=lam, diff=diff)


class PaperDiffAttention(_Recording, nn.Module):
    """Differential attention as the RARE-VISION paper's released code computes it.

    The H pretrained heads (size d) are split into groups: heads 0..H/2-1 give (Q1, K1, V1) and heads
    H/2..H-1 give (Q2, K2, V2). Lambda vectors of shape (H/2, d) start at N(0, 0.02); per head
    ``l_i = exp(min(lq_i . lk_i, 5))`` and the layer's single ``lambda = mean_h(l_1 - l_2 + 0.8)``.
    The output before ``proj`` is ``concat(A1 V1 - lambda A2 V2, A2 V2)``; there is no sub-norm.
    """

    variant = "diff_paper"

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
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.attn_dim = dim
        self.scale = self.head_dim**-0.5
        self.lambda_init = lambda_init
        self.lambda_clamp = lambda_clamp
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.q_norm = nn.Identity()
        self.k_norm = nn.Identity()
        self.attn_drop = nn.Dropout(attn_drop)
        self.norm = nn.Identity()
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.proj_drop = nn.Dropout(proj_drop)
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
        _check_pretrained(attn, need_even_heads=True)
        return _adopt(cls(attn.qkv.in_features, num_heads=attn.num_heads, **_layer_kwargs(attn)), attn)

    def compute_lambda(self) -> torch.Tensor:
        """The layer's scalar lambda."""
        l1 = torch.exp(torch.clamp(torch.sum(self.lambda_q1 * self.lambda_k1, dim=-1), max=self.lambda_clamp))
        l2 = torch.exp(torch.clamp(torch.sum(self.lambda_q2 * self.lambda_k2, dim=-1), max=self.lambda_clamp))
        return (l1 - l2 + self.lambda_init).mean()

    def _qkv(self, x):
        q, k, v = _split_qkv(self.qkv, x, self.num_heads, self.head_dim)
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
        attn = _softmax_maps(q, k, self.scale, attn_mask, is_causal)
        half = self.num_heads // 2
        a1, a2 = attn[:, :half], attn[:, half:]
        lam = self.compute_lambda().float()
        out = self._finish(self.attn_drop(a1).to(v.dtype) @ v[:, :half],
                           self.attn_drop(a2).to(v.dtype) @ v[:, half:], lam)
        lam_heads = lam.reshape(1).expand(half)
        return out, AttentionMaps(a1=a1, a2=a2, lam=lam_heads, diff=a1 - lam * a2)


class PreservingDiffAttention(_Recording, nn.Module):
    """Function-preserving differential retrofit of a pretrained attention layer.

    ``A1`` comes from the pretrained q/k heads; ``A2`` from a second q/k projection initialised as a
    copy of the pretrained one; both maps weight the same values. Per head,
    ``lambda = exp(a) - exp(b)`` with ``a = b = 0`` at initialisation, so the layer's output at step 0
    equals the pretrained layer's; there is no sub-norm, which would break that equality.
    """

    variant = "diff_preserving"

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
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.attn_dim = dim
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.qk2 = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        self.q_norm = nn.Identity()
        self.k_norm = nn.Identity()
        self.attn_drop = nn.Dropout(attn_drop)
        self.norm = nn.Identity()
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.proj_drop = nn.Dropout(proj_drop)
        self.lambda_a = nn.Parameter(torch.zeros(num_heads))
        self.lambda_b = nn.Parameter(torch.zeros(num_heads))

    @classmethod
    def from_attention(cls, attn: Attention, depth: int = 0) -> PreservingDiffAttention:
        """Build from a pretrained timm ``Attention``: reuse qkv and proj, copy q/k into ``qk2``."""
        _check_pretrained(attn, need_even_heads=False)
        dim = attn.qkv.in_features
        new = _adopt(cls(dim, num_heads=attn.num_heads, **_layer_kwargs(attn)), attn)
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
        q1, k1, v = _split_qkv(self.qkv, x, self.num_heads, self.head_dim)
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
            return self._finish(differential_attention(
                torch.stack([q1, q2], dim=2), torch.stack([k1, k2], dim=2), v, self.compute_lambda(),
                self.scale, attn_mask, is_causal, self.attn_drop))
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
        a1 = _softmax_maps(q1, k1, self.scale, attn_mask, is_causal)
        a2 = _softmax_maps(q2, k2, self.scale, attn_mask, is_causal)
        lam = self.compute_lambda().float()
        diff = a1 - lam.view(1, -1, 1, 1) * a2
        out = self._finish(self.attn_drop(diff).to(v.dtype) @ v)
        return out, AttentionMaps(a1=a1, a2=a2, lam=lam, diff=diff)


ATTENTION_VARIANTS: dict[str, type[nn.Module]] = {
    "vanilla": VanillaAttention,
    "diff": TimmDiffAttention,
    "diff_paper": PaperDiffAttention,
    "diff_preserving": PreservingDiffAttention,
}


def make_attention(variant: str, attn: Attention, depth: int = 0) -> nn.Module:
    """Build the ``variant`` attention from a pretrained timm ``Attention`` at block ``depth``."""
    try:
        cls = ATTENTION_VARIANTS[variant]
    except KeyError:
        raise ValueError(
            f"unknown attention variant {variant!r}; choose one of {', '.join(ATTENTION_VARIANTS)}"
        ) from None
    return cls.from_attention(attn, depth=depth)


def convert_attention(vit: nn.Module, variant: str) -> nn.Module:
    """Replace the attention of every block of a timm VisionTransformer in place; return ``vit``."""
    blocks = getattr(vit, "blocks", None)
    if blocks is None:
        raise TypeError(f"expected a timm VisionTransformer with .blocks, got {type(vit).__name__}")
    for depth, block in enumerate(blocks):
        block.attn = make_attention(variant, block.attn, depth=depth)
    return vit

