"""The paper's architecture as a plain forward pass over its own state-dict keys (``model.visual.trunk.*``,
``eb_block.*``, ``classification_head.*``): what ``diffclip import-paper`` checks its imported model against,
written from the paper's model classes (DifferentialMultiheadAttention, DifferentialBlock, ExcitationBlock and
DifferentialBiomedCLIP in ``rare_vision_pipeline_v3_1.py``) without timm, open_clip or our attention kernels.

In eval mode: patch embedding, class token and position embedding; per block ``x + attn(LN1 x)``,
``x + MLP(LN2 x)`` with the paper's attention (heads split in halves, ``lambda = mean_h(exp(min(lq1 . lk1, 5)) -
exp(min(lq2 . lk2, 5)) + 0.8)``, output ``proj([A1 V1 - lambda A2 V2, A2 V2])``); final LayerNorm; the class token;
the linear projection; the excitation block ``BN(x * sigmoid(W2 relu(W1 x)))``; the head.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F


def _ln(x: torch.Tensor, s: Mapping, key: str, eps: float = 1e-6) -> torch.Tensor:
    return F.layer_norm(x, x.shape[-1:], s[key + ".weight"], s[key + ".bias"], eps)


def _attention(x: torch.Tensor, s: Mapping, p: str, lambda_init: float = 0.8) -> torch.Tensor:
    b, n, c = x.shape
    half = s[p + "lambda_q1"].shape[0]
    heads = 2 * half
    d = c // heads

    def split(name):
        return F.linear(x, s[p + name + ".weight"], s[p + name + ".bias"]).reshape(b, n, heads, d).transpose(1, 2)

    q, k, v = split("q_proj"), split("k_proj"), split("v_proj")
    l1 = torch.exp(torch.clamp((s[p + "lambda_q1"] * s[p + "lambda_k1"]).sum(-1).sum(-1), max=5))
    l2 = torch.exp(torch.clamp((s[p + "lambda_q2"] * s[p + "lambda_k2"]).sum(-1).sum(-1), max=5))
    lam = (l1 - l2 + lambda_init).mean()
    a1 = (q[:, :half] @ k[:, :half].transpose(-2, -1) * d**-0.5).softmax(-1)
    a2 = (q[:, half:] @ k[:, half:].transpose(-2, -1) * d**-0.5).softmax(-1)
    x1 = (a1 @ v[:, :half]).transpose(1, 2).reshape(b, n, c // 2)
    x2 = (a2 @ v[:, half:]).transpose(1, 2).reshape(b, n, c // 2)
    return F.linear(torch.cat([x1 - lam * x2, x2], dim=-1), s[p + "proj.weight"], s[p + "proj.bias"])


@torch.no_grad()
def paper_logits(state: Mapping[str, torch.Tensor], images: torch.Tensor) -> torch.Tensor:
    """Logits of the paper's model (eval mode, fp32) with weights ``state`` (its ``model_state_dict`` keys) for
    normalised ``images`` (B, 3, S, S)."""
    s = {k: v.float() for k, v in state.items() if k.startswith(("model.visual.", "eb_block.", "classification_head."))}
    t = "model.visual.trunk."
    x = F.conv2d(images.float(), s[t + "patch_embed.proj.weight"], s[t + "patch_embed.proj.bias"],
                 stride=s[t + "patch_embed.proj.weight"].shape[-1])
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([s[t + "cls_token"].expand(x.shape[0], -1, -1), x], dim=1) + s[t + "pos_embed"]
    depth = 1 + max(int(k.split(".")[4]) for k in s if k.startswith(t + "blocks."))
    for i in range(depth):
        p = f"{t}blocks.{i}."
        x = x + _attention(_ln(x, s, p + "norm1"), s, p + "attn.")
        h = F.gelu(F.linear(_ln(x, s, p + "norm2"), s[p + "mlp.fc1.weight"], s[p + "mlp.fc1.bias"]))
        x = x + F.linear(h, s[p + "mlp.fc2.weight"], s[p + "mlp.fc2.bias"])
    feature = F.linear(_ln(x, s, t + "norm")[:, 0], s["model.visual.head.proj.weight"])
    gate = torch.sigmoid(F.linear(F.relu(F.linear(feature, s["eb_block.fc1.weight"], s["eb_block.fc1.bias"])),
                                  s["eb_block.gate.0.weight"], s["eb_block.gate.0.bias"]))
    b = "eb_block.bn."
    x = F.batch_norm(feature * gate, s[b + "running_mean"], s[b + "running_var"], s[b + "weight"], s[b + "bias"],
                     training=False, eps=1e-5)
    return F.linear(x, s["classification_head.weight"], s["classification_head.bias"])
