"""What the noise study measures on one trained model (docs/design.md, "The noise study"): over held-out
synthetic frames that show a lesion and distractors, the shares of the last layer's CLS attention (head mean;
diff and diff_v2: a1 - lambda a2, positive part) on the lesion, the drawn distractors and the rim; how focused
that map is (normalised entropy); its attention sinks (diffclip.attention_sinks); for differential models,
a1's shares and what the subtraction removes of a1 per region."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from diffclip.attention_noise import (
    DISTRACTORS,
    DRAWN,
    DRAWN_TYPES,
    cover,
    distractor_mass,
    drawn_distractor_mass,
    masses,
    merge_drawn,
    normalised_entropy,
    regions,
    subtraction_effect,
)
from diffclip.attention_sinks import sink_measures, token_norms
from diffclip.attention_sinks import summary as sink_summary
from diffclip.distractors import OUTSIDE
from diffclip.inference import Predictor

from .heldout import HeldoutFrame

RIM = DISTRACTORS[OUTSIDE]


def _cls_heads(maps, kind: str) -> np.ndarray:
    """(B, heads, gh, gw) CLS-to-patch rows of one layer's ``kind`` map."""
    t = getattr(maps, kind)[:, :, 0, 1:].float()
    side = math.isqrt(t.shape[-1])
    return t.reshape(*t.shape[:2], side, side).cpu().numpy()


def measure(checkpoint: str | Path, frames: Sequence[HeldoutFrame], batch_size: int = 20) -> dict:
    """One model's figures on ``frames`` (means over frames; entropy: the median): see :func:`summarise_frames`."""
    predictor = Predictor(checkpoint, precision="fp32")
    rows: list[dict] = []
    for i in range(0, len(frames), batch_size):
        chunk = frames[i : i + batch_size]
        out = predictor.run(predictor.crops([f.rgb for f in chunk]), maps=True)
        last = out.maps[-1]
        heads = _cls_heads(last, last.semantics.shown)
        shown = heads.mean(1)
        a1 = _cls_heads(last, "a1").mean(1) if last.semantics.differential else None
        size = out.crops.shape[-1]
        for k, f in enumerate(chunk):
            if f.rgb.shape[:2] != (size, size):
                raise ValueError(f"held-out frames must be {size} px, the model's input; got {f.rgb.shape[:2]}")
            parts = regions(f.mask, f.distractors, (size, size))
            norms = token_norms(predictor.model, out.x[k : k + 1])[-1:]
            row = {"shown": masses(shown[k], parts), "entropy": normalised_entropy(shown[k]),
                   "sinks": sink_summary(sink_measures(heads[k][None], norms, cover(parts[RIM], shown.shape[-2:]))),
                   "probability": float(out.probs[k][predictor.labels.index(f.label)])}
            if a1 is not None:
                per_type = subtraction_effect(a1[k], shown[k], parts)  # shown: the head mean of a1 - lambda a2
                row["a1"] = per_type["a1"]
                merged = subtraction_effect(a1[k], shown[k], merge_drawn(parts))
                row["removed"] = {**per_type["removed"], DRAWN: merged["removed"][DRAWN]}
            rows.append(row)
    return summarise_frames(rows, predictor.model.config.attention)


def _mean(values) -> float:
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def summarise_frames(rows: list[dict], variant: str) -> dict:
    """One run's figures: means over frames (NaN-aware) of the shown map's shares, the median normalised
    entropy, the mean sink shares (last layer, each head's share then the mean over heads), and for a
    differential model a1's shares and what the subtraction removes."""
    shown = [r["shown"] for r in rows]
    out = {
        "variant": variant,
        "frames": len(rows),
        "lesion_mass": _mean(s["lesion"] for s in shown),
        "distractor_mass": _mean(distractor_mass(s) for s in shown),
        "drawn_distractor_mass": _mean(drawn_distractor_mass(s) for s in shown),
        "rim_mass": _mean(s[RIM] for s in shown),
        "elsewhere_mass": _mean(s["elsewhere"] for s in shown),
        "per_type": {n: _mean(s[n] for s in shown) for n in DRAWN_TYPES},
        "label_probability": _mean(r["probability"] for r in rows),
    }
    if "entropy" in rows[0]:
        out["entropy"] = float(np.nanmedian([r["entropy"] for r in rows]))
        out["sinks"] = {k: _mean(r["sinks"][k] for r in rows) for k in ("top_token", "rim", "high_norm")
                        if k in rows[0]["sinks"]}
        if "high_norm_tokens" in rows[0]["sinks"]:  # per frame
            out["sinks"]["high_norm_tokens"] = _mean(r["sinks"]["high_norm_tokens"] for r in rows)
        out["sink_mass"] = out["sinks"]["top_token"]
    if "a1" in rows[0]:
        out["a1_lesion_mass"] = _mean(r["a1"]["lesion"] for r in rows)
        out["a1_distractor_mass"] = _mean(distractor_mass(r["a1"]) for r in rows)
        out["a1_drawn_distractor_mass"] = _mean(drawn_distractor_mass(r["a1"]) for r in rows)
        out["a1_rim_mass"] = _mean(r["a1"][RIM] for r in rows)
        out["removed"] = {k: _mean(r["removed"][k] for r in rows) for k in rows[0]["removed"]}
    return out


def uniform_shares(frames: Sequence[HeldoutFrame]) -> dict[str, float]:
    """What a uniform map would put on each region: the regions' mean pixel shares."""
    parts = [regions(f.mask, f.distractors, f.mask.shape) for f in frames]
    return {"lesion": float(np.mean([p["lesion"].mean() for p in parts])),
            "distractor": float(np.mean([sum(p[n].mean() for n in DISTRACTORS.values()) for p in parts])),
            "drawn_distractor": float(np.mean([sum(p[n].mean() for n in DRAWN_TYPES) for p in parts])),
            "rim": float(np.mean([p[RIM].mean() for p in parts]))}
