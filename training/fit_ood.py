"""Fit a checkpoint's out-of-distribution statistics (diffclip.ood) on synthetic training-distribution frames.

    python -m training.fit_ood demo/weights/diff demo/weights/vanilla

Frames come from ``training.synthetic`` with the generator settings each checkpoint was trained with (its
config.json; the bundled models: 300-frame videos, 224 px, rare labels raised to 3%, look-alike distractors on
about 25% of frames each) but seeds of their own: per-label means and the shared covariance from
seed 1 (10 videos, every 2nd frame: 1500 frames), the threshold from seed 2 (5 videos: 750 frames) at the
97.5th percentile of their scores (a 2.5% false-alarm rate on frames like the training frames). The model
runs in fp32 on the CPU, frames in a fixed order, so a rerun writes the same files.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from diffclip.inference import Predictor
from diffclip.json_input import read_json
from diffclip.ood import METHODS, OODStats, fit_mahalanobis, save_ood

from .synthetic import SynthConfig, plan_video, render_frame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitSettings:
    """The synthetic frames and the rule. Seed 0 made the bundled models' training set; 1 and 2 are unseen."""

    frames: int = 300  # per video, as training/configs/demo-*.yaml
    size: int = 224
    rare_share: float = 0.03
    lookalikes: float = 0.0  # look-alike distractors, as the training set had
    stride: int = 2  # every 2nd frame: neighbouring frames are near copies
    fit_seed: int = 1
    fit_videos: int = 10
    threshold_seed: int = 2
    threshold_videos: int = 5
    method: str = "mahalanobis"  # the winner on benchmarks/ood.py (docs/ood.json)
    false_alarm: float = 0.025  # share of held-out synthetic frames above the threshold
    exclusive: bool = False  # measured: adds false alarms at transitions, no detections (docs/ood.json)


def synthetic_frames(seed: int, videos: int, s: FitSettings) -> tuple[list[np.ndarray], np.ndarray]:
    """RGB frames of ``videos`` synthetic videos of seed ``seed`` (every ``s.stride``-th frame) and their
    (N, 17) boolean labels, in a fixed order."""
    cfg = SynthConfig(frames=s.frames, size=s.size, seed=seed, rare_share=s.rare_share, lookalikes=s.lookalikes)
    images, targets = [], []
    for v in range(videos):
        plan = plan_video(f"ood{seed}_{v}", cfg, index=v)
        for t in range(0, s.frames, s.stride):
            images.append(render_frame(plan, t)[0])
            targets.append(plan.labels[t])
    return images, np.asarray(targets, bool)


def forward(predictor: Predictor, images: list[np.ndarray], batch: int = 50) -> dict[str, np.ndarray]:
    """Features, logits, probabilities and crops of ``images`` (batch by batch, in order)."""
    parts: dict[str, list] = {"features": [], "logits": [], "probs": [], "crops": []}
    for i in range(0, len(images), batch):
        out = predictor.run(predictor.crops(images[i:i + batch]))
        parts["features"].append(out.features)
        parts["logits"].append(out.logits)
        parts["probs"].append(out.probs)
        parts["crops"].append(out.crops.permute(0, 2, 3, 1).numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}


def round_sig(x: float, digits: int = 6) -> float:
    """``x`` to ``digits`` significant digits: a last-bit difference in a refit does not reach the file."""
    return float(f"{x:.{digits}g}")


def fit_stats(predictor: Predictor, fit: tuple[list, np.ndarray], held: list[np.ndarray],
              s: FitSettings) -> OODStats:
    """Statistics for ``predictor``'s model: means and precision on the ``fit`` frames (images, labels), the
    threshold on the ``held`` frames. Both candidate scores' tensors are stored; ``s.method`` decides."""
    if s.method not in METHODS:
        raise ValueError(f"unknown method {s.method!r}; choose one of {', '.join(METHODS)}")
    f = forward(predictor, fit[0])
    means, precision, classes = fit_mahalanobis(f["features"], fit[1], predictor.labels)
    h = forward(predictor, held)
    stats = OODStats(s.method, 0.0, {"means": means, "precision": precision}, classes, s.exclusive)
    stats.tensors = {k: v.astype(np.float32) for k, v in stats.tensors.items()}  # as saved
    scores = np.sort(stats.score(h["features"], h["logits"]))
    stats.threshold = round_sig(float(np.quantile(scores, 1.0 - s.false_alarm)))
    stats.tensors["heldout_scores"] = scores.astype(np.float32)
    stats.fitted = {
        "command": "python -m training.fit_ood CHECKPOINT",
        "data": "training.synthetic", "settings": asdict(s),
        "fit_frames": len(fit[0]), "threshold_frames": len(held), "precision": predictor.precision,
    }
    return stats


def fit_checkpoints(directories: list[str | Path], s: FitSettings = FitSettings()) -> list[OODStats]:
    """Fit and write the statistics of each checkpoint directory (frames rendered once for all)."""
    torch.manual_seed(0)
    log.info("rendering %d + %d synthetic frames", s.fit_videos * s.frames // s.stride,
             s.threshold_videos * s.frames // s.stride)
    fit = synthetic_frames(s.fit_seed, s.fit_videos, s)
    held, _ = synthetic_frames(s.threshold_seed, s.threshold_videos, s)
    out = []
    for directory in directories:
        predictor = Predictor(directory, device="cpu", precision="fp32")
        stats = fit_stats(predictor, fit, held, s)
        save_ood(directory, stats)
        log.info("%s: %s threshold %.4g", directory, stats.method, stats.threshold)
        out.append(stats)
    return out


def settings_for_training(config: Mapping) -> FitSettings:
    """The fit for a checkpoint trained with ``config`` (a training config as a mapping: ``asdict`` of a
    TrainConfig, or a checkpoint's ``training.config``), as the training export makes it: frames like the
    training ones (look-alikes included; a config older than them had none), seeds after the training seed (the
    bundled models: 0, so 1 and 2, as the defaults). Not synthetic: the defaults, a stand-in that the model's own
    data should replace."""
    if config.get("data") != "synthetic":
        return FitSettings()
    seed = config["synth_seed"]
    return FitSettings(frames=config["synth_frames"], size=config["synth_size"], rare_share=config["synth_rare_share"],
                       fit_seed=seed + 1, threshold_seed=seed + 2, lookalikes=config.get("synth_lookalikes", 0.0))


def main(argv: list[str] | None = None) -> int:
    d = FitSettings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", help="checkpoint directories (written in place)")
    parser.add_argument("--method", choices=METHODS, default=d.method, help=f"feature score (default {d.method})")
    parser.add_argument("--exclusive", action=argparse.BooleanOptionalAction, default=d.exclusive,
                        help="also flag frames with two sections predicted at once")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    groups: dict[FitSettings, list[str]] = {}  # checkpoints trained alike share their rendered frames
    for path in args.checkpoints:
        groups.setdefault(replace(settings_of(path), method=args.method, exclusive=args.exclusive), []).append(path)
    for settings, paths in groups.items():
        for path, stats in zip(paths, fit_checkpoints(paths, settings), strict=True):
            print(f"{path}: {stats.method} threshold {stats.threshold:.6g} (synthetic frames: {settings.frames} a "
                  f"video, look-alikes {settings.lookalikes:g}, seeds {settings.fit_seed} and {settings.threshold_seed})")
    return 0


def settings_of(checkpoint: str | Path) -> FitSettings:
    """The fit for a checkpoint as its training export made it (:func:`settings_for_training` of its
    config.json's training config; an imported checkpoint has none)."""
    return settings_for_training(read_json(Path(checkpoint) / "config.json").get("training", {}).get("config") or {})


if __name__ == "__main__":
    sys.exit(main())
