"""Vision backbones: the BiomedCLIP vision tower, built offline from its open_clip configuration, and a
tiny ViT of the same family for the bundled demo model.

The tower mirrors open_clip's ``TimmModel`` (a timm trunk plus ``head.drop`` / ``head.proj``), so its
state-dict keys are those of ``model.visual`` in open_clip's BiomedCLIP: ``trunk.*`` and
``head.proj.weight``.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import timm
import torch
import torch.nn as nn

from .device import full_precision

log = logging.getLogger(__name__)

BIOMEDCLIP_HUB_ID = "hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# The vision part of the hub's open_clip_config.json for BiomedCLIP: a timm trunk with the network's
# default (CLS token) pooling and a bias-free linear projection to the 512-d joint space.
BIOMEDCLIP_OPEN_CLIP_CONFIG: dict = {
    "model_cfg": {
        "embed_dim": 512,
        "vision_cfg": {
            "timm_model_name": "vit_base_patch16_224",
            "timm_model_pretrained": False,
            "timm_pool": "",
            "timm_proj": "linear",
            "image_size": 224,
        },
    },
    "preprocess_cfg": {"mean": list(CLIP_MEAN), "std": list(CLIP_STD)},
}


@dataclass(frozen=True)
class Preprocess:
    """How frames are turned into model input, the one route for every caller (docs/design.md,
    "Preprocessing"): decode to RGB -> resize the short side (bicubic) and centre-crop -> uint8 crop
    (:meth:`crop`, the pixels the model sees) -> normalise on the model's device
    (:meth:`normalize_uint8`). A checkpoint stores it and :func:`diffclip.checkpoint.load_checkpoint`
    reads it back."""

    image_size: int = 224
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    interpolation: str = "bicubic"
    resize_mode: str = "shortest"

    def __post_init__(self) -> None:
        if self.resize_mode != "shortest":
            raise ValueError(f"resize_mode {self.resize_mode!r} is not supported; the crop resizes the shortest side")
        if self.interpolation not in ("bicubic", "bilinear"):
            raise ValueError(f"interpolation must be 'bicubic' or 'bilinear', got {self.interpolation!r}")

    def crop(self, image) -> torch.Tensor:
        """The (3, S, S) uint8 crop the model sees of ``image`` (a path, PIL image or array)."""
        from .images import load_crop

        return load_crop(image, self.image_size, self.interpolation)

    def crop_into(self, image, out) -> None:
        """Write the crop of ``image`` into ``out``, an (S, S, 3) uint8 numpy array: the same pixels as
        :meth:`crop`, by the quickest route (:func:`diffclip.images.crop_into`)."""
        from .images import crop_into

        crop_into(image, out, self.image_size, self.interpolation)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise a (B, 3, H, W) batch in [0, 1] with the CLIP mean and std, on ``x``'s device."""
        mean = torch.tensor(self.mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std

    def normalize_uint8(self, x: torch.Tensor) -> torch.Tensor:
        """``normalize(x / 255)`` for a (B, 3, H, W) uint8 batch as ``x * a + b`` in place on one new
        tensor: on a CPU the float route's four new tensors (and ``torch.addcmul``'s broadcast path) cost
        as much as decoding the frames."""
        std = torch.tensor(self.std, dtype=torch.float64).view(1, 3, 1, 1)
        mean = torch.tensor(self.mean, dtype=torch.float64).view(1, 3, 1, 1)
        a, b = (1.0 / (255.0 * std)).float().to(x.device), (-mean / std).float().to(x.device)
        # one pass turns a channels-last batch (a view of decoded (B, S, S, 3) rows) into a plain one
        return x.to(torch.float32, memory_format=torch.contiguous_format).mul_(a).add_(b)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping) -> Preprocess:
        return cls(
            image_size=int(d["image_size"]),
            mean=tuple(float(v) for v in d["mean"]),
            std=tuple(float(v) for v in d["std"]),
            interpolation=str(d.get("interpolation", "bicubic")),
            resize_mode=str(d.get("resize_mode", "shortest")),
        )


@dataclass(frozen=True)
class BackboneSpec:
    """A named trunk configuration and the width of its projection."""

    timm_name: str
    embed_dim: int
    timm_kwargs: dict = field(default_factory=dict)
    preprocess: Preprocess = Preprocess()


BACKBONES: dict[str, BackboneSpec] = {
    "biomedclip": BackboneSpec("vit_base_patch16_224", 512),
    # Same family (patch 16, 224 px, CLS pooling, qkv bias) at 192-d x 6 blocks x 6 heads of 32,
    # small enough to train on two CPU cores.
    "tiny": BackboneSpec(
        "vit_tiny_patch16_224", 256, timm_kwargs={"depth": 6, "num_heads": 6, "embed_dim": 192}
    ),
    # For tests only: 64 px, 2 blocks of 64-d, so that training runs in seconds.
    "micro": BackboneSpec(
        "vit_tiny_patch16_224", 64, timm_kwargs={"depth": 2, "num_heads": 4, "embed_dim": 64, "img_size": 64},
        preprocess=Preprocess(image_size=64),
    ),
}


class VisionTower(nn.Module):
    """A timm ViT trunk (CLS pooling after the final norm) and a linear projection, as open_clip's
    ``TimmModel`` with ``pool=''`` and ``proj='linear'``."""

    def __init__(self, trunk: nn.Module, embed_dim: int, drop: float = 0.0) -> None:
        super().__init__()
        self.trunk = trunk
        self.embed_dim = embed_dim
        self.head = nn.Sequential(
            OrderedDict(drop=nn.Dropout(drop), proj=nn.Linear(trunk.num_features, embed_dim, bias=False))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.trunk(x)
        # the projection runs in the weights' precision under any autocast: rounding the pooled feature to
        # bf16 moved it along the directions where it hardly varies (docs/design.md, "Precision")
        with full_precision(tokens):
            return self.head(tokens.to(self.head.proj.weight.dtype))


def build_backbone(name: str) -> VisionTower:
    """Build the named backbone with random weights (no download)."""
    try:
        spec = BACKBONES[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}") from None
    trunk = timm.create_model(spec.timm_name, pretrained=False, num_classes=0, **spec.timm_kwargs)
    return VisionTower(trunk, spec.embed_dim)


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be found locally or downloaded."""


def _hf_cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def download_biomedclip_checkpoint(
    hub_id: str = BIOMEDCLIP_HUB_ID, cache_dir: str | Path | None = None, local_files_only: bool = False
) -> Path:
    """Return the local path of BiomedCLIP's open_clip checkpoint, downloading it through the
    Hugging Face hub if needed. Raises :class:`WeightsUnavailableError` with instructions otherwise."""
    from huggingface_hub import hf_hub_download

    repo_id = hub_id.removeprefix("hf-hub:")
    errors = []
    # open_clip publishes BiomedCLIP as open_clip_pytorch_model.bin; prefer a safetensors copy if any.
    for filename in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
        try:
            return Path(
                hf_hub_download(repo_id, filename, cache_dir=cache_dir, local_files_only=local_files_only)
            )
        except Exception as exc:  # noqa: BLE001 - any hub failure means "not available here"
            errors.append(f"{filename}: {type(exc).__name__}")
    cache = str(cache_dir) if cache_dir is not None else _hf_cache_dir()
    raise WeightsUnavailableError(
        f"BiomedCLIP weights for {hub_id} are not available (tried {'; '.join(errors)}). "
        f"Download them on a machine with internet access, e.g. `hf download {repo_id}`, into the "
        f"Hugging Face cache ({cache}; set HF_HOME or HF_HUB_CACHE to move it), then retry."
    )


def clip_vision_state_dict(clip_state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The vision tower's part of an open_clip CLIP state dict, with the ``visual.`` prefix removed."""
    prefix = "visual."
    out = {k[len(prefix):]: v for k, v in clip_state_dict.items() if k.startswith(prefix)}
    if not out:
        raise KeyError("state dict has no 'visual.*' keys: not an open_clip CLIP checkpoint")
    return out


def load_clip_vision_weights(tower: VisionTower, clip_state_dict: Mapping[str, torch.Tensor]) -> VisionTower:
    """Load the ``visual.*`` weights of an open_clip CLIP state dict into ``tower``; every vision key
    must match (no missing, no unexpected keys)."""
    result = tower.load_state_dict(clip_vision_state_dict(clip_state_dict), strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise KeyError(
            f"vision weights do not match the tower: missing {result.missing_keys[:5]}, "
            f"unexpected {result.unexpected_keys[:5]}"
        )
    return tower


def biomedclip(pretrained: bool = False, cache_dir: str | Path | None = None) -> VisionTower:
    """BiomedCLIP's vision tower (ViT-B/16, CLS pooling, 768->512 projection).

    With ``pretrained=True`` the weights are loaded through the open_clip hub id
    :data:`BIOMEDCLIP_HUB_ID` (cached by huggingface_hub); without network or cache this raises
    :class:`WeightsUnavailableError` naming the id and the cache.
    """
    tower = build_backbone("biomedclip")
    if pretrained:
        from open_clip.factory import load_state_dict

        path = download_biomedclip_checkpoint(cache_dir=cache_dir)
        log.info("loading BiomedCLIP vision weights from %s", path)
        load_clip_vision_weights(tower, load_state_dict(str(path)))
    return tower


def tiny() -> VisionTower:
    """A small ViT of the same family (patch 16, 224 px, 192-d, 6 blocks, 6 heads) for the demo model."""
    return build_backbone("tiny")
