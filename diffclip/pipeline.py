"""Whole-video inference: frames stream from a source through a background decoder and preprocessor
into the model, then the temporal post-processing turns probabilities into events."""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .events import DEFAULT_POSTPROCESS, PostProcess, label_events, label_set_events, postprocess
from .images import to_rgb
from .inference import Predictor
from .video import FrameSource, prefetch

log = logging.getLogger(__name__)


@dataclass
class VideoResult:
    """Per-frame probabilities of one video and the events derived from them."""

    video_id: str
    frames: np.ndarray  # (N,) frame numbers
    times: np.ndarray  # (N,) seconds, NaN where unknown
    probs: np.ndarray  # (N, L)
    active: np.ndarray  # (N, L) after post-processing
    events: list[dict] = field(default_factory=list)  # RARE-VISION label-set events
    scored_events: list[dict] = field(default_factory=list)  # per-label events with mean score


def _batches(predictor: Predictor, source: FrameSource, batch_size: int) -> Iterator[tuple[list[int], list, torch.Tensor]]:
    numbers, times, tensors = [], [], []
    for frame in source:
        tensors.append(predictor.transform(to_rgb(frame.image, name=f"{source.video_id} frame {frame.number}")))
        numbers.append(frame.number)
        times.append(np.nan if frame.time is None else frame.time)
        if len(tensors) == batch_size:
            yield numbers, times, torch.stack(tensors)
            numbers, times, tensors = [], [], []
    if tensors:
        yield numbers, times, torch.stack(tensors)


def run_source(
    predictor: Predictor,
    source: FrameSource,
    post: PostProcess = DEFAULT_POSTPROCESS,
    csv_writer=None,
    bar: tqdm | None = None,
    prefetch_batches: int = 4,
) -> VideoResult:
    """Predict every frame of ``source`` (decoding ahead of the model), then post-process."""
    numbers, times, probs = [], [], []
    for nums, ts, batch in prefetch(_batches(predictor, source, predictor.batch_size), depth=prefetch_batches):
        p = predictor.predict_tensor(batch)
        numbers.extend(nums)
        times.extend(ts)
        probs.append(p)
        if csv_writer is not None:
            csv_writer.writerows([source.video_id, n, *(f"{v:.5f}" for v in row)] for n, row in zip(nums, p, strict=True))
        if bar is not None:
            bar.update(len(nums))
    if not probs:
        raise ValueError(f"{source.video_id}: no frames were read")
    probs_arr = np.concatenate(probs)
    frames = np.asarray(numbers)
    active = postprocess(probs_arr, predictor.thresholds, post)
    return VideoResult(
        source.video_id, frames, np.asarray(times, dtype=float), probs_arr, active,
        events=label_set_events(active, frames, predictor.labels),
        scored_events=label_events(active, probs_arr, frames, predictor.labels),
    )


@dataclass
class RunStats:
    frames: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("nan")


def predict_sources(
    predictor: Predictor,
    sources: Sequence[FrameSource],
    post: PostProcess = DEFAULT_POSTPROCESS,
    probs_csv: str | Path | None = None,
    progress: bool = True,
) -> tuple[list[VideoResult], RunStats]:
    """Run every source; optionally stream per-frame probabilities to ``probs_csv``
    (``video_id, frame, <labels>``)."""
    total = sum(s.estimate or 0 for s in sources) or None
    bar = tqdm(total=total, unit="frame", desc="predict", disable=not progress, smoothing=0.1)
    results = []
    start = time.perf_counter()
    fh = open(probs_csv, "w", newline="", encoding="utf-8") if probs_csv else None  # noqa: SIM115
    try:
        writer = csv.writer(fh) if fh else None
        if writer:
            writer.writerow(["video_id", "frame", *predictor.labels])
        for source in sources:
            bar.set_postfix_str(source.video_id)
            results.append(run_source(predictor, source, post, writer, bar))
    finally:
        if fh:
            fh.close()
        bar.close()
    seconds = time.perf_counter() - start
    return results, RunStats(sum(len(r.frames) for r in results), seconds)
