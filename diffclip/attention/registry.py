"""The attention variants by name, and the one function that converts a pretrained timm ViT."""

from __future__ import annotations

import torch.nn as nn
from timm.layers import Attention

from .maps import MapSemantics

#: Variant name -> class, filled as the variant modules are imported (each decorates its class with
#: ``register_attention``); the package lists those modules in ``VARIANT_MODULES``.
ATTENTION_VARIANTS: dict[str, type[nn.Module]] = {}


def register_attention(cls: type[nn.Module]) -> type[nn.Module]:
    """Add a variant class (it names itself in ``cls.variant`` and describes its maps in
    ``cls.semantics``); usable as a class decorator."""
    name = getattr(cls, "variant", "")
    semantics = getattr(cls, "semantics", None)
    if not name or not isinstance(semantics, MapSemantics):
        raise TypeError(f"{cls.__name__} needs a 'variant' name and 'semantics' (MapSemantics)")
    kinds = ("a1", "diff") + (("a2",) if semantics.differential else ())
    bad = [k for k in (semantics.shown, *semantics.applied) if k not in kinds]
    if bad or semantics.lambda_per not in ("layer", "head"):
        raise ValueError(f"{cls.__name__}.semantics names maps {bad} not among {kinds}, or lambda_per "
                         f"{semantics.lambda_per!r} is not 'layer' or 'head'")
    if name in ATTENTION_VARIANTS and ATTENTION_VARIANTS[name] is not cls:
        raise ValueError(f"attention variant {name!r} is already registered")
    ATTENTION_VARIANTS[name] = cls
    return cls


def attention_class(variant: str) -> type[nn.Module]:
    """The class registered as ``variant``; a ValueError lists the known names."""
    try:
        return ATTENTION_VARIANTS[variant]
    except KeyError:
        raise ValueError(
            f"unknown attention variant {variant!r}; choose one of {', '.join(ATTENTION_VARIANTS)}"
        ) from None


def semantics_of(variant: str) -> MapSemantics:
    """What the maps of ``variant`` mean (docs/design.md, "Attention maps")."""
    return attention_class(variant).semantics


def make_attention(variant: str, attn: Attention, depth: int = 0) -> nn.Module:
    """Build the ``variant`` attention from a pretrained timm ``Attention`` at block ``depth``."""
    return attention_class(variant).from_attention(attn, depth=depth)


def convert_attention(vit: nn.Module, variant: str) -> nn.Module:
    """Replace the attention of every block of a timm VisionTransformer in place; return ``vit``.

    This is the one route for every model: random-initialised trunks are converted after timm builds
    them, exactly as pretrained ones, so both share one code path and one initialisation order."""
    blocks = getattr(vit, "blocks", None)
    if blocks is None:
        raise TypeError(f"expected a timm VisionTransformer with .blocks, got {type(vit).__name__}")
    for depth, block in enumerate(blocks):
        block.attn = make_attention(variant, block.attn, depth=depth)
    return vit
