"""The RARE-VISION paper's own checkpoint (its script's ``best_model.pth``) opened in our tools (issue 32;
docs/design.md, "The paper's checkpoints").

The paper saves ``{"epoch", "model_state_dict", "optimizer_state_dict", "val_mAP", "history", "seed",
"scaler_state_dict"?, "ema_shadow"?}`` with ``torch.save``; its test mode copies ``ema_shadow`` over the model's
parameters. Its model holds the whole open_clip CLIP (``model.*``, text tower included), the excitation block
(``eb_block.*``) and the head (``classification_head.*``); each block's attention has separate
``q_proj``/``k_proj``/``v_proj`` and lambda vectors of shape (H/2, 1, d). We read it with
``torch.load(weights_only=True)`` (no code runs; numpy scalars, which the script stores as ``val_mAP``, are the
only globals allowed), map its keys onto our ``diff_paper`` model and check the result against
:mod:`diffclip.paper_reference`, a plain forward of the paper's architecture on the paper's own keys.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from .labels import LABELS
from .model import DiffCLIPClassifier, ModelConfig

#: Keys of the paper's model that our classifier has no use for: the text tower and the text-prompt term.
IGNORED = re.compile(r"^(model\.(text|transformer|token_embedding|positional_embedding|ln_final|text_projection|"
                     r"logit_scale|logit_bias)\b|logit_scale$|text_features$)")
#: The paper's head and excitation block, and ours.
HEAD_KEYS = {"eb_block.fc1.": "head.se.fc1.", "eb_block.gate.0.": "head.se.fc2.", "eb_block.bn.": "head.bn.",
             "classification_head.": "head.fc."}
_QKV = re.compile(r"^model\.visual\.trunk\.blocks\.(\d+)\.attn\.([qkv])_proj\.(weight|bias)$")
WEIGHT_SETS = ("ema", "model")


class PaperCheckpointError(ValueError):
    """The file is not a paper checkpoint we can import; the message says why in a sentence."""


def _safe_globals() -> list:
    """The numpy globals a paper checkpoint needs (its ``val_mAP`` and history are numpy float64): plain data
    types, no callable that runs code."""
    core = getattr(np, "_core", None) or np.core
    return [core.multiarray.scalar, np.dtype, *(type(np.dtype(t)) for t in ("float64", "float32", "int64"))]


def read_paper_checkpoint(path: str | Path) -> dict:
    """The paper checkpoint's dict, loaded without running code (``torch.load(weights_only=True)``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        needs = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if needs is None:  # not a pickle torch can parse at all
            raise PaperCheckpointError(f"{path.name} is not a PyTorch checkpoint torch.load can read") from None
        raise PaperCheckpointError(
            f"{path.name} needs code to be run to open it (it stores a {needs.group(1)}); a checkpoint saved by the "
            "paper's script holds only tensors, numbers and lists, so this file is something else, and it is "
            "refused") from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise PaperCheckpointError(f"{path.name} is not a PyTorch checkpoint torch.load can read: {exc}") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model_state_dict"), Mapping):
        raise PaperCheckpointError(f"{path.name} has no 'model_state_dict': not a checkpoint of the paper's script "
                                   "(best_model.pth or latest_model.pth)")
    return ckpt


def paper_weights(ckpt: Mapping, weights: str = "ema") -> dict[str, torch.Tensor]:
    """The paper model's state dict with the chosen weights: ``model`` as trained, or ``ema`` with the EMA
    shadow copied over the parameters it holds (as the paper's test mode does; buffers stay the model's)."""
    if weights not in WEIGHT_SETS:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_SETS)}, got {weights!r}")
    state = dict(ckpt["model_state_dict"])
    if weights == "ema":
        shadow = ckpt.get("ema_shadow")
        if not isinstance(shadow, Mapping):
            raise PaperCheckpointError("the checkpoint has no 'ema_shadow' (trained with USE_EMA off): "
                                       "import it with --weights model")
        unknown = sorted(set(shadow) - set(state))
        if unknown:
            raise PaperCheckpointError(f"'ema_shadow' has keys the model does not: {', '.join(unknown[:5])}")
        state.update(shadow)
    return state


def convert(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The paper model's state dict as our ``diff_paper`` classifier's: q/k/v joined into qkv, lambda vectors
    (H/2, 1, d) as (H/2, d), ``model.visual.*`` as ``backbone.*``, the head renamed, the text tower left out.
    Keys it cannot place are named in the error."""
    out: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    unknown = []
    for key, value in state.items():
        if IGNORED.match(key):
            continue
        if m := _QKV.match(key):
            qkv.setdefault((m.group(1), m.group(3)), {})[m.group(2)] = value
        elif key.startswith("model.visual."):
            name = "backbone." + key.removeprefix("model.visual.")
            out[name] = value.squeeze(1) if re.search(r"\.attn\.lambda_[qk][12]$", name) and value.dim() == 3 else value
        elif head := next((p for p in HEAD_KEYS if key.startswith(p)), None):
            out[HEAD_KEYS[head] + key.removeprefix(head)] = value
        else:
            unknown.append(key)
    if unknown:
        raise PaperCheckpointError(f"keys the paper's model does not have: {', '.join(sorted(unknown)[:8])}"
                                   f"{' ...' if len(unknown) > 8 else ''}")
    for (block, kind), parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            missing = sorted({"q", "k", "v"} - set(parts))
            raise PaperCheckpointError(f"block {block}'s attention lacks {', '.join(p + '_proj.' + kind for p in missing)}")
        out[f"backbone.trunk.blocks.{block}.attn.qkv.{kind}"] = torch.cat([parts["q"], parts["k"], parts["v"]])
    return out


def build_imported(state: Mapping[str, torch.Tensor], backbone: str = "biomedclip",
                   labels: tuple[str, ...] = LABELS) -> DiffCLIPClassifier:
    """Our ``diff_paper`` classifier with the converted paper weights (``strict``: every key placed, none
    missing; the excitation block's reduction read from its shape)."""
    converted = convert(state)
    fc1 = converted.get("head.se.fc1.weight")
    if fc1 is None:
        raise PaperCheckpointError("missing keys: eb_block.fc1.weight (the excitation block)")
    reduction = fc1.shape[1] // fc1.shape[0]
    model = DiffCLIPClassifier(ModelConfig(backbone=backbone, attention="diff_paper", labels=tuple(labels),
                                           se_reduction=reduction))
    expected = model.state_dict()
    missing = sorted(set(expected) - set(converted))
    unexpected = sorted(set(converted) - set(expected))
    if missing or unexpected:
        raise PaperCheckpointError(
            f"the checkpoint does not fit the {backbone} backbone: "
            + (f"missing {', '.join(missing[:5])}" if missing else "")
            + ("; " if missing and unexpected else "")
            + (f"not expected {', '.join(unexpected[:5])}" if unexpected else "")
            + " (another backbone? see --backbone)")
    wrong = [k for k in expected if expected[k].shape != converted[k].shape]
    if wrong:
        k = wrong[0]
        raise PaperCheckpointError(f"{k} has shape {tuple(converted[k].shape)} in the checkpoint but "
                                   f"{tuple(expected[k].shape)} in the {backbone} backbone (another backbone? see --backbone)")
    model.load_state_dict(converted, strict=True)
    return model.eval()


def read_thresholds(path: str | Path, labels: tuple[str, ...] = LABELS) -> list[float]:
    """The paper's ``optimal_thresholds.npy``: one float per label, read without pickle."""
    try:
        values = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise PaperCheckpointError(f"{Path(path).name} is not a plain numpy array of thresholds: {exc}") from None
    if values.shape != (len(labels),) or not np.issubdtype(values.dtype, np.number):
        raise PaperCheckpointError(f"{Path(path).name} holds {values.shape} {values.dtype}; expected "
                                   f"{len(labels)} numbers, one per label")
    if not np.all((values >= 0) & (values <= 1)):
        raise PaperCheckpointError(f"{Path(path).name}: thresholds must lie in [0, 1], got {values.tolist()}")
    return [float(v) for v in values]
