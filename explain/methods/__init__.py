"""Explanation methods (docs/design.md, "Explanations"): one registry and one verb.

``explain(analysis, predictor, method, label, **options)`` returns an :class:`Explanation` for any
registered method. A new method is one module that builds an :class:`Explainer` and calls
:func:`register`, plus its name on the import line below.
"""

from ..defaults import DEFAULT_METHOD
from . import (  # noqa: F401
           attention_map,
           gradattn,
           gradcam,
           integrated_gradients,
           noise_tunnel,
           occlusion,
           rollout,
           saliency,
)
from .base import ExplainContext, Explainer, Explanation, Options
from .registry import EXPLAINERS, explain, explain_many, get_explainer, register

__all__ = ["DEFAULT_METHOD", "EXPLAINERS", "Explanation", "ExplainContext", "Explainer", "Options", "explain",
           "explain_many", "get_explainer", "register"]
