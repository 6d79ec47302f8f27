"""What every variant shares: the fast/maps dispatch and the adoption of a pretrained timm layer."""

from __future__ import annotations

import torch
import torch.nn as nn
from timm.layers import Attention

from .maps import STANDARD, MapSemantics, active_recorder


def check_pretrained(attn: nn.Module, need_even_heads: bool) -> None:
    if type(attn) is not Attention and not getattr(type(attn), "convertible", False):
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


def init_layers(layer: nn.Module, dim: int, num_heads: int, qkv_bias: bool, proj_bias: bool, attn_drop: float,
                proj_drop: float) -> None:
    """The sizes and layers a timm ``Attention`` has (qkv, q/k norms, dropouts, norm, proj), on ``layer``;
    ``adopt`` later shares a pretrained layer's in their place."""
    layer.num_heads = num_heads
    layer.head_dim = dim // num_heads
    layer.attn_dim = dim
    layer.scale = layer.head_dim**-0.5
    layer.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
    layer.q_norm = nn.Identity()
    layer.k_norm = nn.Identity()
    layer.attn_drop = nn.Dropout(attn_drop)
    layer.norm = nn.Identity()
    layer.proj = nn.Linear(dim, dim, bias=proj_bias)
    layer.proj_drop = nn.Dropout(proj_drop)


def layer_kwargs(attn: Attention) -> dict:
    """Constructor arguments that a converted layer takes over from the pretrained one."""
    return {
        "qkv_bias": attn.qkv.bias is not None,
        "proj_bias": attn.proj.bias is not None,
        "attn_drop": attn.attn_drop.p,
        "proj_drop": attn.proj_drop.p,
    }


def adopt(new: nn.Module, attn: Attention) -> nn.Module:
    """Move ``new`` to the pretrained layer's device and dtype and share its qkv, norms and proj."""
    new.to(device=attn.qkv.weight.device, dtype=attn.qkv.weight.dtype)
    for name in ("qkv", "q_norm", "k_norm", "norm", "proj"):
        setattr(new, name, getattr(attn, name))
    return new


class RecordingAttention:
    """Mixin for every variant: dispatch between the fast path and the maps path.

    A variant sets ``variant`` (its registry name) and ``semantics`` (:class:`MapSemantics`), and
    implements ``from_attention(attn, depth)``, ``forward_fast`` and ``forward_maps``.
    """

    variant: str = ""
    semantics: MapSemantics = STANDARD

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # timm reads this flag (from its environment switch) in its own forward; ours are always fused
        self.fused_attn = True

    def forward(
        self, x: torch.Tensor, attn_mask: torch.Tensor | None = None, is_causal: bool = False
    ) -> torch.Tensor:
        recorder = active_recorder()
        if recorder is None:
            return self.forward_fast(x, attn_mask, is_causal)
        out, maps = self.forward_maps(x, attn_mask, is_causal)
        recorder.append(maps)
        return out

    def forward_fast(self, x, attn_mask=None, is_causal=False):  # pragma: no cover - interface
        raise NotImplementedError

    def forward_maps(self, x, attn_mask=None, is_causal=False):  # pragma: no cover - interface
        raise NotImplementedError
