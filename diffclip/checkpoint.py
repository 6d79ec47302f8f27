"""Checkpoints as a directory: ``model.safetensors`` (weights) + ``config.json`` (architecture, labels,
per-label thresholds, preprocessing, training provenance).

Pickled checkpoints are refused: unpickling can run arbitrary code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .atomic import atomic_path, write_json
from .json_input import read_json
from .model import DiffCLIPClassifier, ModelConfig

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
FORMAT = "diffclip-vce"
FORMAT_VERSION = 1
_MODEL_KEYS = ("backbone", "attention", "labels", "dropout", "se_reduction", "preprocess")
_PICKLE_SUFFIXES = {".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle"}


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded as it stands; the message names the file and the key."""


def normalise_thresholds(thresholds: Mapping[str, float] | list | tuple | None, labels) -> dict[str, float]:
    """Thresholds as ``{label: value}`` in label order (0.5 where none is given)."""
    if thresholds is None:
        return {lab: 0.5 for lab in labels}
    if not isinstance(thresholds, Mapping):
        values = [float(t) for t in thresholds]
        if len(values) != len(labels):
            raise ValueError(f"{len(values)} thresholds for {len(labels)} labels")
        out = dict(zip(labels, values, strict=True))
    else:
        unknown = set(thresholds) - set(labels)
        if unknown:
            raise ValueError(f"thresholds for unknown labels: {sorted(unknown)}")
        out = {lab: float(thresholds.get(lab, 0.5)) for lab in labels}
    bad = {lab: t for lab, t in out.items() if not math.isfinite(t)}
    if bad:
        raise ValueError(f"thresholds must be finite numbers, got {bad}")
    return out


def save_checkpoint(model: DiffCLIPClassifier, directory: str | Path, **metadata: Any) -> Path:
    """Save ``model`` to ``directory`` (created if needed) and return the directory.

    ``metadata`` goes into config.json: ``thresholds`` (a mapping or a list in label order),
    ``training`` (provenance: data, command, seed...), ``metrics`` and any other JSON-serialisable
    entry. Files are written atomically.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cfg = model.config
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, **cfg.to_dict()}
    config["thresholds"] = normalise_thresholds(metadata.pop("thresholds", None), cfg.labels)
    config["training"] = metadata.pop("training", {})
    config.update(metadata)
    json.dumps(config)  # fail before writing anything if metadata is not serialisable

    # safetensors refuses shared storage; clone so tied or viewed tensors serialise.
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    st_meta = {"format": FORMAT, "labels": json.dumps(list(cfg.labels))}
    with atomic_path(directory / WEIGHTS_NAME) as tmp:
        save_file(tensors, str(tmp), metadata=st_meta)
    write_json(directory / CONFIG_NAME, config)
    return directory


def _is_safetensors(path: Path) -> bool:
    """True when ``path`` starts as a safetensors file does: an 8-byte little-endian header length
    that fits in the file, then a JSON object of that length."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        if size < 8 or not 2 <= n <= size - 8:
            return False
        try:
            return isinstance(json.loads(fh.read(n)), dict)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return False


def _refuse_pickle(path: Path) -> None:
    with open(path, "rb") as fh:
        head = fh.read(4)
    # torch.save writes a zip archive ("PK\x03\x04"); a raw pickle starts with the PROTO opcode 0x80,
    # which is also a possible low byte of a safetensors header length: parse the header first.
    zipped = head.startswith(b"PK\x03\x04")
    if path.suffix.lower() in _PICKLE_SUFFIXES or zipped or (head[:1] == b"\x80" and not _is_safetensors(path)):
        raise CheckpointError(
            f"{path}: looks like a pickled PyTorch file; pickled checkpoints are refused because "
            f"unpickling can run arbitrary code. Save a checkpoint directory ({WEIGHTS_NAME} + "
            f"{CONFIG_NAME}) with diffclip.checkpoint.save_checkpoint instead."
        )


def _resolve_directory(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if path.is_file():
        if path.name != CONFIG_NAME:
            _refuse_pickle(path)
            if path.name != WEIGHTS_NAME:
                raise CheckpointError(
                    f"{path}: a checkpoint is a directory with {WEIGHTS_NAME} and {CONFIG_NAME}"
                )
        path = path.parent
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        if not (path / name).is_file():
            raise FileNotFoundError(f"checkpoint file {path / name} does not exist")
    return path


def checkpoint_directory(path: str | Path) -> Path:
    """The checkpoint directory that ``path`` (the directory, its config.json or its weights) names."""
    return _resolve_directory(Path(path))


def read_config(directory: str | Path) -> dict:
    """Read and check a checkpoint's config.json."""
    path = Path(directory) / CONFIG_NAME
    try:
        config = read_json(path)
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    for key in ("backbone", "attention", "labels"):
        if key not in config:
            raise CheckpointError(f"{path}: missing key '{key}'")
    try:
        config["thresholds"] = normalise_thresholds(config.get("thresholds"), config["labels"])
    except ValueError as exc:
        raise CheckpointError(f"{path}: key 'thresholds': {exc}") from None
    return config


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[DiffCLIPClassifier, dict]:
    """Load a checkpoint directory; return ``(model in eval mode, config dict)``.

    Raises ``FileNotFoundError`` for a missing directory or file and :class:`CheckpointError` for a
    pickle, invalid config, or weights whose labels, keys or shapes disagree with the config.
    """
    directory = _resolve_directory(Path(path))
    config = read_config(directory)
    config_path = directory / CONFIG_NAME
    weights = directory / WEIGHTS_NAME
    _refuse_pickle(weights)
    try:
        model_config = ModelConfig(**{k: config[k] for k in _MODEL_KEYS if k in config})
    except (ValueError, TypeError, KeyError) as exc:
        raise CheckpointError(f"{config_path}: {exc}") from None
    model = DiffCLIPClassifier(model_config)
    expected = model.state_dict()
    try:
        with safe_open(str(weights), framework="pt") as fh:
            file_labels = (fh.metadata() or {}).get("labels")
            if file_labels is not None and json.loads(file_labels) != list(model_config.labels):
                raise CheckpointError(
                    f"{weights}: key 'labels' is {json.loads(file_labels)} in the weights but "
                    f"{list(model_config.labels)} in {config_path}"
                )
            keys = set(fh.keys())
            missing = sorted(set(expected) - keys)
            unexpected = sorted(keys - set(expected))
            if missing or unexpected:
                key = (missing or unexpected)[0]
                what = "missing from the weights" if missing else "not expected by the config"
                raise CheckpointError(
                    f"{weights}: key '{key}' is {what} ({len(missing)} missing, {len(unexpected)} "
                    f"unexpected; config {config_path}: backbone={model_config.backbone}, "
                    f"attention={model_config.attention})"
                )
            state = {}
            for key in expected:
                shape = tuple(fh.get_slice(key).get_shape())
                if shape != tuple(expected[key].shape):
                    raise CheckpointError(
                        f"{weights}: key '{key}' has shape {shape} but {config_path} "
                        f"({len(model_config.labels)} labels, backbone={model_config.backbone}) "
                        f"expects {tuple(expected[key].shape)}"
                    )
                state[key] = fh.get_tensor(key)
                if state[key].is_floating_point() and not torch.isfinite(state[key]).all():
                    raise CheckpointError(f"{weights}: key '{key}' holds NaN or infinite values")
    except SafetensorError as exc:
        raise CheckpointError(f"{weights}: not a readable safetensors file ({exc})") from None
    model.load_state_dict(state, strict=True)
    return model.to(device).eval(), config
