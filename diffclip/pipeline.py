"""Whole-video inference: frames stream from a source through the decoder and preprocessor into the
model, then the temporal post-processing turns probabilities into events."""

from __future__ import annotations

import contextlib
import csv
import itertools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .atomic import atomic_path
from .backbones import Preprocess
from .events import label_events, label_set_events
from .inference import Predictor
from .memory import TRIM_EVERY_BATCHES, trim_heap
from .postprocess import DEFAULT_POSTPROCESS, PostProcess, postprocess
from .prefetch import prefetch
from .video import Frame, FrameSource

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
    # kept only when asked (``extras``: error analysis), so that `diffclip predict` does no work for them:
    #: (N,) True where the out-of-distribution check flags the frame (diffclip.ood; False without statistics)
    flagged: np.ndarray | None = None
    #: (N,) mean of the crop's pixels in [0, 1] (error analysis slices frames by it)
    brightness: np.ndarray | None = None
    #: (N, D) float16 pooled features (error analysis: the map and similar frames)
    features: np.ndarray | None = None
    #: (N, gh, gw) float16 attention read from each frame's maps by the caller's ``readout``, when asked
    maps: np.ndarray | None = None


class _CropDataset(torch.utils.data.Dataset):
    """Frames of a folder or image list, loaded as uint8 crops in DataLoader worker processes."""

    def __init__(self, frames: list[Frame], pre: Preprocess) -> None:
        self.frames, self.pre = frames, pre

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int):
        f = self.frames[i]
        crop = np.empty((self.pre.image_size, self.pre.image_size, 3), dtype=np.uint8)
        self.pre.crop_into(f.image, crop)
        return f.number, np.nan if f.time is None else f.time, crop


def _collate(items):
    numbers, times, crops = zip(*items, strict=True)
    return list(numbers), list(times), torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2)


def _crop_batches(predictor: Predictor, source: FrameSource, batch_size: int, map_fn=map, parts: int = 1):
    """(frame numbers, times, uint8 crops) batches of ``source``, crops made by ``parts`` decoders run by
    ``map_fn`` (``map``, or a thread pool's ``map`` to decode a batch on several cores)."""
    frames = iter(source)
    while chunk := list(itertools.islice(frames, batch_size)):
        yield ([f.number for f in chunk], [np.nan if f.time is None else f.time for f in chunk],
               predictor.crops([f.image for f in chunk], map_fn, parts))


def _decoded_between_batches(predictor: Predictor, source: FrameSource, batch_size: int, threads: int):
    with ThreadPoolExecutor(threads, thread_name_prefix="diffclip-decode") as pool:
        yield from _crop_batches(predictor, source, batch_size, pool.map, threads)


def batches(predictor: Predictor, source: FrameSource, workers: int = 0, prefetch_batches: int = 4
            ) -> Iterator[tuple[list[int], list[float], torch.Tensor]]:
    """(frame numbers, times, uint8 crops) batches of ``source``.

    Files on disk (folders, images) are decoded by ``workers`` processes ahead of the model when
    ``workers > 0`` (a GPU does the model's work); with ``workers == 0`` (the CPU does it) they are
    decoded between batches by one thread per torch thread: the model keeps every core busy, and a
    decoder running beside it would take turns with torch's threads, which costs more than it overlaps.
    Video files decode sequentially in one background thread (PyAV uses its own threads).
    """
    if source.kind in ("folder", "images"):
        if workers == 0:
            return _decoded_between_batches(predictor, source, predictor.batch_size, torch.get_num_threads())
        loader = torch.utils.data.DataLoader(
            _CropDataset(list(source), predictor.pre), batch_size=predictor.batch_size,
            num_workers=workers, collate_fn=_collate, pin_memory=predictor.device.type == "cuda",
            prefetch_factor=prefetch_batches, persistent_workers=False,
        )
        return iter(loader)
    return prefetch(_crop_batches(predictor, source, predictor.batch_size), depth=prefetch_batches)


def default_workers(predictor: Predictor, cores: int | None = None) -> int:
    """Decoding processes: none on a CPU-only run (they would take cores from the model; frames are
    decoded between batches instead), one per spare core of ``cores`` (default: the machine's; up to 16) when a
    GPU does the model's work."""
    import os

    return 0 if predictor.device.type == "cpu" else max(1, min(16, (cores or os.cpu_count() or 2) - 1))


def run_source(
    predictor: Predictor,
    source: FrameSource,
    post: PostProcess = DEFAULT_POSTPROCESS,
    csv_writer=None,
    bar: tqdm | None = None,
    workers: int | None = None,
    extras: bool = False,
    readout: Callable | None = None,
) -> VideoResult:
    """Predict every frame of ``source`` (decoded as :func:`batches` says), then post-process; with
    ``extras`` also keep each frame's out-of-distribution flag, brightness and pooled feature (float16), and
    with ``readout`` (a function of a batch's attention maps to a (B, gh, gw) array) what it reads from each
    frame's attention."""
    numbers, times, probs, flagged, brightness, features, read = [], [], [], [], [], [], []
    workers = default_workers(predictor) if workers is None else workers
    for i, (nums, ts, batch) in enumerate(batches(predictor, source, workers)):
        if i % TRIM_EVERY_BATCHES == TRIM_EVERY_BATCHES - 1:
            trim_heap()  # flat memory over long videos (see diffclip.memory)
        out = predictor.run(batch, maps=readout is not None)
        p = out.probs
        if extras:
            flagged.extend(r.in_distribution is False for r in predictor.ood_of(out))
            brightness.append(out.crops.float().mean(dim=(1, 2, 3)).div_(255).numpy())
            features.append(out.features.astype(np.float16))
        if readout is not None:
            read.append(np.asarray(readout(out.maps), np.float16))
        numbers.extend(nums)
        times.extend(ts)
        probs.append(p)
        if csv_writer is not None:
            csv_writer.writerows(probability_rows(source.video_id, nums, p))
        if bar is not None:
            bar.update(len(nums))
    if not probs:
        raise ValueError(f"{source.video_id}: no frames were read")
    result = video_result(predictor, source.video_id, numbers, times, np.concatenate(probs), post)
    if extras:
        result.flagged = np.asarray(flagged, bool)
        result.brightness = np.concatenate(brightness).astype(np.float32)
        result.features = np.concatenate(features)
    result.maps = np.concatenate(read) if readout is not None else None
    return result


def probability_rows(video_id: str, frames, probs: np.ndarray):
    """Rows of the per-frame probabilities CSV: ``video_id, frame, <one column per label>``."""
    return ([video_id, int(n), *(f"{v:.5f}" for v in row)] for n, row in zip(frames, probs, strict=True))


def video_result(predictor: Predictor, video_id: str, frames, times, probs: np.ndarray,
                 post: PostProcess = DEFAULT_POSTPROCESS) -> VideoResult:
    """Post-process one video's per-frame probabilities into label-set and scored per-label events."""
    frames = np.asarray(frames)
    active = postprocess(probs, predictor.thresholds, post)
    return VideoResult(
        video_id, frames, np.asarray(times, dtype=float), probs, active,
        events=label_set_events(active, frames, predictor.labels, extend=True),
        scored_events=label_events(active, probs, frames, predictor.labels, extend=True),
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
    workers: int | None = None,
    extras: bool = False,
    readout: Callable | None = None,
) -> tuple[list[VideoResult], RunStats]:
    """Run every source; optionally stream per-frame probabilities to ``probs_csv``
    (``video_id, frame, <labels>``)."""
    total = sum(s.estimate or 0 for s in sources) or None
    bar = tqdm(total=total, unit="frame", desc="predict", disable=not progress, smoothing=0.1)
    results = []
    start = time.perf_counter()
    # written beside its final name and renamed at the end: an interrupted run leaves the old file
    with contextlib.ExitStack() as stack:
        writer = None
        if probs_csv:
            fh = stack.enter_context(open(stack.enter_context(atomic_path(probs_csv)), "w", newline="",
                                          encoding="utf-8"))
            writer = csv.writer(fh)
            writer.writerow(["video_id", "frame", *predictor.labels])
        try:
            for source in sources:
                bar.set_postfix_str(source.video_id)
                results.append(run_source(predictor, source, post, writer, bar, workers, extras, readout))
        finally:
            bar.close()
    seconds = time.perf_counter() - start
    return results, RunStats(sum(len(r.frames) for r in results), seconds)
