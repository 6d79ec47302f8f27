"""NoiseTunnel (SmoothGrad) over Integrated Gradients: IG averaged over noisy copies of the frame.

The noisy copies are Captum's (``NoiseTunnel(IntegratedGradients)`` with ``nt_type="smoothgrad"`` and one copy
per batch: copy i is the frame plus ``torch.normal(0, STDEV)`` drawn in turn from the generator seeded with
:data:`SEED`), and each copy's IG is the adaptive quadrature of :mod:`.integrated_gradients`, which stops when
that copy's attributions add up to its own score change (Captum's Gauss-Legendre steps, the same number for
every copy, spent 32 points on a copy that needed 3).

Its convergence is stated as for IG: each noisy copy i has delta_i = sum(attr_i) - (F(x_i) - F(baseline)); the
map shown is the mean of the attr_i, so it adds up to the mean score change sum(map) - mean(delta_i), within
|mean(delta_i)| of it (reported relative to that change).
"""

from __future__ import annotations

import torch

from .base import ExplainContext, Explainer, Explanation, Options
from .captum_tools import black_baseline
from .integrated_gradients import adaptive_integrated_gradients, convergence_sentence
from .registry import register

SEED = 0  # the noise is drawn from a fixed seed: the same frame gives the same map, every time
STDEV = 0.15  # noise standard deviation in the normalised input space


def noisy_copies(x: torch.Tensor, samples: int, stdev: float = STDEV, seed: int = SEED) -> list[torch.Tensor]:
    """The copies Captum's NoiseTunnel makes with one copy per batch when torch's generator is seeded with
    ``seed``, drawn from a generator of this call's own (the same Mersenne Twister stream), so that concurrent
    requests never draw from one another's sequence."""
    generator = torch.Generator(device=x.device).manual_seed(seed)
    std = torch.tensor(stdev, device=x.device).repeat(x.shape)
    return [x + torch.normal(0, std, generator=generator) for _ in range(samples)]


def captum_noise_tunnel(model, x: torch.Tensor, label: int, samples: int = 4, steps: int = 32, batch: int = 16):
    """The earlier computation (Captum's NoiseTunnel over Captum's IG, ``steps`` Gauss-Legendre points per copy),
    kept for benchmarks/explain_speed.py to measure against: (attributions (1, C, H, W), deltas (samples,))."""
    from captum.attr import IntegratedGradients, NoiseTunnel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        return NoiseTunnel(IntegratedGradients(model)).attribute(
            x, baselines=black_baseline(model, x), target=label, nt_type="smoothgrad", nt_samples=samples,
            nt_samples_batch_size=1, stdevs=STDEV, n_steps=steps, internal_batch_size=batch,
            return_convergence_delta=True)


def _compute(ctx: ExplainContext, label: int, opt: Options) -> Explanation:
    x = ctx.x
    baseline = black_baseline(ctx.model, x)
    results = []
    for i, noisy in enumerate(noisy_copies(x, opt.samples)):
        def progress(f, i=i):
            if ctx.progress is not None:
                ctx.progress((i + f) / opt.samples)

        results.append(adaptive_integrated_gradients(ctx.model, noisy, label, baseline, cap=opt.steps,
                                                     batch=opt.internal_batch_size, progress=progress))
    attr = torch.stack([r.attributions for r in results]).mean(0)
    mean_delta = sum(r.delta for r in results) / len(results)
    change = sum(r.score_change for r in results) / len(results)  # the mean of F(x_i) - F(baseline)
    relative = abs(mean_delta) / abs(change) if change != 0 else float("inf")
    points = sum(r.steps for r in results)
    sentence = convergence_sentence(relative, points, cap=None)
    caption = (f"NoiseTunnel: Integrated Gradients averaged over {opt.samples} noisy copies of the frame (noise "
               f"sd {STDEV}, seed {SEED}); {sentence}")
    meta = {"delta": mean_delta, "relative_delta": relative, "score_change": change, "steps": points,
            "samples": opt.samples, "cap": opt.steps}
    return Explanation(attr.sum(1)[0].detach().cpu().numpy(), True, caption, meta=meta)


# The noise comes from a generator of the call's own (noisy_copies): no global state is touched, so it runs
# beside other requests.
NOISE_TUNNEL = register(Explainer("noise_tunnel", "NoiseTunnel (SmoothGrad IG)", _compute, uses=("steps", "samples"),
                                  exclusive=False))
