"""The model card panel: what the checkpoint is and what it is not for."""

from __future__ import annotations

from diffclip.inference import Predictor

WARNING = ("**Not for clinical use.** A research and teaching demo. The bundled models were trained on "
           "synthetic capsule videos made by this project, not on patient data.")


def model_card(predictor: Predictor, path: str) -> str:
    cfg = predictor.config
    training = cfg.get("training", {})
    metrics = cfg.get("metrics", {})
    synthetic = training.get("synthetic", training.get("data") == "synthetic")
    data = "synthetic capsule videos (training.synthetic)" if synthetic else training.get("data", "unknown")
    lines = [
        f"### Model: `{path}`",
        WARNING,
        "",
        f"- backbone: **{cfg.get('backbone')}**, attention: **{cfg.get('attention')}**",
        f"- training data: **{data}**",
        f"- runs on: **{predictor.device}** in **{predictor.precision}**",
    ]
    if training.get("command"):
        lines.append(f"- reproduce: `{training['command']}`")
    if metrics:
        lines.append(f"- validation mAP (labels with support): {metrics.get('map_supported', float('nan')):.3f}; "
                     f"over all 17: {metrics.get('map_all', float('nan')):.3f}")
    lines += ["", "| label | threshold |", "|---|---:|"]
    lines += [f"| {lab} | {t:.2f} |" for lab, t in zip(predictor.labels, predictor.thresholds, strict=True)]
    return "\n".join(lines)
