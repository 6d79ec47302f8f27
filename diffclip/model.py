"""The classifier of the paper: a ViT backbone with attention variants, a squeeze-excitation gate on the
projected feature, BatchNorm, dropout and a linear layer to the labels."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from .attention import (
    ATTENTION_VARIANTS,
    MapSemantics,
    convert_attention,
    record_attention,
    semantics_of,
)
from .backbones import BACKBONES, Preprocess, VisionTower, build_backbone
from .device import full_precision
from .labels import LABELS, check_labels


@dataclass
class ModelConfig:
    """Everything needed to rebuild the architecture (not the weights)."""

    backbone: str = "biomedclip"
    attention: str = "diff"
    labels: tuple[str, ...] = LABELS
    dropout: float = 0.4
    se_reduction: int = 16  # the paper's excitation block (reduction 16)
    preprocess: Preprocess | None = None  # None: the backbone's; a checkpoint stores its own

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {self.backbone!r}; choose one of {', '.join(BACKBONES)}")
        native = BACKBONES[self.backbone].preprocess
        if self.preprocess is None:
            self.preprocess = native
        elif isinstance(self.preprocess, dict):
            self.preprocess = Preprocess.from_dict(self.preprocess)
        if self.preprocess.image_size != native.image_size:
            raise ValueError(f"preprocess image_size {self.preprocess.image_size} does not fit the {self.backbone} "
                             f"backbone, which takes {native.image_size} px")
        if self.attention not in ATTENTION_VARIANTS:
            raise ValueError(
                f"unknown attention variant {self.attention!r}; choose one of {', '.join(ATTENTION_VARIANTS)}"
            )
        self.labels = check_labels(self.labels)
        if isinstance(self.se_reduction, bool) or not isinstance(self.se_reduction, int) or self.se_reduction < 1:
            raise ValueError(f"se_reduction must be a whole number >= 1, got {self.se_reduction!r}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be a number in [0, 1), got {self.dropout!r}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["labels"] = list(self.labels)
        d["preprocess"] = self.preprocess.to_dict()
        return d


class SqueezeExcite(nn.Module):
    """Feature gate ``x * sigmoid(W2 relu(W1 x))`` (Hu et al. 2018) on a pooled feature vector."""

    def __init__(self, dim: int, reduction: int = 16) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, dim // reduction)
        self.fc2 = nn.Linear(dim // reduction, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(x))))


class ClassifierHead(nn.Module):
    """SE gate, BatchNorm, dropout, linear to the labels."""

    def __init__(self, dim: int, num_labels: int, dropout: float = 0.4, se_reduction: int = 16) -> None:
        super().__init__()
        self.se = SqueezeExcite(dim, se_reduction)
        self.bn = nn.BatchNorm1d(dim)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(dim, num_labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with full_precision(x):  # see diffclip.device.full_precision
            x = x.to(self.fc.weight.dtype)
            return self.fc(self.drop(self.bn(self.se(x))))


@dataclass(frozen=True)
class ModelLayout:
    """The model's shape as explanations and views need it, said by the model itself so that nothing outside
    this package walks its modules."""

    layers: int  #: transformer blocks, each with one attention map per head
    heads: int  #: heads of a block's maps (a differential model's heads are pairs of softmax heads)
    prefix_tokens: int  #: tokens before the patch grid (CLS)
    grid: tuple[int, int]  #: patches down and across
    image_size: int  #: the square input's side in pixels


class DiffCLIPClassifier(nn.Module):
    """Multi-label frame classifier: ``model(x)`` gives logits; ``model(x, return_attention=True)``
    gives ``(logits, maps)`` with one :class:`~diffclip.attention.AttentionMaps` per block."""

    def __init__(self, config: ModelConfig, backbone: VisionTower | None = None) -> None:
        super().__init__()
        self.config = config
        self.backbone = backbone if backbone is not None else build_backbone(config.backbone)
        convert_attention(self.backbone.trunk, config.attention)
        self.head = ClassifierHead(
            self.backbone.embed_dim, len(config.labels), config.dropout, config.se_reduction
        )

    @property
    def labels(self) -> tuple[str, ...]:
        return self.config.labels

    @property
    def attention_semantics(self) -> MapSemantics:
        """What this model's attention maps mean (docs/design.md, "Attention maps")."""
        return semantics_of(self.config.attention)

    @property
    def layout(self) -> ModelLayout:
        """Layers, heads, prefix tokens, patch grid and input size of this model."""
        trunk = self.backbone.trunk
        embed = trunk.patch_embed
        return ModelLayout(layers=len(trunk.blocks), heads=int(trunk.blocks[-1].attn.num_heads),
                           prefix_tokens=int(getattr(trunk, "num_prefix_tokens", 1)),
                           grid=tuple(int(g) for g in embed.grid_size), image_size=int(embed.img_size[0]))

    def last_block(self) -> nn.Module:
        """The last transformer block (Grad-CAM taps the input of its attention)."""
        return self.backbone.trunk.blocks[-1]

    def forward(self, x: torch.Tensor, return_attention: bool = False, return_features: bool = False):
        """Logits; with ``return_attention`` also the per-block maps, with ``return_features`` also the
        projected image feature (for the text-prompt term). Extras come after the logits in that order."""
        if return_attention:
            with record_attention() as maps:
                feats = self.backbone(x)
            prefix = int(getattr(self.backbone.trunk, "num_prefix_tokens", 1))
            for m in maps:
                m.prefix_tokens = prefix
        else:
            feats = self.backbone(x)
        logits = self.head(feats)
        extras = ([maps] if return_attention else []) + ([feats] if return_features else [])
        return (logits, *extras) if extras else logits
