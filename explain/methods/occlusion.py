"""Occlusion (Zeiler & Fergus 2014): the logit's drop when a window is blacked out, window by window."""

from __future__ import annotations

from captum.attr import Occlusion

from .base import ExplainContext, Explainer, Explanation, Options
from .captum_tools import Counting, black_baseline
from .registry import register

#: Occluded frames per model pass: the windows of a 224 px frame (169 at the default 32 px) in 3 passes instead of
#: 11 at the shared batch of 16; on a GPU the pass count is the cost, on a CPU the arithmetic is (the same maps)
PER_PASS = 64


def windows(h: int, w: int, window: int) -> tuple[int, int]:
    """(stride, number of windows) of occlusion with ``window`` px squares over an ``h`` x ``w`` frame."""
    stride = max(1, window // 2)
    return stride, (1 + max(0, h - window) // stride) * (1 + max(0, w - window) // stride)


def _compute(ctx: ExplainContext, label: int, opt: Options) -> Explanation:
    x = ctx.x
    window = opt.window
    stride, n_windows = windows(*x.shape[-2:], window)
    wrapped = Counting(ctx.model, n_windows + 1, ctx.progress)
    attr = Occlusion(wrapped).attribute(x, sliding_window_shapes=(x.shape[1], window, window),
                                        strides=(x.shape[1], stride, stride),
                                        baselines=black_baseline(ctx.model, x), target=label,
                                        perturbations_per_eval=max(opt.internal_batch_size, PER_PASS))
    caption = f"Occlusion: the logit's drop when a black {window} px square covers each place (stride {stride} px)"
    return Explanation(attr.sum(1)[0].detach().cpu().numpy(), True, caption, meta={"window": window, "stride": stride})


OCCLUSION = register(Explainer("occlusion", "Occlusion", _compute, uses=("window",), exclusive=False))
