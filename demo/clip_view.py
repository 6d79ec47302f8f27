"""Clip view logic: sample a clip, predict every sampled frame with its attention, derive events, and
write the downloads (RARE-VISION JSON, per-frame CSV, H.264 overlay MP4, timeline PNG)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from diffclip.atomic import write_json
from diffclip.events import events_document
from diffclip.inference import Predictor
from diffclip.memory import trim_heap
from diffclip.mp4 import write_mp4
from diffclip.pipeline import batches, probability_rows, video_result
from diffclip.timeline import save_timeline
from diffclip.video import Sampling, video_source
from explain.maps import cls_map
from explain.overlay import overlay

from .resources import MAX_CLIP_FRAMES, MAX_CLIP_SECONDS
from .sessions import FOLDERS


@dataclass
class ClipResult:
    video_id: str
    frames: np.ndarray  # frame numbers
    times: np.ndarray
    images: list[Path]  # PNGs of the crops the model saw (on disk: a session keeps paths, not pixels)
    probs: np.ndarray
    active: np.ndarray
    events: list[dict]
    scored: list[dict]
    files: dict[str, Path]
    warnings: list[str] = field(default_factory=list)  # e.g. a truncated file
    folder: Path | None = None  # where the files are; removed with the session (demo.sessions)

    def image(self, i: int) -> np.ndarray:
        """Sampled crop ``i`` as (S, S, 3) uint8 RGB."""
        return _read_rgb(self.images[i])


def clip_duration(path: str | Path) -> float | None:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None:
            return float(stream.duration * stream.time_base)
        return float(container.duration / 1_000_000) if container.duration else None


def check_clip(path: str | Path | None) -> Path:
    """Plain errors for a missing, corrupt or over-long clip."""
    if not path:
        raise ValueError("no clip given: upload an MP4, AVI, MKV or WebM video")
    path = Path(path)
    try:
        source = video_source(path)
        duration = clip_duration(path)
    except (ValueError, IndexError):
        raise ValueError(f"{path.name} is not a readable video (corrupt file or unsupported format)") from None
    if duration is not None and duration > MAX_CLIP_SECONDS:
        raise ValueError(f"{path.name} lasts {duration:.0f} s; the demo takes clips up to {MAX_CLIP_SECONDS:.0f} s "
                         "(use `diffclip predict` for whole videos)")
    if source.estimate == 0:
        raise ValueError(f"{path.name} has no frames")
    return path


def analyse_clip(predictor: Predictor, path: str | Path, fps: float, max_frames: int,
                 progress: Callable[[float, str], None] | None = None, out_dir: str | Path | None = None,
                 overlay_alpha: float = 0.45, session: str | None = None) -> ClipResult:
    """Predict the sampled frames of a clip (with attention for the overlay video) and write the downloads
    and the sampled crops into ``out_dir`` (default: a new folder of ``session``, see demo.sessions)."""
    path = check_clip(path)
    trim_heap()  # what earlier analyses freed goes back to the system (see diffclip.memory)
    if out_dir is not None:
        return _analyse_into(Path(out_dir), predictor, path, fps, max_frames, progress, overlay_alpha)
    with FOLDERS.filling(session) as out:
        return _analyse_into(out, predictor, path, fps, max_frames, progress, overlay_alpha)


def _analyse_into(out: Path, predictor: Predictor, path: Path, fps: float, max_frames: int, progress,
                  overlay_alpha: float) -> ClipResult:
    max_frames = int(min(max_frames, MAX_CLIP_FRAMES))
    source = video_source(path, Sampling(fps=float(fps), max_frames=max_frames), video_id=path.stem)
    total = source.estimate or max_frames
    (out / "frames").mkdir(parents=True, exist_ok=True)
    numbers, times, images, probs, heat = [], [], [], [], []
    try:
        # the pipeline's batching and the Predictor's one forward pass; only the maps are extra here
        for nums, ts, crops in batches(predictor, source, workers=0):
            batch = predictor.run(crops, maps=True)
            probs.append(batch.probs)
            heat.extend(cls_map(batch.maps, -1, None, batch.maps[-1].semantics.shown))
            images.extend(_write_rgb(out / "frames" / f"frame_{int(n):06d}.png", batch.image(i))
                          for i, n in enumerate(nums))
            numbers.extend(nums)
            times.extend(ts)
            if progress is not None:
                progress(min(1.0, len(numbers) / max(total, 1)), f"{len(numbers)} frames")
    except ValueError as exc:
        raise ValueError(f"{path.name}: {exc}") from None
    if not numbers:
        raise ValueError(f"{path.name}: no frames could be decoded")
    res = video_result(predictor, path.stem, numbers, times, np.concatenate(probs))
    frames, probs_arr, active = res.frames, res.probs, res.active
    stem = path.stem
    files = {
        "events": write_json(out / f"{stem}_events.json", events_document({stem: res.events}), indent=1),
        "probs": _write_probs(out / f"{stem}_probs.csv", stem, frames, probs_arr, predictor.labels),
        "timeline": save_timeline(out / f"{stem}_timeline.png", frames, probs_arr, predictor.thresholds, active,
                                  predictor.labels, title=f"clip {stem}"),
        "overlay": _write_overlay_mp4(out / f"{stem}_overlay.mp4", images, heat, active, predictor.labels, fps,
                                      overlay_alpha, diverging=predictor.model.attention_semantics.signed),
    }
    return ClipResult(stem, frames, res.times, images, probs_arr, active, res.events, res.scored_events, files,
                      list(source.warnings), out)


def _write_rgb(path: Path, rgb: np.ndarray) -> Path:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path.name}")
    return path


def _read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("this clip's frames are gone (the session expired): analyse the clip again")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _write_probs(path: Path, video_id: str, frames, probs, labels) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["video_id", "frame", *labels])
        writer.writerows(probability_rows(video_id, frames, probs))
    return path


def _write_overlay_mp4(path: Path, images, heat, active, labels, fps: float, alpha: float,
                       diverging: bool) -> Path:
    """H.264 (yuv420p) MP4 that browsers play: each sampled frame with the last layer's attention and
    its labels after the temporal post-processing (the same ones as the events and the timeline)."""
    def frames():
        for img_path, h, row in zip(images, heat, active, strict=True):
            img = _read_rgb(img_path)
            size = img.shape[0] * 2  # upscale for legibility
            frame = cv2.resize(overlay(img, h, alpha, diverging=diverging), (size, size),
                               interpolation=cv2.INTER_LINEAR)
            on = [lab for lab, is_on in zip(labels, row, strict=True) if is_on]
            for k, text in enumerate(on[:4]):
                cv2.putText(frame, text, (8, 22 + 20 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
                cv2.putText(frame, text, (8, 22 + 20 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1,
                            cv2.LINE_AA)
            yield frame

    return write_mp4(frames(), path, fps, crf=23)


def events_rows(result: ClipResult, labels) -> list[list]:
    """Rows for the events table: start, end, sampled frames, and each label with its mean probability."""
    labels = list(labels)
    rows = []
    for ev in result.events:
        sel = (result.frames >= ev["start"]) & (result.frames <= ev["end"])
        named = [f"{lab} ({result.probs[sel, labels.index(lab)].mean():.2f})" for lab in ev["label"]]
        rows.append([ev["start"], ev["end"], int(sel.sum()), ", ".join(named)])
    return rows
