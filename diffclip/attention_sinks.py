"""Attention sinks, measured (issue 31, point 2): per layer and head, how much of the CLS row's positive mass
goes to its single largest patch token, to the dark rim outside the field of view, and to high-norm tokens
(patch tokens whose output norm is an outlier of their layer: Darcet, Oquab, Mairal and Bojanowski, "Vision
Transformers Need Registers", 2023).

High-norm: a token whose norm in the block's output exceeds ``Q3 + 3 IQR`` of that layer's patch-token
norms (a fixed outlier rule, since a frame may have no such token at all). Token norms come from timm's
``forward_intermediates`` (one more forward pass, no hooks on the shared model)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

OUTLIER_IQR = 3.0


def high_norm_tokens(norms: np.ndarray) -> np.ndarray:
    """(layers, P) bool: the outlier tokens of each layer's (layers, P) patch-token norms."""
    norms = np.asarray(norms, np.float64)
    q1, q3 = np.quantile(norms, [0.25, 0.75], axis=1, keepdims=True)
    return norms > q3 + OUTLIER_IQR * (q3 - q1)


@torch.inference_mode()
def token_norms(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """(layers, gh * gw) L2 norms of the patch tokens after each block, for one image ``x`` (1, 3, S, S), in
    fp32 (timm's ``forward_intermediates``; the classifier's own trunk, unchanged)."""
    trunk = model.backbone.trunk
    with torch.autocast(x.device.type, enabled=False):
        outs = trunk.forward_intermediates(x.float(), output_fmt="NLC", intermediates_only=True)
    return np.stack([o[0].float().norm(dim=-1).cpu().numpy() for o in outs])


def sink_measures(cls_rows: np.ndarray, norms: np.ndarray, rim_share: np.ndarray) -> dict:
    """Per layer and head, from the CLS rows (layers, heads, gh, gw) of the shown map, the token norms
    (layers, gh * gw) and each token's share of pixels on the rim (gh, gw): the positive mass's share on the
    single largest token (``top_token``), on the rim (``rim``, each token's mass weighted by its rim pixels)
    and on the high-norm tokens (``high_norm``); with the number of high-norm tokens per layer."""
    rows = np.clip(np.asarray(cls_rows, np.float64), 0, None)
    layers, heads = rows.shape[:2]
    flat = rows.reshape(layers, heads, -1)
    total = flat.sum(axis=-1)
    safe = np.where(total > 0, total, np.nan)
    high = high_norm_tokens(norms)
    rim = np.asarray(rim_share, np.float64).reshape(-1)
    return {"top_token": (flat.max(axis=-1) / safe).tolist(),
            "rim": ((flat * rim).sum(axis=-1) / safe).tolist(),
            "high_norm": (np.where(high[:, None, :], flat, 0).sum(axis=-1) / safe).tolist(),
            "high_norm_tokens": high.sum(axis=1).astype(int).tolist()}


def summary(measures: Mapping) -> dict:
    """The last layer's measures of :func:`sink_measures` averaged over its heads: each head's share of its own
    positive mass, then the mean (not the shares of the head-mean map, where a signed map's heads partly
    cancel). What the Noise lab writes under a map."""
    return {k: float(np.nanmean(measures[k][-1])) for k in ("top_token", "rim", "high_norm")} | \
        {"high_norm_tokens": int(measures["high_norm_tokens"][-1])}
