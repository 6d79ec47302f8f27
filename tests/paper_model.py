"""A plain restatement of the RARE-VISION paper's model classes (``rare_vision_pipeline_v3_1.py``:
DifferentialMultiheadAttention, DifferentialBlock, ExcitationBlock, DifferentialBiomedCLIP), read from the
paper's code and rewritten here, so that tests can write checkpoints the way the paper's script does without
downloading BiomedCLIP: the open_clip CLIP is replaced by a module with the same ``visual`` (a timm ViT trunk and
``head.proj``) and a stand-in text tower, and the blocks are converted from the trunk's as the paper does.

Kept as the paper has it: separate q/k/v projections, lambda vectors of shape (H/2, 1, d) from N(0, 0.02), the
layer's lambda as the mean over heads of exp(min(lq1.lk1, 5)) - exp(min(lq2.lk2, 5)) + 0.8, the output
proj([A1 V1 - lambda A2 V2, A2 V2]), blocks whose LayerNorms are ``type(vit.blocks[0].norm1)`` built with its
default eps, the excitation block BN(x * sigmoid(W2 relu(W1 x))), dropout and a linear head.
"""

from __future__ import annotations

import numpy as np
import timm
import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import Mlp


class PaperAttention(nn.Module):
    def __init__(self, dim, heads, lambda_init=0.8):
        super().__init__()
        self.heads, self.half, self.d = heads, heads // 2, dim // heads
        self.q_proj, self.k_proj, self.v_proj = (nn.Linear(dim, dim) for _ in range(3))
        self.proj = nn.Linear(dim, dim)
        self.lambda_init = lambda_init
        for name in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"):
            setattr(self, name, nn.Parameter(torch.randn(self.half, 1, self.d) * 0.02))

    def forward(self, x):
        b, n, c = x.shape

        def heads(layer):
            return layer(x).reshape(b, n, self.heads, self.d).permute(0, 2, 1, 3)

        q1, q2 = heads(self.q_proj).chunk(2, dim=1)
        k1, k2 = heads(self.k_proj).chunk(2, dim=1)
        v1, v2 = heads(self.v_proj).chunk(2, dim=1)
        l1 = torch.exp(torch.clamp((self.lambda_q1 * self.lambda_k1).sum(-1).sum(-1), max=5))
        l2 = torch.exp(torch.clamp((self.lambda_q2 * self.lambda_k2).sum(-1).sum(-1), max=5))
        lam = (l1 - l2 + self.lambda_init).mean()
        a1 = (q1 @ k1.transpose(-2, -1) * self.d**-0.5).softmax(-1)
        a2 = (q2 @ k2.transpose(-2, -1) * self.d**-0.5).softmax(-1)
        x1 = (a1 @ v1).transpose(1, 2).reshape(b, n, c // 2)
        x2 = (a2 @ v2).transpose(1, 2).reshape(b, n, c // 2)
        return self.proj(torch.cat([x1 - lam * x2, x2], dim=-1))


class PaperBlock(nn.Module):
    def __init__(self, dim, heads, norm_layer):
        super().__init__()
        self.norm1, self.attn = norm_layer(dim), PaperAttention(dim, heads)
        self.drop_path = nn.Identity()
        self.norm2, self.mlp = norm_layer(dim), Mlp(dim, 4 * dim, act_layer=nn.GELU)

    def forward(self, x):
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class Excitation(nn.Module):
    def __init__(self, dim, reduction=16):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim // reduction)
        self.gate = nn.Sequential(nn.Linear(dim // reduction, dim), nn.Sigmoid())
        self.bn = nn.BatchNorm1d(dim)

    def forward(self, x):
        return self.bn(x * self.gate(F.relu(self.fc1(x))))


class Visual(nn.Module):
    """open_clip's TimmModel as BiomedCLIP configures it: the trunk's class token, then a linear projection."""

    def __init__(self, trunk, out_dim):
        super().__init__()
        self.trunk = trunk
        self.head = nn.Sequential()
        self.head.add_module("drop", nn.Dropout(0.0))
        self.head.add_module("proj", nn.Linear(trunk.num_features, out_dim, bias=False))

    def forward(self, x):
        return self.head(self.trunk(x))


class StandInClip(nn.Module):
    """The CLIP the paper keeps as ``self.model``: the vision tower, and a small stand-in for the text tower
    whose keys (``model.text.*``, ``model.logit_scale``) an import must leave out."""

    def __init__(self, visual):
        super().__init__()
        self.visual = visual
        self.text = nn.Linear(8, 8)
        self.logit_scale = nn.Parameter(torch.tensor(2.0))

    def encode_image(self, images, normalize=False):
        return self.visual(images)


class PaperModel(nn.Module):
    """DifferentialBiomedCLIP: pretrained blocks converted to differential ones, the text-prompt parameters,
    the excitation block, dropout 0.4 and the head."""

    def __init__(self, trunk_name="vit_base_patch16_224", out_dim=512, num_classes=17, seed=0, **trunk_kwargs):
        super().__init__()
        torch.manual_seed(seed)
        vit = timm.create_model(trunk_name, pretrained=False, num_classes=0, **trunk_kwargs)
        dim, heads = vit.embed_dim, vit.blocks[0].attn.num_heads
        blocks = nn.Sequential(*[PaperBlock(dim, heads, type(vit.blocks[0].norm1)) for _ in vit.blocks])
        with torch.no_grad():
            for orig, new in zip(vit.blocks, blocks, strict=True):
                for i, proj in enumerate((new.attn.q_proj, new.attn.k_proj, new.attn.v_proj)):
                    proj.weight.copy_(orig.attn.qkv.weight[i * dim:(i + 1) * dim])
                    proj.bias.copy_(orig.attn.qkv.bias[i * dim:(i + 1) * dim])
                new.attn.proj.load_state_dict(orig.attn.proj.state_dict())
                new.mlp.load_state_dict(orig.mlp.state_dict())
                new.norm1.load_state_dict(orig.norm1.state_dict())
                new.norm2.load_state_dict(orig.norm2.state_dict())
        vit.blocks = blocks
        self.model = StandInClip(Visual(vit, out_dim))
        self.logit_scale = nn.Parameter(torch.ones([]) * np.log(1 / 0.07))
        self.register_buffer("text_features", F.normalize(torch.randn(num_classes, out_dim), dim=-1))
        self.eb_block = Excitation(out_dim)
        self.dropout = nn.Dropout(0.4)
        self.classification_head = nn.Linear(out_dim, num_classes)
        with torch.no_grad():  # trained-looking statistics, so that the BatchNorm is not an identity
            self.eb_block.bn.running_mean.normal_(0, 0.1)
            self.eb_block.bn.running_var.uniform_(0.5, 2.0)
            self.eb_block.bn.weight.uniform_(0.5, 1.5)
            self.eb_block.bn.bias.normal_(0, 0.1)

    def forward(self, images):
        x = self.eb_block(self.model.encode_image(images, normalize=False).float())
        return self.classification_head(self.dropout(x))


def paper_checkpoint(model: PaperModel, path, ema_shift: float = 0.01, ema: bool = True) -> dict:
    """Save ``model`` as the paper's Trainer.save_ckpt does (epoch, model and optimizer state, val_mAP and history
    as numpy floats, seed, EMA shadow over the trainable parameters); the shadow is the weights moved by
    ``ema_shift`` so that the two weight sets differ. Returns the shadow."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    shadow = {n: p.detach().clone() + ema_shift * torch.randn_like(p) for n, p in model.named_parameters()
              if p.requires_grad}
    state = {"epoch": 3, "model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(),
             "val_mAP": np.mean([0.41, 0.43]), "history": {"tl": [0.3], "vl": [0.2], "map": [np.float64(0.42)],
                                                           "lr": [1e-4]}, "seed": 42}
    if ema:
        state["ema_shadow"] = shadow
    torch.save(state, path)
    return shadow


def with_shadow(model: PaperModel, shadow: dict) -> PaperModel:
    """The model as the paper's test mode runs it: the EMA shadow copied over its parameters."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in shadow:
                p.copy_(shadow[n])
    return model
