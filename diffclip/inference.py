"""Batch inference on frames: preprocessing, batching, device and autocast choice, thresholds."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .attention import AttentionMaps
from .backbones import Preprocess
from .checkpoint import checkpoint_directory, load_checkpoint
from .device import autocast, autocast_dtype, precision_name, resolve_device
from .images import ImageLike
from .locks import ModelLock
from .memory import keep_heap_warm
from .model import DiffCLIPClassifier
from .ood import NO_STATS, OODResult, OODStats, load_ood, tensor_crops

log = logging.getLogger(__name__)


@dataclass
class Prediction:
    """Per-label probabilities of N frames and the labels whose probability reaches its threshold."""

    probs: np.ndarray  # (N, L) float32
    labels: tuple[str, ...]
    thresholds: np.ndarray  # (L,)

    @property
    def active(self) -> np.ndarray:
        """(N, L) boolean: probability >= the label's threshold."""
        return self.probs >= self.thresholds[None, :]

    @property
    def label_sets(self) -> list[list[str]]:
        """Per frame, the active labels in vocabulary order."""
        return [[lab for lab, on in zip(self.labels, row, strict=True) if on] for row in self.active]

    def scores(self, i: int = 0) -> dict[str, float]:
        """Frame ``i``'s probabilities as ``{label: p}``."""
        return {lab: float(p) for lab, p in zip(self.labels, self.probs[i], strict=True)}

    def __len__(self) -> int:
        return len(self.probs)


def _as_list(images) -> list:
    if isinstance(images, (str, Path, Image.Image)):
        return [images]
    if isinstance(images, np.ndarray):
        return list(images) if images.ndim == 4 else [images]
    return list(images)


DEFAULT_BATCH_SIZE = 32


@dataclass
class BatchOutput:
    """What one forward pass over a batch of crops gives every view: probabilities, the crops the model
    saw and, when asked for, the attention maps of every layer."""

    probs: np.ndarray  # (B, L)
    crops: torch.Tensor  # (B, 3, S, S) uint8, on the CPU
    maps: list[AttentionMaps] | None = None  # one per layer, with maps=True
    x: torch.Tensor | None = None  # (B, 3, S, S) normalised input on the device, with maps=True
    logits: np.ndarray | None = None  # (B, L) float32
    features: np.ndarray | None = None  # (B, D) float32: the pooled feature the classifier head sees

    def image(self, i: int) -> np.ndarray:
        """Crop ``i`` as an (S, S, 3) uint8 RGB array."""
        return self.crops[i].permute(1, 2, 0).numpy()


class Predictor:
    """Run a checkpoint on frames.

    ``Predictor("demo/weights/diff")(["a.png", pil_image, array])`` returns a :class:`Prediction`.
    Device "auto" picks cuda > mps > cpu; ``precision="auto"`` uses bf16 autocast on CPUs with AMX or
    AVX512-BF16 and bf16/fp16 on CUDA, fp32 elsewhere; "fp32", "bf16" or "fp16" force one.
    ``.precision`` says which one runs.
    """

    def __init__(
        self,
        checkpoint: str | Path | DiffCLIPClassifier,
        device: str | torch.device = "auto",
        batch_size: int = DEFAULT_BATCH_SIZE,
        precision: str = "auto",
        thresholds: Sequence[float] | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.ood: OODStats | None = None
        self.ood_missing: str | None = NO_STATS  # why there is no out-of-distribution check
        if isinstance(checkpoint, DiffCLIPClassifier):
            self.model, self.config = checkpoint, {"thresholds": None}
        else:
            self.model, self.config = load_checkpoint(checkpoint)
            try:
                self.ood, self.ood_missing = load_ood(checkpoint_directory(checkpoint), self.config)
            except ValueError as exc:  # stale or broken statistics: predict anyway, say why there is no check
                log.warning("%s", exc)
                self.ood_missing = f"no out-of-distribution check: {exc}"
        self.model = self.model.to(self.device).eval()
        self.labels = self.model.labels
        given = thresholds if thresholds is not None else self.config.get("thresholds")
        if given is None:
            given = [0.5] * len(self.labels)
        elif isinstance(given, dict):
            given = [given[lab] for lab in self.labels]
        self.thresholds = np.asarray(given, dtype=np.float32)
        if self.thresholds.shape != (len(self.labels),):
            raise ValueError(f"{len(self.thresholds)} thresholds for {len(self.labels)} labels")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.amp_dtype = autocast_dtype(self.device, precision)
        self.precision = precision_name(self.amp_dtype)
        self.pre: Preprocess = self.model.config.preprocess  # the checkpoint's, read back on load
        # forward passes share the model; a method that hooks or swaps modules takes it alone
        self.lock = ModelLock()
        keep_heap_warm()  # batch after batch, the same activations: reuse their memory (diffclip.memory)
        log.info("predictor on %s in %s (precision %s)", self.device, self.precision, precision)

    def crops(self, images: Iterable[ImageLike], map_fn=map, parts: int = 1) -> torch.Tensor:
        """(B, 3, S, S) uint8 crops of ``images``: a channels-last view of one (B, S, S, 3) buffer that
        each image is decoded into. ``map_fn`` (``map``, or a thread pool's ``map``) runs ``parts``
        decoders, each over every ``parts``-th image: one task per thread rather than per image."""
        images = list(images)
        size = self.pre.image_size
        buffer = np.empty((len(images), size, size, 3), dtype=np.uint8)

        def decode(part: int) -> None:
            for i in range(part, len(images), parts):
                self.pre.crop_into(images[i], buffer[i])

        for _ in map_fn(decode, range(parts)):  # drains the map, re-raising a decoder's error here
            pass
        return torch.from_numpy(buffer).permute(0, 3, 1, 2)

    def _normalize(self, crops: torch.Tensor) -> torch.Tensor:
        """A (B, 3, S, S) uint8 batch moved to the device (4x less to move than floats) and normalised
        there: the model's input."""
        return self.pre.normalize_uint8(crops.to(self.device, non_blocking=True))

    def run(self, crops: torch.Tensor, maps: bool = False) -> BatchOutput:
        """One forward pass over a (B, 3, S, S) uint8 batch of crops, in this predictor's precision:
        the one route by which the pipeline, the frames view and the clip view run the model."""
        x = self._normalize(crops)
        probs, recorded, logits, feats = self._forward(x, maps)
        return BatchOutput(probs, crops.cpu(), recorded, x if maps else None, logits, feats)

    @torch.inference_mode()
    def _forward(self, x: torch.Tensor, maps: bool = False):
        """Probabilities, the maps (with ``maps``, else None), logits and pooled features of a normalised
        batch, in this predictor's precision."""
        with self.lock.shared(), autocast(self.device, self.amp_dtype):
            out = self.model(x, return_attention=maps, return_features=True)
        logits, feats = out[0].float(), out[-1].float()
        recorded = out[1] if maps else None
        return torch.sigmoid(logits).cpu().numpy(), recorded, logits.cpu().numpy(), feats.cpu().numpy()

    def ood_of(self, out: BatchOutput) -> list[OODResult]:
        """Per frame of a forward pass, whether it looks like a training frame (:mod:`diffclip.ood`);
        ``in_distribution`` is None, with the reason, when the checkpoint has no statistics."""
        if self.ood is None:
            return [OODResult(None, None, None, [self.ood_missing or NO_STATS]) for _ in range(len(out.probs))]
        return self.ood.check(out.features, out.logits, tensor_crops(out.crops), out.probs, self.thresholds,
                              self.labels)

    def _batches(self, images: list, progress: bool) -> Iterator[np.ndarray]:
        """Probabilities batch by batch, holding at most one batch of decoded images."""
        from tqdm.auto import tqdm

        starts = range(0, len(images), self.batch_size)
        for s in tqdm(starts, desc="predict", unit="batch", disable=not progress or len(starts) < 2):
            yield self.run(self.crops(images[s:s + self.batch_size])).probs

    def predict(self, images, progress: bool = False) -> Prediction:
        """Probabilities and thresholded labels for one image or a sequence of images (paths, PIL images,
        arrays), batch by batch: the convenience over :meth:`crops` and :meth:`run`, which are the one route
        (a progress bar on the terminal with ``progress``)."""
        items = _as_list(images)
        if not items:
            raise ValueError("no images given")
        probs = np.concatenate(list(self._batches(items, progress)), axis=0)
        return Prediction(probs=probs, labels=self.labels, thresholds=self.thresholds)

    __call__ = predict
