"""DiffCLIP-VCE: differential-attention BiomedCLIP for multi-label video capsule endoscopy frames."""

from .runtime import set_cpu_runtime_defaults

set_cpu_runtime_defaults()  # before torch loads: it and its OpenMP runtime read them once

from .attention import ATTENTION_VARIANTS, AttentionMaps, convert_attention, record_attention  # noqa: E402
from .factory import build_model  # noqa: E402
from .labels import LABELS  # noqa: E402
from .model import DiffCLIPClassifier, ModelConfig  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "ATTENTION_VARIANTS",
    "AttentionMaps",
    "DiffCLIPClassifier",
    "LABELS",
    "ModelConfig",
    "build_model",
    "convert_attention",
    "record_attention",
    "__version__",
]
