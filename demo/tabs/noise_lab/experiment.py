"""Noise lab logic: draw distractors (bubbles, specular highlights, debris) over a clean frame with the
synthetic generator's own drawers, run the standard and the differential model on it, and measure where
their attention goes (diffclip.attention_noise) and what the subtraction a1 - lambda a2 removes.

Plain functions on plain data, so that they can be tested without a browser; the figures are in
:mod:`demo.tabs.noise_lab.noise_lab_figures`, the tab in :mod:`demo.tabs.noise_lab`.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from diffclip.attention_noise import (
    DRAWN,
    cancellation,
    cover,
    distractor_mass,
    drawn_distractor_mass,
    masses,
    merge_drawn,
    regions,
)
from diffclip.attention_sinks import sink_measures, token_norms
from diffclip.attention_sinks import summary as sink_summary
from diffclip.distractors import CODES, DRAWERS, KIND_CODES, LAB_CLUSTERS, OUTSIDE, add_distractors
from diffclip.inference import Predictor
from explain.analysis import FrameAnalysis, analyse
from explain.noise_per_layer import per_layer

from ...resources import Example
from ...truth import load_mask

MODELS = ("standard", "differential")
KINDS = tuple(DRAWERS)  # the sliders, in the generator's painting order: bubbles, highlights, debris
KIND_NAMES = {kind: CODES[KIND_CODES[kind]] for kind in KINDS}  # "bubbles" -> "bubble" (a region's name)
RIM = CODES[OUTSIDE]


@dataclass(frozen=True)
class LabFrame:
    """A clean frame as the models see it: their crop, its lesion mask at the crop's size (None: unknown),
    a name for captions and the label the frame shows (None: not known)."""

    crop: np.ndarray  # (S, S, 3) uint8
    lesion: np.ndarray | None  # (S, S) bool
    name: str
    shows: str | None = None


def crop_of(predictor: Predictor, image) -> np.ndarray:
    """The (S, S, 3) uint8 crop ``predictor`` makes of ``image`` (path, PIL image or array)."""
    return predictor.crops([image])[0].permute(1, 2, 0).numpy().copy()


def pick_frame(examples: Sequence[Example], index: int | float | None, upload: str | Path | None,
               predictor: Predictor) -> LabFrame:
    """The lab's frame: an uploaded file (no lesion mask is known for it) or bundled example ``index``, cropped
    as ``predictor`` crops its input (and its mask the same way), so that a frame of any size works."""
    if upload and index not in (None, ""):
        raise ValueError("give an example index or a frame, not both")
    if upload:
        return LabFrame(crop_of(predictor, upload), None, Path(upload).name)
    if index is None or index == "":
        raise ValueError("pick an example or upload a frame")
    try:
        whole = float(index) == int(index)
    except (TypeError, ValueError, OverflowError):
        whole = False
    if not whole or not 0 <= int(index) < len(examples):
        raise ValueError(f"example must be a whole number in 0..{len(examples) - 1}, got {index!r}")
    ex = examples[int(index)]
    crop = crop_of(predictor, ex.image)
    lesion = load_mask(ex.mask, crop.shape[0]) if ex.mask is not None else None
    return LabFrame(crop, lesion, f"example: {ex.shows}", ex.shows)


def check_levels(levels: Mapping[str, float]) -> dict[str, float]:
    """Distractor levels, one per kind in :data:`KINDS` (a missing kind is 0), each a number in [0, 1]."""
    unknown = set(levels) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown distractor kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    out = {}
    for kind in KINDS:
        try:
            value = float(levels.get(kind) or 0.0)
        except (TypeError, ValueError):
            raise ValueError(f"the {kind} level must be a number in [0, 1], got {levels.get(kind)!r}") from None
        if not 0.0 <= value <= 1.0:  # also refuses NaN
            raise ValueError(f"the {kind} level must lie in [0, 1], got {value:g}")
        out[kind] = value
    return out


def frame_seed(crop: np.ndarray) -> int:
    """A seed fixed by the frame's pixels, so that the same frame at the same levels gets the same
    distractors in every session and process (Python's hash() is salted per process)."""
    return zlib.crc32(np.ascontiguousarray(crop).tobytes())


def clusters(levels: Mapping[str, float]) -> dict[str, int]:
    """How many clusters of each kind ``levels`` draws (diffclip.distractors.add_distractors' rule)."""
    return {kind: round(float(levels.get(kind, 0.0)) * LAB_CLUSTERS[kind]) for kind in KINDS}


@dataclass
class LabResult:
    """One lab run: the frame with its distractors, their mask, the lesion mask, the levels and seed that drew
    them, and both models' analyses of the frame (kept per session, so that a label, layer or head change
    redraws without a model)."""

    name: str
    image: np.ndarray  # (S, S, 3) uint8: the frame the models saw
    codes: np.ndarray  # (S, S) uint8: diffclip.distractors.CODES, 0 none
    lesion: np.ndarray | None
    levels: dict[str, float]
    seed: int
    shows: str | None
    analyses: dict[str, FrameAnalysis]
    #: per model, (layers, patches) norms of the patch tokens after each block (diffclip.attention_sinks)
    norms: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.codes.shape

    @property
    def drawn(self) -> np.ndarray:
        """(S, S) bool: the drawn distractors (bubbles, highlights, debris; not the rim)."""
        return np.isin(self.codes, [KIND_CODES[k] for k in KINDS])

    def parts(self) -> dict[str, np.ndarray]:
        """Disjoint regions covering the frame: each distractor type, the rim, the lesion (when known) and
        elsewhere (diffclip.attention_noise.regions)."""
        return regions(self.lesion, self.codes, self.shape)

    def merged_parts(self) -> dict[str, np.ndarray]:
        """The same frame in fewer regions: the drawn distractors together, the rim, the lesion, elsewhere."""
        return merge_drawn(self.parts())


def run_lab(standard: Predictor, differential: Predictor, frame: LabFrame, levels: Mapping[str, float]) -> LabResult:
    """Draw the distractors over ``frame`` (seed fixed by the frame) and analyse it with both models."""
    if standard.pre.image_size != differential.pre.image_size:
        raise ValueError("the two models see crops of different sizes; the lab needs one crop for both")
    levels = check_levels(levels)
    seed = frame_seed(frame.crop)
    image, codes = add_distractors(frame.crop, levels, seed)
    predictors = dict(zip(MODELS, (standard, differential), strict=True))
    analyses = {name: analyse(pred, image) for name, pred in predictors.items()}
    norms = {name: token_norms(pred.model, analyses[name].x.to(pred.device)) for name, pred in predictors.items()}
    return LabResult(frame.name, image, codes, frame.lesion, levels, seed, frame.shows, analyses, norms)


def sinks(result: LabResult, model: str) -> dict:
    """Attention sinks of one model's shown map on this frame (diffclip.attention_sinks): per layer and head,
    and the last layer's head mean under ``last_layer``."""
    a = result.analyses[model]
    rows = a.cls_rows[a.shown_kind]
    measures = sink_measures(rows, result.norms[model], cover(result.parts()[RIM], rows.shape[-2:]))
    return measures | {"last_layer": sink_summary(measures)}


def default_label(result: LabResult) -> str:
    """The label the example shows, else the differential model's most probable one."""
    a = result.analyses["differential"]
    return result.shows if result.shows in a.labels else a.labels[int(np.argmax(a.probs))]


def check_label(labels: Sequence[str], label: str | None) -> str | None:
    """``label`` if it is one of ``labels``, None when it is empty (the default applies); any other label is a
    ValueError naming the choices (checked before a model runs)."""
    if label in (None, ""):
        return None
    if label not in labels:
        raise ValueError(f"unknown label {label!r}; choose one of {', '.join(labels)}")
    return label


def label_for(result: LabResult, label: str | None) -> str:
    """``label``, or the default one (:func:`default_label`) when it is empty."""
    return default_label(result) if label in (None, "") else label


def check_layer(result: LabResult, layer) -> int:
    """The 0-based index of the differential model's 1-based ``layer``; a ValueError outside 1..depth."""
    depth = result.analyses["differential"].num_layers
    try:
        index = int(layer) - 1
    except (TypeError, ValueError):
        index = -1
    if not 0 <= index < depth or float(layer) != index + 1:
        raise ValueError(f"layer must lie in 1..{depth}, got {layer}")
    return index


def subtraction(analysis: FrameAnalysis, layer: int = -1, head: int | None = None):
    """a1, lambda a2 and a1 - lambda a2 of one layer and head (None: the head mean). lambda a2 is weighted
    per head before the mean (with a lambda per head, mean(lambda a2) is not mean(lambda) mean(a2)), so that
    the third map is exactly the first minus the second."""
    if not analysis.has_second_map:
        raise ValueError("standard attention has one map: there is nothing to subtract")
    a2 = analysis.cls_rows["a2"][layer].astype(np.float32)  # (heads, gh, gw)
    lam = analysis.lam[layer].astype(np.float32)
    if head is not None and not 0 <= head < a2.shape[0]:
        raise ValueError(f"head must be 'mean' or lie in 0..{a2.shape[0] - 1}, got {head}")
    weighted = lam[:, None, None] * a2
    a1 = analysis.cls_map("a1", layer, head)
    lam_a2 = weighted.mean(0) if head is None else weighted[head]
    return a1, lam_a2, a1 - lam_a2


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None  # JSON has no NaN: None where a share is undefined


def map_numbers(result: LabResult, model: str, label: str) -> dict:
    """Of one model's last-layer map (the kind it shows, head mean): its shares of positive mass per region
    (they sum to 1), the lesion share (None without a mask), the distractor share (diffclip.attention_noise's: all
    distractor types with the rim), the drawn distractors' share, and the label's probability."""
    a = result.analyses[model]
    shares = masses(a.cls_map(a.shown_kind, -1, None), result.parts())
    return {
        "map": a.shown_kind,
        "probability": float(a.probs[a.label_index(label)]),
        "lesion_mass": _finite(shares["lesion"]) if "lesion" in shares else None,
        "distractor_mass": _finite(distractor_mass(shares)),
        "drawn_distractor_mass": _finite(drawn_distractor_mass(shares)),
        "masses": {k: _finite(v) for k, v in shares.items()},
    }


def cancellation_numbers(result: LabResult, layer: int = -1, head: int | None = None) -> dict:
    """What the differential model's subtraction does in one layer and head: lambda, and per region (the
    drawn distractors together and each type, the rim, the lesion, elsewhere) the part of a1's positive mass
    that a1 - lambda a2 no longer has (None where a1 has none), with a1's and the difference's shares."""
    a = result.analyses["differential"]
    a1, lam_a2, _ = subtraction(a, layer, head)
    per_type = cancellation(a1, lam_a2, 1.0, result.parts())  # lambda is already in lam_a2
    merged = cancellation(a1, lam_a2, 1.0, result.merged_parts())
    removed = {**merged["removed"], **{KIND_NAMES[k]: per_type["removed"][KIND_NAMES[k]] for k in KINDS}}
    return {
        "layer": layer % a.num_layers + 1,
        "head": "mean" if head is None else head,
        "lambda": a.lam_value(layer, head),
        "removed": {k: _finite(v) for k, v in removed.items()},
        "a1_masses": {k: _finite(v) for k, v in per_type["a1"].items()},
        "diff_masses": {k: _finite(v) for k, v in per_type["diff"].items()},
    }


def lab_numbers(result: LabResult, label: str) -> dict:
    """Everything the lab measures, as JSON: the frame, levels and seed; whether the frame, with its
    distractors, looks like a capsule frame to the differential model (``in_distribution``, ``ood_score``,
    ``ood_threshold``, ``ood_reasons``, as /predict_frame); per model its last-layer numbers; for the
    differential model also the last layer's cancellation, lambda per layer (and head) and per layer what the
    subtraction removes of a1's mass on the drawn distractors and on the lesion."""
    diff = result.analyses["differential"]
    layers = per_layer(diff, result.merged_parts())
    out = {
        "frame": result.name,
        "label": label,
        "levels": dict(result.levels),
        "clusters": clusters(result.levels),
        "seed": result.seed,
        "lesion_mask": result.lesion is not None,
        **diff.ood_dict(),
        "standard": map_numbers(result, "standard", label) | {"sinks": sinks(result, "standard")},
        "differential": map_numbers(result, "differential", label) | {"sinks": sinks(result, "differential")},
    }
    out["differential"].update({
        "cancellation": cancellation_numbers(result),
        "lambda_per_layer": [float(row["lambda"]) for row in layers],
        "lambda_per_head": diff.lam.astype(float).tolist(),
        "removed_per_layer": [{k: _finite(row["removed"][k]) for k in (DRAWN, "lesion") if k in row["removed"]}
                              for row in layers],
    })
    return out
