"""Device and autocast choice: cuda, then mps, then cpu; reduced precision only where it pays."""

from __future__ import annotations

import contextlib
import os

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks cuda, then mps, then cpu; anything else is passed to ``torch.device``
    after checking that it is available."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} requested but MPS is not available here")
    return dev


def cpu_has_fast_bf16() -> bool:
    """True on CPUs with AMX tiles or AVX512-BF16, where bf16 matmuls beat fp32."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


#: What ``precision`` accepts everywhere (CLI, Predictor, training's ``amp``).
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: Environment switch: what ``"auto"`` resolves to on every device, instead of the device's choice. The test
#: suite's second pass sets it (Makefile), so that a machine without fast bf16 still runs the bf16 product.
AUTO_PRECISION_ENV = "DIFFCLIP_AUTO_PRECISION"


def auto_override() -> str | None:
    """The precision ``"auto"`` is pinned to by :data:`AUTO_PRECISION_ENV`, or None when it is unset."""
    value = os.environ.get(AUTO_PRECISION_ENV, "").strip().lower()
    if not value:
        return None
    if value not in PRECISIONS[1:]:
        raise ValueError(f"{AUTO_PRECISION_ENV}={value!r}: use fp32, bf16 or fp16 (or leave it unset)")
    return value


def autocast_dtype(device: torch.device, mode: bool | str | None = "auto") -> torch.dtype | None:
    """The autocast dtype to use on ``device``, or None for full precision.

    ``mode``: "auto" (bf16 on CPUs with AMX/AVX512-BF16, bf16 or fp16 on CUDA, none elsewhere; pinned by
    the environment variable ``DIFFCLIP_AUTO_PRECISION`` where it is set), "fp32" (also False/None/"off":
    never), True (force the device's reduced type), or "bf16"/"fp16".
    """
    if mode == "auto" and (pinned := auto_override()) is not None:
        mode = pinned
    if mode in (False, None, "off", "fp32"):
        return None
    if mode in ("bf16", "bfloat16"):
        return torch.bfloat16
    if mode in ("fp16", "float16"):
        return torch.float16
    if mode not in (True, "auto", "on"):
        raise ValueError(f"unknown precision {mode!r}; use auto, fp32, bf16 or fp16")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and (mode is True or mode == "on" or cpu_has_fast_bf16()):
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None):
    """``torch.autocast`` for ``dtype`` on ``device``, or a null context when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def full_precision(like: torch.Tensor):
    """Autocast switched off on ``like``'s device: what runs inside keeps its inputs' precision.

    The model's last layers (projection, classifier head) run so: their inputs are a few hundred numbers per
    frame, and the learned head divides by BatchNorm's running spread, which is small along some directions;
    a bf16 rounding of the pooled feature there moved the logits by far more than the trunk's own rounding
    (docs/design.md, "Precision")."""
    return torch.autocast(device_type=like.device.type, enabled=False)


def precision_name(dtype: torch.dtype | None) -> str:
    """"fp32", "bf16" or "fp16": the precision that an autocast dtype from :func:`autocast_dtype` runs in."""
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def other_cpu_precision() -> str:
    """The precision that "auto" does not pick on this CPU: "fp32" where it picks bf16, else "bf16". The test
    suite's second pass runs in it (Makefile), so that every machine tests both."""
    return "bf16" if autocast_dtype(torch.device("cpu"), "auto") is None else "fp32"
