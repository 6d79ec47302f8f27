"""NoiseTunnel (SmoothGrad) over Integrated Gradients: IG averaged over noisy copies of the frame."""

from __future__ import annotations

import torch
from captum.attr import IntegratedGradients, NoiseTunnel

from .base import Attribution, ExplainContext, Explainer, Options
from .captum_tools import Counting, black_baseline
from .registry import register

SEED = 0  # the noise is drawn from a fixed seed: the same frame gives the same map, every time


def _compute(ctx: ExplainContext, label: int, opt: Options) -> Attribution:
    x = ctx.x
    wrapped = Counting(ctx.model, opt.samples * opt.steps, ctx.progress)
    # Captum draws the noise from torch's global generator: seed a private copy of it for this call
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        attr = NoiseTunnel(IntegratedGradients(wrapped)).attribute(
            x, baselines=black_baseline(ctx.model, x), target=label, nt_type="smoothgrad", nt_samples=opt.samples,
            nt_samples_batch_size=1, stdevs=0.15, n_steps=opt.steps, internal_batch_size=opt.internal_batch_size)
    return Attribution(attr.sum(1)[0].detach().cpu().numpy(), True, f"noise_tunnel (noise seed {SEED})")


# The global generator is process-wide state: runs alone, so no other request draws from it meanwhile.
NOISE_TUNNEL = register(Explainer("noise_tunnel", "NoiseTunnel (SmoothGrad IG)", _compute, uses=("steps", "samples"),
                                  exclusive=True))
