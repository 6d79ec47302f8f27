"""NoiseTunnel (SmoothGrad) over Integrated Gradients: IG averaged over noisy copies of the frame.

Its convergence is stated as for IG: each noisy copy i has Captum's delta_i = sum(attr_i) - (F(x_i) -
F(baseline)); the map shown is the mean of the attr_i, so it adds up to the mean score change
sum(map) - mean(delta_i), within |mean(delta_i)| of it (reported relative to that change).
"""

from __future__ import annotations

import torch
from captum.attr import IntegratedGradients, NoiseTunnel

from .base import ExplainContext, Explainer, Explanation, Options
from .captum_tools import Counting, black_baseline
from .integrated_gradients import convergence_sentence
from .registry import register

SEED = 0  # the noise is drawn from a fixed seed: the same frame gives the same map, every time
STDEV = 0.15  # noise standard deviation in the normalised input space


def _compute(ctx: ExplainContext, label: int, opt: Options) -> Explanation:
    x = ctx.x
    wrapped = Counting(ctx.model, opt.samples * opt.steps, ctx.progress)
    # Captum draws the noise from torch's global generator: seed a private copy of it for this call
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        attr, deltas = NoiseTunnel(IntegratedGradients(wrapped)).attribute(
            x, baselines=black_baseline(ctx.model, x), target=label, nt_type="smoothgrad", nt_samples=opt.samples,
            nt_samples_batch_size=1, stdevs=STDEV, n_steps=opt.steps, internal_batch_size=opt.internal_batch_size,
            return_convergence_delta=True)
    mean_delta = float(deltas.mean())
    change = float(attr.sum()) - mean_delta  # the mean of F(x_i) - F(baseline) over the noisy copies
    relative = abs(mean_delta) / abs(change) if change != 0 else float("inf")
    # no automatic doubling here (each step costs ``samples`` passes): the sentence says when to raise them
    sentence = convergence_sentence(relative, opt.steps, cap=None)
    caption = (f"NoiseTunnel: Integrated Gradients averaged over {opt.samples} noisy copies of the frame (noise "
               f"sd {STDEV}, seed {SEED}); {sentence}")
    meta = {"delta": mean_delta, "relative_delta": relative, "score_change": change, "steps": opt.steps,
            "samples": opt.samples}
    return Explanation(attr.sum(1)[0].detach().cpu().numpy(), True, caption, meta=meta)


# The global generator is process-wide state: runs alone, so no other request draws from it meanwhile.
NOISE_TUNNEL = register(Explainer("noise_tunnel", "NoiseTunnel (SmoothGrad IG)", _compute, uses=("steps", "samples")))
