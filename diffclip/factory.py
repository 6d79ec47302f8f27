"""One entry point that builds a classifier: random weights, BiomedCLIP's pretrained tower or a
checkpoint (kept apart from model.py so that checkpoint.py, which builds models, imports no cycle)."""

from __future__ import annotations

from .backbones import biomedclip
from .checkpoint import load_checkpoint
from .labels import LABELS
from .model import DiffCLIPClassifier, ModelConfig


def build_model(
    backbone: str = "biomedclip",
    attention: str = "diff",
    labels: tuple[str, ...] | list[str] = LABELS,
    weights: str | None = None,
    **kwargs,
) -> DiffCLIPClassifier:
    """Build the classifier.

    ``weights``: None for random weights, ``"biomedclip"`` to start the biomedclip backbone from the
    pretrained BiomedCLIP vision tower (through open_clip's hub id; the attention is converted after
    loading so every variant reuses the pretrained qkv and proj), or a checkpoint directory written by
    :func:`diffclip.checkpoint.save_checkpoint`, whose own settings (head, preprocessing) are kept; its
    backbone, attention and labels must be the requested ones.
    """
    config = ModelConfig(backbone=backbone, attention=attention, labels=tuple(labels), **kwargs)
    if weights is None:
        return DiffCLIPClassifier(config)
    if weights == "biomedclip":
        if backbone != "biomedclip":
            raise ValueError("weights='biomedclip' needs backbone='biomedclip'")
        return DiffCLIPClassifier(config, backbone=biomedclip(pretrained=True))
    model, _ = load_checkpoint(weights)
    saved = (model.config.backbone, model.config.attention, model.config.labels)
    if saved != (config.backbone, config.attention, config.labels):
        raise ValueError(f"checkpoint {weights} holds backbone={saved[0]}, attention={saved[1]} and its own labels; "
                         f"requested backbone={config.backbone}, attention={config.attention}")
    return model
