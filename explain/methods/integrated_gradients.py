"""Integrated Gradients (Sundararajan et al. 2017) from the black baseline, with its convergence delta."""

from __future__ import annotations

from captum.attr import IntegratedGradients

from .base import Attribution, ExplainContext, Explainer, Options, Progress
from .captum_tools import Counting, black_baseline
from .registry import register


def integrated_gradients(model, x, label, baseline, steps=64, internal_batch_size=16, progress: Progress = None):
    """Integrated Gradients, Riemann-trapezoid path with ``steps`` points, batched internally.
    Returns (attributions (1, C, H, W), convergence delta)."""
    wrapped = Counting(model, steps * x.shape[0], progress)
    ig = IntegratedGradients(wrapped)
    attr, delta = ig.attribute(x, baselines=baseline, target=label, n_steps=steps,
                               internal_batch_size=internal_batch_size, return_convergence_delta=True)
    return attr, float(delta.abs().max())


def _compute(ctx: ExplainContext, label: int, opt: Options) -> Attribution:
    x = ctx.x
    attr, delta = integrated_gradients(ctx.model, x, label, black_baseline(ctx.model, x), opt.steps,
                                       opt.internal_batch_size, ctx.progress)
    return Attribution(attr.sum(1)[0].detach().cpu().numpy(), True, f"ig, delta {delta:.3g}", meta={"delta": delta})


IG = register(Explainer("ig", "Integrated Gradients", _compute, uses=("steps",)))
