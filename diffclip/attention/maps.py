"""Recorded attention maps and what each variant's maps mean (docs/design.md, "Attention maps")."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MapSemantics:
    """What an attention variant's recorded maps mean, so that explanations and views ask the layer
    rather than compare variant names.

    ``differential``: it records a second map ``a2`` and a lambda, and ``diff = a1 - lam * a2``.
    ``shown``: the map to show as "what this layer attends to" ("diff" or "a1").
    ``applied``: the maps the layer multiplies with its values, in the order of its output heads
    (gradient-weighted attention differentiates with respect to these).
    ``signed``: the shown map can be negative (draw it with a diverging colormap centred at 0).
    ``lambda_per``: "layer" when one lambda is shared by all heads, "head" when each head has its own.
    """

    differential: bool
    shown: str
    applied: tuple[str, ...]
    signed: bool
    lambda_per: str = "layer"


#: Standard softmax attention: one map, applied as it is, never negative.
STANDARD = MapSemantics(differential=False, shown="a1", applied=("a1",), signed=False, lambda_per="layer")


@dataclass
class AttentionMaps:
    """Attention maps of one layer for a batch.

    ``a1`` and ``a2`` are softmax maps of shape (B, heads, N, N), ``lam`` holds one lambda per head
    (shape (heads,)), and ``diff = a1 - lam * a2``, whose rows sum to ``1 - lam``. Standard attention
    has no second map: ``a2`` is None, ``lam`` is zero and ``diff`` is ``a1``. ``semantics`` says
    which of them the layer applies and which one to show.
    """

    a1: torch.Tensor
    a2: torch.Tensor | None
    lam: torch.Tensor
    diff: torch.Tensor
    semantics: MapSemantics = STANDARD
    #: tokens before the patch grid (CLS): the model stamps its own count when it returns the maps
    prefix_tokens: int = 1
    #: (B, heads, N) lambda of every query token, for a variant whose lambda depends on the token (diff_v2);
    #: ``lam`` then holds the CLS token's, and ``diff``'s row i is ``a1 - lam_tokens[..., i] * a2``
    lam_tokens: torch.Tensor | None = None

    @property
    def num_heads(self) -> int:
        return self.a1.shape[1]

    @property
    def shown(self) -> torch.Tensor:
        """The map that the views show for this layer."""
        return getattr(self, self.semantics.shown)

    def applied(self) -> list[torch.Tensor]:
        """The maps the layer applies to its values (tensors of the forward graph)."""
        return [getattr(self, name) for name in self.semantics.applied]

    def select(self, index: int) -> AttentionMaps:
        """The maps of batch item ``index`` (batch dimension kept)."""
        a2 = None if self.a2 is None else self.a2[index : index + 1]
        tokens = None if self.lam_tokens is None else self.lam_tokens[index : index + 1]
        lam = self.lam if tokens is None else tokens[0, :, 0]  # that image's CLS lambda
        return AttentionMaps(self.a1[index : index + 1], a2, lam, self.diff[index : index + 1], self.semantics,
                             self.prefix_tokens, tokens)


# A context variable rather than a module flag: concurrent requests (the Gradio app runs several
# threads over one model) each record only their own forward pass.
_RECORDER: ContextVar[list[AttentionMaps] | None] = ContextVar("diffclip_attention_recorder", default=None)


def active_recorder() -> list[AttentionMaps] | None:
    """The list that maps are recorded into in this context, or None when nothing records."""
    return _RECORDER.get()


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
