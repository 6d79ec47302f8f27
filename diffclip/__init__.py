"""DiffCLIP-VCE: differential-attention BiomedCLIP for multi-label video capsule endoscopy frames.

Importing the package loads no torch: the model-side names below are imported on first use (PEP 562), so
that the command line's help, scoring and the challenge's formats need only the standard library and
numpy (docs/design.md, "Architecture")."""

from __future__ import annotations

import importlib

from .labels import LABELS
from .runtime import set_cpu_runtime_defaults

# Environment variables that torch and its OpenMP runtime read once, when torch loads: set here, in the one
# place sure to come before any of this package's modules imports torch (docs/design.md, "The CPU pipeline").
set_cpu_runtime_defaults()

__version__ = "0.1.0"

#: name -> the submodule that defines it, imported when the name is first used
_LAZY = {
    "ATTENTION_VARIANTS": ".attention",
    "AttentionMaps": ".attention",
    "convert_attention": ".attention",
    "record_attention": ".attention",
    "build_model": ".factory",
    "DiffCLIPClassifier": ".model",
    "ModelConfig": ".model",
}

__all__ = ["LABELS", "__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # once: later uses skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
