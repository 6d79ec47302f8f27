"""Out-of-distribution check: does a frame look like the capsule frames the model was trained on?

Three tests, any of which flags a frame (docs/design.md, "Out-of-distribution warning"):

* **feature score**: the squared Mahalanobis distance of the pooled image feature (what the classifier head
  sees) to the nearest per-label mean under one shared (tied) covariance (Lee et al., NeurIPS 2018), or the
  joint energy of the logits (Wang et al., NeurIPS 2021); the checkpoint says which. Above the stored
  threshold, chosen on held-out synthetic frames, the frame is out of distribution;
* **field of view**: a capsule frame has a dark rim around a circular field of view (:mod:`diffclip.fov`);
  a photo or a scan that fills its frame has none;
* **exclusive sections** (only when the checkpoint's fit found it useful): two sections of the gut
  predicted at once, which no real frame shows.

The statistics live beside the weights as ``ood.safetensors`` (tensors, no pickle) with an ``"ood"`` entry
in config.json (method, threshold, how they were fitted). A checkpoint without them still loads: its
results say ``in_distribution=None`` and why.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from sklearn.covariance import LedoitWolf

from .atomic import atomic_path, write_json
from .checkpoint import CONFIG_NAME, WEIGHTS_NAME
from .fov import fov_mask
from .labels import SECTIONS

OOD_NAME = "ood.safetensors"
METHODS = ("mahalanobis", "energy")
MIN_SUPPORT = 10  # a label needs this many fitting frames to get its own mean
#: A capsule frame's rim (dark, reaching the border) covers this share of the crop: 0.26 for a disc
#: inscribed in the square; real capsule frames crop tighter or looser, photos have ~0.
RIM_RANGE = (0.05, 0.7)
NO_STATS = "no out-of-distribution check: this checkpoint has no ood statistics (fit them with " \
           "`python -m training.fit_ood CHECKPOINT`)"


@dataclass
class OODResult:
    """One frame's verdict: ``in_distribution`` is None when the checkpoint has no statistics; ``score`` is
    the feature score (higher: less like the training frames) and ``reasons`` say what flagged the frame."""

    in_distribution: bool | None
    score: float | None
    threshold: float | None
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"in_distribution": self.in_distribution, "ood_score": self.score,
                "ood_threshold": self.threshold, "ood_reasons": list(self.reasons)}


def mahalanobis_scores(features: np.ndarray, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """(N,) min over the K means of ``(f - mu_k)^T P (f - mu_k)`` for (N, D) features, (K, D) means and a
    (D, D) precision matrix, in float64."""
    f = np.asarray(features, np.float64)
    diff = f[:, None, :] - np.asarray(means, np.float64)[None, :, :]  # (N, K, D)
    d2 = np.einsum("nkd,de,nke->nk", diff, np.asarray(precision, np.float64), diff)
    return d2.min(axis=1)


def energy_scores(logits: np.ndarray) -> np.ndarray:
    """(N,) negative joint energy ``-sum_j log(1 + exp(z_j))`` of multi-label logits: low when some label is
    confidently present, high (towards 0) when none is."""
    z = np.asarray(logits, np.float64)
    return -np.logaddexp(0.0, z).sum(axis=1)


#: How the shared covariance is estimated (recorded in the config entry): Ledoit-Wolf shrinkage keeps it
#: invertible where the features hardly vary; docs/design.md, "Out-of-distribution warning", says why no
#: variance floor or per-precision statistics were needed once the feature is computed in fp32.
ESTIMATOR = "sklearn.covariance.LedoitWolf(assume_centered=True), tied over labels"


def fit_mahalanobis(features: np.ndarray, targets: np.ndarray, labels: tuple[str, ...]):
    """Per-label means of (N, D) ``features`` over the frames carrying each label (N, L boolean
    ``targets``; labels with fewer than ``MIN_SUPPORT`` frames get none) and the Ledoit-Wolf shrunk
    precision of the residuals to those means, pooled over all (frame, label) pairs.
    Returns ``(means (K, D), precision (D, D), classes)``."""
    f = np.asarray(features, np.float64)
    t = np.asarray(targets, bool)
    keep = [j for j in range(len(labels)) if t[:, j].sum() >= MIN_SUPPORT]
    if not keep:
        raise ValueError(f"no label has {MIN_SUPPORT} fitting frames")
    means = np.stack([f[t[:, j]].mean(axis=0) for j in keep])
    residuals = np.concatenate([f[t[:, j]] - means[k] for k, j in enumerate(keep)])
    precision = LedoitWolf(assume_centered=True).fit(residuals).precision_
    return means, precision, tuple(labels[j] for j in keep)


def field_of_view_reason(crop: np.ndarray) -> str | None:
    """Why ``crop`` has no plausible capsule field of view, or None when it has one: a rim covering a share of
    the crop within ``RIM_RANGE`` that takes in all four corners."""
    inside = fov_mask(crop)
    share = float(1.0 - inside.mean())
    corners = inside[[0, 0, -1, -1], [0, -1, 0, -1]]
    if share < RIM_RANGE[0] or corners.any():
        return f"no dark rim around a circular field of view (rim {share:.0%} of the frame)"
    if share > RIM_RANGE[1]:
        return f"mostly dark: {share:.0%} of the frame is rim"
    return None


def exclusive_sections_reason(probs: np.ndarray, thresholds: np.ndarray, labels: tuple[str, ...]) -> str | None:
    """Why one frame's predictions are impossible (two gut sections at once), or None."""
    on = [lab for lab, p, t in zip(labels, probs, thresholds, strict=True) if lab in SECTIONS and p >= t]
    return f"mutually exclusive sections predicted together: {', '.join(on)}" if len(on) > 1 else None


@dataclass
class OODStats:
    """What the training frames looked like in the model's feature space, and the decision rule."""

    method: str
    threshold: float
    tensors: dict[str, np.ndarray]  # "means", "precision" (mahalanobis); "heldout" (sorted held-out scores)
    classes: tuple[str, ...] = ()
    exclusive: bool = False  # include the exclusive-sections test in the decision
    fitted: dict = field(default_factory=dict)  # provenance: seeds, frame counts, command

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown ood method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.method == "mahalanobis" and not {"means", "precision"} <= set(self.tensors):
            raise ValueError("mahalanobis statistics need 'means' and 'precision' tensors")

    @property
    def fit_precision(self) -> str:
        """The precision the fitting frames' features were computed in (the model's last layers always run in
        fp32: diffclip.device.full_precision)."""
        return str(self.fitted.get("precision", "fp32"))

    @property
    def feature_dim(self) -> int | None:
        return int(self.tensors["means"].shape[1]) if "means" in self.tensors else None

    def score(self, features: np.ndarray, logits: np.ndarray) -> np.ndarray:
        """(N,) feature scores of N frames (higher: less like the training frames)."""
        if self.method == "energy":
            return energy_scores(logits)
        return mahalanobis_scores(features, self.tensors["means"], self.tensors["precision"])

    def check(self, features: np.ndarray, logits: np.ndarray, crops: np.ndarray, probs: np.ndarray,
              thresholds: np.ndarray, labels: tuple[str, ...]) -> list[OODResult]:
        """One :class:`OODResult` per frame from a forward pass's (N, D) features, (N, L) logits and
        probabilities, and the (N, S, S, 3) uint8 crops the model saw."""
        scores = self.score(features, logits)
        out = []
        for i, s in enumerate(scores):
            reasons = []
            if s > self.threshold:
                reasons.append(f"{self.method} score {s:.4g} above the threshold {self.threshold:.4g}")
            fov = field_of_view_reason(crops[i])
            if fov:
                reasons.append(fov)
            excl = exclusive_sections_reason(probs[i], thresholds, labels) if self.exclusive else None
            if excl:
                reasons.append(excl)
            out.append(OODResult(not reasons, float(s), float(self.threshold), reasons))
        return out

    def entry(self) -> dict:
        """The config.json ``"ood"`` entry."""
        return {"file": OOD_NAME, "method": self.method, "threshold": self.threshold,
                "estimator": ESTIMATOR if self.method == "mahalanobis" else None,
                "precision": self.fit_precision, "feature_dim": self.feature_dim, "classes": list(self.classes),
                "fov_check": True,
                "rim_range": list(RIM_RANGE), "exclusive_sections": self.exclusive, "fitted": self.fitted}


def weights_digest(directory: str | Path) -> str:
    """SHA-256 of the checkpoint's weights: statistics fitted for other weights are refused."""
    h = hashlib.sha256()
    with open(Path(directory) / WEIGHTS_NAME, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_ood(directory: str | Path, stats: OODStats) -> Path:
    """Write ``ood.safetensors`` and the config.json ``"ood"`` entry into a checkpoint directory, each
    atomically (tensors first: a config entry never points at a missing file)."""
    directory = Path(directory)
    # float32 on disk: a last-bit difference in a refit (another thread count) rarely survives the rounding
    tensors = {k: np.ascontiguousarray(v, np.float32) for k, v in sorted(stats.tensors.items())}
    with atomic_path(directory / OOD_NAME) as tmp:
        # one metadata key: safetensors writes several in a random order, and a refit must give the same bytes
        save_file(tensors, str(tmp), metadata={"ood": json.dumps({"method": stats.method,
                                                                  "classes": list(stats.classes)})})
    config = json.loads((directory / CONFIG_NAME).read_text(encoding="utf-8"))
    config["ood"] = {**stats.entry(), "weights_sha256": weights_digest(directory)}
    write_json(directory / CONFIG_NAME, config)
    return directory / OOD_NAME


def load_ood(directory: str | Path, config: dict) -> tuple[OODStats | None, str | None]:
    """``(stats, None)`` for a checkpoint directory with statistics, else ``(None, reason)``. Raises
    ``ValueError`` when the entry exists but its file is missing or does not fit the weights."""
    entry = config.get("ood")
    if not entry:
        return None, NO_STATS
    path = Path(directory) / entry.get("file", OOD_NAME)
    if not path.is_file():
        raise ValueError(f"{path}: missing, but config.json has an 'ood' entry naming it")
    digest = entry.get("weights_sha256")
    if digest and digest != weights_digest(directory):
        raise ValueError(f"{path}: fitted for other weights (weights_sha256 differs); refit with "
                         f"`python -m training.fit_ood {directory}`")
    stats = OODStats(entry["method"], float(entry["threshold"]), load_file(str(path)),
                     tuple(entry.get("classes", ())), bool(entry.get("exclusive_sections", False)),
                     entry.get("fitted", {}))
    return stats, None


def tensor_crops(crops: torch.Tensor) -> np.ndarray:
    """(N, S, S, 3) uint8 numpy crops from a (N, 3, S, S) uint8 tensor."""
    return crops.detach().cpu().permute(0, 2, 3, 1).numpy()
