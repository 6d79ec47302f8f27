"""Checks that sit beside every map: how much of it lies on the black rim outside the field of view, and
how faithful it is (deletion and insertion AUC; mask share and pointing game when the lesion is known).

    d = faithfulness(analysis, predictor, attribution, mask=None)
    caption = faithfulness_caption(d)
    note = rim_note(d["outside_fov_share"])  # None unless the map sits mostly on the rim
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch

from diffclip.device import autocast
from diffclip.fov import fov_mask, outside_share

from .faithfulness import deletion_curve, insertion_curve, label_probability, mass_in_mask, pointing_game
from .methods.captum_tools import baseline_like

if TYPE_CHECKING:
    from diffclip.inference import Predictor

    from .analysis import FrameAnalysis
    from .methods import Explanation

#: A map gets the rim note when more than this share of its positive mass lies outside the field of view.
#: A uniform map puts about 0.27 there on our frames (the rim's area), so this is about twice uniform.
RIM_THRESHOLD = 0.5
POINTING_TOLERANCE = 15  # pixels, as Zhang et al. (2018)


def rim_note(share: float, threshold: float = RIM_THRESHOLD) -> str | None:
    """A one-sentence lesson when a map lies mostly outside the field of view (``share`` > ``threshold``),
    otherwise None."""
    if share is None or not math.isfinite(share) or share <= threshold:
        return None
    return (f"{share:.0%} of this map lies on the black rim outside the field of view, where nothing can be "
            "seen: ViTs often store global information in low-content background tokens (Darcet et al. 2023, "
            "'Vision Transformers Need Registers'); read it as where the model keeps its summary, not as the "
            "lesion.")


def _as_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    m = np.asarray(mask)
    if m.shape != shape:
        raise ValueError(f"the mask is {m.shape[0]}x{m.shape[1]} but the crop the model saw is "
                         f"{shape[0]}x{shape[1]}: give the mask at the crop's size" if m.ndim == 2 else
                         f"the mask must be a 2-D (H, W) array, got shape {m.shape}")
    return m > 0


def faithfulness(analysis: FrameAnalysis, predictor: Predictor, attribution: Explanation,
                 mask: np.ndarray | None = None, steps: int = 10) -> dict:
    """Faithfulness numbers of one map for its label (``attribution.label``). Deletion: the label's
    probability as the map's top pixels turn black, ``steps`` + 1 points, area under the curve (lower =
    more faithful); insertion: the same as they appear on a black frame (higher = more faithful).
    ``outside_fov_share``: the map's positive mass outside the field of view (``uniform_outside_share``
    for a uniform map). With a ``mask`` (bool/uint8, the crop's size): ``mask_share`` (positive mass
    inside it; ``uniform_mask_share`` for a uniform map) and ``pointing`` (the map's peak within 15 px).
    Takes the predictor's lock in shared mode: do not call it while holding that lock."""
    if attribution.label < 0:
        raise ValueError("the attribution names no label: make it with explain.methods.explain")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    image = analysis.image
    inside = fov_mask(image)
    out = {"label": analysis.labels[attribution.label], "method": attribution.method, "steps": steps,
           "outside_fov_share": outside_share(attribution.map, inside),
           "uniform_outside_share": float(1 - inside.mean())}
    if mask is not None:
        m = _as_mask(mask, image.shape[:2])
        out["mask_share"] = mass_in_mask(attribution.map, m)
        out["uniform_mask_share"] = float(m.mean())
        out["pointing"] = pointing_game(attribution.map, m, tolerance=POINTING_TOLERANCE)
    model = predictor.model
    x = analysis.x.to(predictor.device)
    baseline = baseline_like(x, analysis.preprocess)
    score = label_probability(model, attribution.label)
    # in the predictor's precision: the curves start from the probability the caption names (in fp32 they
    # began at 0.79 beside a bf16 "p = 0.80"); the score is the analysis' own, since in bf16 its maps pass and
    # the curves' fused pass may round apart (0.6451 against 0.6449 once: "p = 0.65", "Label score 0.64")
    out["score"] = float(analysis.probs[attribution.label])
    with predictor.lock.shared(), torch.no_grad(), autocast(predictor.device, predictor.amp_dtype):
        out["deletion_auc"] = deletion_curve(score, x, baseline, attribution.map, steps).auc
        out["insertion_auc"] = insertion_curve(score, x, baseline, attribution.map, steps).auc
    return out


def faithfulness_caption(d: dict) -> str:
    """The numbers of :func:`faithfulness` in words, for someone who has not met them before."""
    parts = [f"deletion AUC {d['deletion_auc']:.2f} (lower = blacking out the map's top pixels first kills the "
             f"score fast = faithful)",
             f"insertion AUC {d['insertion_auc']:.2f} (higher = showing them first brings the score back fast = "
             f"faithful)"]
    if "mask_share" in d:
        parts.append(f"{d['mask_share']:.0%} of the map inside the lesion mask (a uniform map: "
                     f"{d['uniform_mask_share']:.0%})")
        parts.append("its peak " + ("hits" if d["pointing"] else "misses") +
                     f" the lesion (within {POINTING_TOLERANCE} px)")
    if math.isfinite(d["outside_fov_share"]):
        parts.append(f"{d['outside_fov_share']:.0%} on the black rim outside the field of view (a uniform map: "
                     f"{d['uniform_outside_share']:.0%})")
    return f"Label score {d['score']:.2f}; " + "; ".join(parts) + "."
