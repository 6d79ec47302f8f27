"""DiffCLIP-VCE: differential-attention BiomedCLIP for multi-label video capsule endoscopy frames."""

from .attention import ATTENTION_VARIANTS, AttentionMaps, convert_attention, record_attention
from .factory import build_model
from .labels import LABELS
from .model import DiffCLIPClassifier, ModelConfig

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
