"""Integrated Gradients (Sundararajan et al. 2017) from the black baseline, with its convergence checked.

Completeness: the attributions of a converged IG add up to F(x) - F(baseline), F = the explained label's
logit. Captum's convergence delta is sum(attributions) - (F(x) - F(baseline)); we report it relative to
the score change, ``|delta| / |F(x) - F(baseline)|``, and refine until it is below :data:`TOLERANCE`.

How (docs/design.md, "Explanations at interactive speed"): IG integrates g(a) = grad F(b + a (x - b)) . (x - b)
over a in [0, 1] (the attributions are the same integral of the gradient, times x - b). Each node a of the path
costs one forward and backward pass and gives both F(a) (forward) and g(a) (backward), so every trapezoid panel
[a, c] knows its own error exactly: its estimate (c - a) (g(a) + g(c)) / 2 of the integral of g against
F(c) - F(a). Starting from two panels (nodes 0, 1/2, 1, one batched pass), the panel with the largest error is
halved (one new node) until the errors add up to less than the tolerance: nodes go where the score changes fast,
none are thrown away, and each costs one pass. On the bundled examples this needs 3-16 nodes where the earlier
doubling of Gauss-Legendre steps (32, 64, ... until converged, each try from scratch;
:func:`converged_integrated_gradients`, kept for the benchmark) took 32-96; halving Simpson panels (two nodes a
step, the previous version) needed 5-25.
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
MAX_STEPS = 256  # the cap of the earlier automatic doubling (converged_integrated_gradients, for the benchmark)
DEFAULT_CAP = 64  # the most points on the path by default (the UI's and `diffclip explain --steps`' default)
MIN_PANEL = 2.0**-20  # no panel is halved below this width: its midpoint would soon be one of its ends


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
    """One plain sentence on how well the attributions add up to the score change, ``steps`` being the points on
    the path used; ``cap`` None: the points were not raised automatically."""
    if not math.isfinite(relative_delta):
        return (f"the label's score is the same on this frame and on a black one, so there is no score change "
                f"for the attributions to add up to ({steps} points on the path)")
    within = f"attributions add up to the score change within {relative_delta:.1%}"
    if relative_delta < tolerance:
        return f"{within} ({steps} points on the path)"
    if cap is not None and steps >= cap:
        return f"{within} at the cap of {cap} points on the path: read the map with care"
    return f"{within} ({steps} points on the path; more would bring them closer)"


def path_points(model, x, baseline, label: int, alphas: list[float], batch: int = 16
                ) -> tuple[list[float], list[torch.Tensor]]:
    """F(a) and grad F at the points ``baseline + a (x - baseline)`` of ``alphas``, ``batch`` points per
    forward-and-backward pass."""
    values, grads = [], []
    for i in range(0, len(alphas), batch):
        a = torch.tensor(alphas[i : i + batch], dtype=x.dtype, device=x.device).view(-1, 1, 1, 1)
        points = (baseline + a * (x - baseline)).requires_grad_(True)
        with torch.enable_grad():
            out = model(points)[:, label]
            (grad,) = torch.autograd.grad(out.sum(), points)
        values += out.detach().double().cpu().tolist()
        grads += list(grad.detach())
    return values, grads


def adaptive_integrated_gradients(model, x, label, baseline, tolerance: float = TOLERANCE, cap: int = MAX_STEPS,
                                  batch: int = 16, progress: Progress = None) -> Converged:
    """Integrated Gradients by adaptive trapezoid quadrature (module docstring), at most ``cap`` nodes (3 at
    least); ``steps`` of the result counts the nodes (forward-and-backward passes of one point each)."""
    nodes: dict[float, tuple[float, float, torch.Tensor]] = {}  # a -> (F(a), g(a), grad at a)
    step = x - baseline

    def add(alphas: list[float]) -> None:
        values, grads = path_points(model, x, baseline, label, alphas, batch)
        for a, f, grad in zip(alphas, values, grads, strict=True):
            nodes[a] = (f, float((grad * step).sum()), grad)
        if progress is not None:
            progress(min(1.0, len(nodes) / cap))

    def error(panel: tuple[float, float]) -> float:
        (fa, ga, _), (fc, gc, _) = nodes[panel[0]], nodes[panel[1]]
        return (panel[1] - panel[0]) * (ga + gc) / 2 - (fc - fa)

    cap = max(cap, 3)
    panels = [(0.0, 0.5), (0.5, 1.0)]
    add([0.0, 0.5, 1.0])
    change = nodes[1.0][0] - nodes[0.0][0]
    while True:
        errors = [error(p) for p in panels]
        # no score change: nothing for the attributions to add up to, and no refinement can change that
        if abs(sum(errors)) < tolerance * abs(change) or change == 0 or len(nodes) + 1 > cap:
            break
        worst = max(range(len(panels)), key=lambda i: abs(errors[i]))
        a, c = panels[worst]
        if c - a < MIN_PANEL:  # a jump in F (a step-shaped score, bf16): halving cannot shrink its error
            break
        panels[worst : worst + 1] = [(a, (a + c) / 2), ((a + c) / 2, c)]
        add([(a + c) / 2])
    weights: dict[float, float] = {}
    for a, c in panels:  # the trapezoid's weights (c - a) / 2 at both ends, shared ends added up
        for node in (a, c):
            weights[node] = weights.get(node, 0.0) + (c - a) / 2
    attributions = sum(w * nodes[a][2] for a, w in weights.items()) * step
    if progress is not None:
        progress(1.0)
    return Converged(attributions.detach(), float(sum(errors)), change, len(nodes), cap)


def ig_attribution(model, x, label: int, cap: int = DEFAULT_CAP, internal_batch_size: int = 16,
                   progress: Progress = None) -> Explanation:
    """The Integrated Gradients map (summed over colour channels) of ``label`` from the black baseline, by
    adaptive quadrature with at most ``cap`` points on the path (:func:`adaptive_integrated_gradients`); the
    caption states the convergence in one sentence and ``meta`` holds ``delta``, ``relative_delta``,
    ``score_change``, ``steps`` (points used) and ``cap``."""
    r = adaptive_integrated_gradients(model, x, label, black_baseline(model, x), cap=cap,
                                      batch=internal_batch_size, progress=progress)
    caption = f"Integrated Gradients from a black frame: {convergence_sentence(r.relative_delta, r.steps, r.cap)}"
    meta = {"delta": r.delta, "relative_delta": r.relative_delta, "score_change": r.score_change, "steps": r.steps,
            "cap": r.cap}
    return Explanation(r.attributions.sum(1)[0].cpu().numpy(), True, caption, method="ig", label=label, meta=meta)


def _compute(ctx: ExplainContext, label: int, opt: Options) -> Explanation:
    return ig_attribution(ctx.model, ctx.x, label, opt.steps, opt.internal_batch_size, ctx.progress)


IG = register(Explainer("ig", "Integrated Gradients", _compute, uses=("steps",), exclusive=False))
