"""Integrated Gradients (Sundararajan et al. 2017) from the black baseline, with its convergence checked.

Completeness: the attributions of a converged IG add up to F(x) - F(baseline), F = the explained label's
logit. Captum's convergence delta is sum(attributions) - (F(x) - F(baseline)); we report it relative to
the score change, ``|delta| / |F(x) - F(baseline)|``, and double the steps (from the requested number up
to :data:`MAX_STEPS`) until it is below :data:`TOLERANCE`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from captum.attr import IntegratedGradients

from .base import ExplainContext, Explainer, Explanation, Options, Progress
from .captum_tools import Counting, black_baseline
from .registry import register

TOLERANCE = 0.05  # relative delta below which the attributions count as adding up to the score change
MAX_STEPS = 256  # the cap of the automatic doubling (about 10 s for the tiny model on two CPU cores)


def integrated_gradients(model, x, label, baseline, steps=64, internal_batch_size=16, progress: Progress = None):
    """Integrated Gradients (Captum's default Gauss-Legendre path with ``steps`` points), batched internally.
    Returns (attributions (1, C, H, W), convergence delta sum(attr) - (F(x) - F(baseline)))."""
    wrapped = Counting(model, steps * x.shape[0], progress)
    ig = IntegratedGradients(wrapped)
    attr, delta = ig.attribute(x, baselines=baseline, target=label, n_steps=steps,
                               internal_batch_size=internal_batch_size, return_convergence_delta=True)
    return attr, float(delta.flatten()[0])


@dataclass
class Converged:
    """Integrated Gradients after the automatic step doubling."""

    attributions: torch.Tensor  # (1, C, H, W)
    delta: float  # sum(attributions) - (F(x) - F(baseline))
    score_change: float  # F(x) - F(baseline)
    steps: int  # the steps of the returned attributions
    cap: int

    @property
    def relative_delta(self) -> float:
        """|delta| / |F(x) - F(baseline)| (inf when the score does not change)."""
        return abs(self.delta) / abs(self.score_change) if self.score_change != 0 else math.inf


def converged_integrated_gradients(model, x, label, baseline, steps: int = 32, cap: int = MAX_STEPS,
                                   tolerance: float = TOLERANCE, internal_batch_size: int = 16,
                                   progress: Progress = None) -> Converged:
    """Integrated Gradients with ``steps``, then 2x, 4x ... steps (at most ``cap``; at least ``steps``)
    until the relative delta is below ``tolerance``."""
    cap = max(cap, steps)
    plan = [steps]
    while plan[-1] < cap:
        plan.append(min(2 * plan[-1], cap))
    total, done = sum(plan), 0

    def scaled(fraction: float) -> None:  # progress over the whole plan, which may stop early
        if progress is not None:
            progress(min(1.0, (done + fraction * n) / total))

    for n in plan:
        attr, delta = integrated_gradients(model, x, label, baseline, n, internal_batch_size, scaled)
        done += n
        # the score change follows from Captum's delta: sum(attr) - delta = F(x) - F(baseline)
        result = Converged(attr.detach(), delta, float(attr.sum()) - delta, n, cap)
        if result.relative_delta < tolerance:
            break
    if progress is not None:
        progress(1.0)
    return result


def convergence_sentence(relative_delta: float, steps: int, cap: int | None = MAX_STEPS,
                         tolerance: float = TOLERANCE) -> str:
    """One plain sentence on how well the attributions add up to the score change; ``cap`` None: the steps
    were not raised automatically."""
    if not math.isfinite(relative_delta):
        return (f"the label's score is the same on this frame and on a black one, so there is no score change "
                f"for the attributions to add up to ({steps} steps)")
    within = f"attributions add up to the score change within {relative_delta:.1%}"
    if relative_delta < tolerance:
        return f"{within} ({steps} steps)"
    if cap is not None and steps >= cap:
        return f"{within} at the {steps}-step cap: read the map with care"
    return f"{within} ({steps} steps; more steps would bring them closer)"


def ig_attribution(model, x, label: int, steps: int = 32, cap: int = MAX_STEPS, internal_batch_size: int = 16,
                   progress: Progress = None) -> Explanation:
    """The Integrated Gradients map (summed over colour channels) of ``label`` from the black baseline,
    its steps raised automatically up to ``cap``; the caption states the convergence in one sentence and
    ``meta`` holds ``delta``, ``relative_delta``, ``score_change``, ``steps`` (used), ``requested_steps``
    and ``cap``."""
    r = converged_integrated_gradients(model, x, label, black_baseline(model, x), steps, cap,
                                       internal_batch_size=internal_batch_size, progress=progress)
    caption = f"Integrated Gradients from a black frame: {convergence_sentence(r.relative_delta, r.steps, r.cap)}"
    meta = {"delta": r.delta, "relative_delta": r.relative_delta, "score_change": r.score_change, "steps": r.steps,
            "requested_steps": steps, "cap": r.cap}
    return Explanation(r.attributions.sum(1)[0].cpu().numpy(), True, caption, method="ig", label=label, meta=meta)


def _compute(ctx: ExplainContext, label: int, opt: Options) -> Explanation:
    return ig_attribution(ctx.model, ctx.x, label, opt.steps, MAX_STEPS, opt.internal_batch_size, ctx.progress)


IG = register(Explainer("ig", "Integrated Gradients", _compute, uses=("steps",), exclusive=False))
