"""Attention variants for ViT blocks: standard, differential, the paper's split-head form, and a
function-preserving retrofit.

Every variant is a drop-in replacement for timm's ``Attention`` (``forward(x, attn_mask=None,
is_causal=False)``), can be built from a pretrained timm ``Attention`` reusing its ``qkv`` and ``proj``
layers (``from_attention``), and has two paths:

* a fast path built on fused ``scaled_dot_product_attention`` that returns no maps, and
* a maps path, taken while :func:`record_attention` is active, that computes the softmax maps
  explicitly and records one :class:`AttentionMaps` per call.

Each variant describes its maps in ``semantics`` (:class:`MapSemantics`): explanations and views ask
the layer which map it applies and which one to show, never its name. Modules: ``maps`` (recording and
semantics), ``kernels`` (explicit maps and the CPU differential kernel), ``base`` (dispatch and
adoption of a pretrained layer), one module per variant family, and ``registry``.

Variants (docs/design.md, "Attention variants"):

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
``diff_v2``
    Differential Transformer V2 (Ye et al., Microsoft, January 2026): two query heads per key/value head,
    their outputs subtracted with ``sigmoid(W_lambda x)`` per token and head, no per-head norm; converted
    from a pretrained layer exactly (the second query a copy, ``W_lambda = 0``, the output projection doubled).
"""

import importlib

from .base import RecordingAttention
from .kernels import differential_attention
from .maps import STANDARD, AttentionMaps, MapSemantics, record_attention
from .registry import (
    ATTENTION_VARIANTS,
    attention_class,
    convert_attention,
    make_attention,
    register_attention,
    semantics_of,
)

#: The variant modules, in the order the variants are listed; importing one registers its class. A new
#: variant is one module in this package and one entry here (docs/design.md, "Attention variants").
VARIANT_MODULES = ("vanilla", "differential", "paper", "preserving", "diff_v2")
for _module in VARIANT_MODULES:
    importlib.import_module(f".{_module}", __name__)

#: the built-in variants' classes, by name (as attributes of this package)
_CLASSES = {"VanillaAttention": "vanilla", "TimmDiffAttention": "differential", "PaperDiffAttention": "paper",
            "PreservingDiffAttention": "preserving", "DiffV2Attention": "diff_v2"}


def __getattr__(name: str):
    if name in _CLASSES:
        return getattr(importlib.import_module(f".{_CLASSES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "ATTENTION_VARIANTS",
    "STANDARD",
    "AttentionMaps",
    "MapSemantics",
    "RecordingAttention",
    "VanillaAttention",
    "TimmDiffAttention",
    "PaperDiffAttention",
    "PreservingDiffAttention",
    "DiffV2Attention",
    "attention_class",
    "differential_attention",
    "make_attention",
    "convert_attention",
    "record_attention",
    "register_attention",
    "semantics_of",
]
