"""Clip view logic: sample a clip, predict every sampled frame with its attention, derive events, and
write the downloads (RARE-VISION JSON, per-frame CSV, H.264 overlay MP4, timeline PNG). With a truth JSON
(demo.tabs.clip.clip_truth) the timeline draws it under the predictions; demo.tabs.clip.clip_notes says what was analysed."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from diffclip.atomic import write_json
from diffclip.events import events_document
from diffclip.images import TooLargeError
from diffclip.inference import Predictor
from diffclip.memory import trim_heap
from diffclip.mp4 import write_mp4
from diffclip.pipeline import batches, probability_rows, video_result
from diffclip.postprocess import ACTIVE_OWN, ACTIVE_SMOOTHED, activity_reasons
from diffclip.timeline import draw_marker, save_timeline
from diffclip.video import Sampling, video_source
from diffclip.video_facts import VideoFacts
from explain.attention_readout import cls_map
from explain.overlay import overlay

from ...captions import draw_lines
from ...resources import MAX_CLIP_FRAMES, MAX_CLIP_SECONDS
from ...scores import flagged_banner
from ...sessions import FOLDERS
from .clip_notes import Coverage, clip_notes
from .clip_truth import ClipScores, ClipTruth, read_truth, score_clip


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
    coverage: Coverage | None = None  # what part of the video, at what rate (demo.tabs.clip.clip_notes)
    truth: ClipTruth | None = None  # the ground truth, when one was given
    #: per sampled frame, whether it looks like a capsule frame (diffclip.ood; None: the model cannot tell)
    in_distribution: list[bool | None] = field(default_factory=list)

    def image(self, i: int) -> np.ndarray:
        """Sampled crop ``i`` as (S, S, 3) uint8 RGB."""
        return _read_rgb(self.images[i])

    def scores(self, labels) -> ClipScores | None:
        """The challenge's temporal AP per label on the analysed frames (None without truth)."""
        if self.truth is None:
            return None
        first = int(self.frames[0])
        last = self.coverage.last_frame if self.coverage is not None else int(self.frames[-1])
        return score_clip(self.truth, self.events, first, last, list(labels))


def check_clip(path: str | Path | None) -> tuple[Path, VideoFacts]:
    """Plain errors for a missing, corrupt or over-long clip; the clip's path and what its container says."""
    if not path:
        raise ValueError("no clip given: upload an MP4, AVI, MKV or WebM video")
    path = Path(path)
    try:
        facts = video_source(path).facts  # opens the stream, checks its size, scans its packets once
    except TooLargeError:  # the same sentence as `diffclip predict` (it names the file, not its folder)
        raise
    except (ValueError, IndexError):
        raise ValueError(f"{path.name} is not a readable video (corrupt file or unsupported format)") from None
    if facts.duration is not None and facts.duration > MAX_CLIP_SECONDS:
        raise ValueError(f"{path.name} lasts {facts.duration:.0f} s; the demo takes clips up to "
                         f"{MAX_CLIP_SECONDS:.0f} s (use `diffclip predict` for whole videos)")
    if not facts.frames:
        raise ValueError(f"{path.name} has no frames: the file holds a video stream but no picture in it")
    return path, facts


def load_truth(truth_file: str | Path | None, path: Path, facts: VideoFacts, labels) -> ClipTruth | None:
    """The clip's truth from a RARE-VISION JSON (None without one); plain errors name the file."""
    if not truth_file:
        return None
    return read_truth(truth_file, path.stem, facts.frames, path.name, list(labels))


def truth_for(result: ClipResult, truth_file: str | Path | None, labels) -> ClipTruth | None:
    """The truth for an analysed clip from a RARE-VISION JSON given afterwards (None without one)."""
    if not truth_file:
        return None
    count = result.coverage.frame_count if result.coverage is not None else None
    return read_truth(truth_file, result.video_id, count, f"clip {result.video_id!r}", list(labels))


def analyse_clip(predictor: Predictor, path: str | Path, fps: float, max_frames: int,
                 progress: Callable[[float, str], None] | None = None, out_dir: str | Path | None = None,
                 overlay_alpha: float = 0.45, session: str | None = None,
                 truth_file: str | Path | None = None) -> ClipResult:
    """Predict the sampled frames of a clip (with attention for the overlay video) and write the downloads
    and the sampled crops into ``out_dir`` (default: a new folder of ``session``, see demo.sessions).
    A ``truth_file`` (RARE-VISION JSON) is checked before any frame is decoded."""
    path, facts = check_clip(path)  # the container is read once: truth and analysis both use its facts
    truth = load_truth(truth_file, path, facts, predictor.labels)
    trim_heap()  # what earlier analyses freed goes back to the system (see diffclip.memory)
    if out_dir is not None:
        return _analyse_into(Path(out_dir), predictor, path, facts, fps, max_frames, progress, overlay_alpha, truth)
    with FOLDERS.filling(session) as out:
        return _analyse_into(out, predictor, path, facts, fps, max_frames, progress, overlay_alpha, truth)


def _analyse_into(out: Path, predictor: Predictor, path: Path, facts: VideoFacts, fps: float, max_frames: int,
                  progress, overlay_alpha: float, truth: ClipTruth | None = None) -> ClipResult:
    max_frames = int(min(max_frames, MAX_CLIP_FRAMES))
    source = video_source(path, Sampling(fps=float(fps), max_frames=max_frames), video_id=path.stem, facts=facts)
    total = source.estimate or max_frames
    (out / "frames").mkdir(parents=True, exist_ok=True)
    numbers, times, images, probs, heat, looks = [], [], [], [], [], []
    try:
        # the pipeline's batching and the Predictor's one forward pass; only the maps are extra here
        for nums, ts, crops in batches(predictor, source, workers=0):
            batch = predictor.run(crops, maps=True)
            probs.append(batch.probs)
            looks.extend(r.in_distribution for r in predictor.ood_of(batch))
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
    coverage = Coverage(frames, res.times, facts.fps, facts.promised, facts.duration, float(fps), max_frames,
                        video=facts)
    files = {
        "events": write_json(out / f"{stem}_events.json", events_document({stem: res.events}), indent=1),
        "probs": _write_probs(out / f"{stem}_probs.csv", stem, frames, probs_arr, predictor.labels),
        "timeline": out / f"{stem}_timeline.png",
        "overlay": _write_overlay_mp4(out / f"{stem}_overlay.mp4", images, heat, active, predictor.labels, fps,
                                      overlay_alpha, diverging=predictor.model.attention_semantics.signed,
                                      frames=frames, times=res.times),
    }
    result = ClipResult(stem, frames, res.times, images, probs_arr, active, res.events, res.scored_events, files,
                        list(source.warnings), out, coverage, truth, looks)
    draw_timeline(result, predictor.thresholds, predictor.labels)
    return result


def draw_timeline(result: ClipResult, thresholds, labels) -> Path:
    """(Re)draw the clip's timeline PNG, with its ground truth when known and without a marker (see
    :func:`timeline_image`); after a new truth file, call it again."""
    cov = result.coverage
    title = f"Clip {result.video_id!r}: per-label probability and predicted events" + \
        (", ground truth in black" if result.truth else "")
    return save_timeline(result.files["timeline"], result.frames, result.probs, thresholds, result.active,
                         list(labels), title=title, truth=result.truth.segments() if result.truth else None,
                         extent=cov.frame_count if cov else None, fps=cov.video_fps if cov else None,
                         marker_legend=True, clock=cov.clock if cov else None)


def timeline_image(result: ClipResult, index: int | None = None) -> np.ndarray:
    """The timeline as an RGB image with the sampled frame ``index`` marked: the drawn PNG plus an orange
    line in pixels (milliseconds, so the marker follows the slider at once)."""
    base = _read_rgb(result.files["timeline"])
    if index is None:
        return base
    cov = result.coverage
    return draw_marker(base, int(result.frames[index]), result.frames, cov.frame_count if cov else None)


def notes(result: ClipResult) -> str:
    """Markdown: what was analysed, at what rate, how events were formed (demo.tabs.clip.clip_notes), and what did
    not match in the truth file."""
    text = clip_notes(result.coverage) if result.coverage is not None else ""
    text = "\n\n".join(filter(None, (ood_summary(result), text)))
    if result.truth is not None:
        text += f"\n\nGround truth: {result.truth.name} ({len(result.truth.events)} events), drawn in black under " \
                "each row of the timeline."
        text += "".join(f"\n\n**Note:** {note}" for note in result.truth.notes)
    return text


def ood_summary(result: ClipResult, named: int = 8) -> str:
    """The Frames tab's banner, for a clip: how many sampled frames do not look like capsule frames, and
    which (the first ``named``); empty when none is flagged."""
    flagged = [str(int(n)) for n, ok in zip(result.frames, result.in_distribution, strict=False) if ok is False]
    return flagged_banner(flagged, len(result.frames), "sampled frames", "frames" if len(flagged) > 1 else "frame",
                          "scores and events of those frames describe pictures the model was not trained on", named)


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


def overlay_legend(diverging: bool, alpha: float = 0.45) -> str:
    """What the overlay video's tint, corner text and bottom line mean (the video itself has no colour bar:
    each frame has its own colour limits, which a bar drawn once could not follow)."""
    if diverging:
        tint = ("the last layer's a1 − λ·a2 (head mean): red where it is positive, blue where negative, white at 0 "
                "(RdBu), the deepest red or blue where it reaches its largest absolute value on that frame")
    else:
        tint = ("the last layer's attention a1 (head mean), black (low) to pale yellow (high) (inferno), from "
                "that frame's lowest to its highest value")
    return (f"**Overlay video:** tint = {tint}, blended at {alpha:.0%} over the frame; each frame on its own "
            "scale, so compare where the colour is, not how strong it is between frames. Top left: the labels "
            "active after the temporal smoothing (as in the events); bottom: the frame's number and time.")


def _write_overlay_mp4(path: Path, images, heat, active, labels, fps: float, alpha: float,
                       diverging: bool, frames=None, times=None) -> Path:
    """H.264 (yuv420p) MP4 that browsers play: each sampled frame with the last layer's attention and
    its labels after the temporal post-processing (the same ones as the events and the timeline), drawn
    once each (demo.captions), and the frame's number and time at the bottom."""
    n = len(images)
    frames = range(n) if frames is None else frames
    times = [float("nan")] * n if times is None else times

    def encoded():
        for img_path, h, row, number, t in zip(images, heat, active, frames, times, strict=True):
            img = _read_rgb(img_path)
            size = img.shape[0] * 2  # upscale for legibility
            frame = cv2.resize(overlay(img, h, alpha, diverging=diverging), (size, size),
                               interpolation=cv2.INTER_LINEAR)
            on = [lab for lab, is_on in zip(labels, row, strict=True) if is_on]
            shown = on[:4] + ([f"+{len(on) - 4} more"] if len(on) > 4 else [])
            when = f"frame {int(number)}" + (f" · {t:.1f} s" if np.isfinite(t) else "")
            # below the corner where a player draws its own label
            yield draw_lines(frame, shown, origin=(8, 30), bottom=when)

    return write_mp4(encoded(), path, fps, crf=23)


EVENT_HEADERS = ["start frame", "end frame", "time (s)", "sampled frames",
                 "active by its own probability: mean (frames at or above threshold)",
                 "active only through smoothing or gap filling: mean < threshold"]


def events_rows(result: ClipResult, labels, thresholds) -> list[list]:
    """Rows for the events table: start, end, time, sampled frames, then each label of the event with its
    mean probability over the event's frames, split by why it is active: by its own probability (on at
    least one frame it reaches its threshold) or only because the median filter or the gap filling
    switched it on (diffclip.postprocess.activity_reasons)."""
    labels = list(labels)
    thresholds = np.asarray(thresholds, dtype=float)
    reasons = activity_reasons(result.probs, thresholds, result.active)
    cov = result.coverage
    rows = []
    for ev in result.events:
        sel = (result.frames >= ev["start"]) & (result.frames <= ev["end"])
        own, smoothed = [], []
        for lab in ev["label"]:
            j = labels.index(lab)
            mean = result.probs[sel, j].mean()
            n_own = int((reasons[sel, j] == ACTIVE_OWN).sum())
            if n_own:
                own.append(f"{lab} {mean:.2f}" + ("" if n_own == sel.sum() else f" ({n_own} of {int(sel.sum())})"))
            elif (reasons[sel, j] == ACTIVE_SMOOTHED).any():
                smoothed.append(f"{lab} {mean:.2f} < {thresholds[j]:.2f}")
        start, end = (cov.seconds(ev["start"]), cov.seconds(ev["end"] + 1)) if cov is not None else (None, None)
        when = f"{start:.1f}-{end:.1f}" if start is not None and end is not None else ""
        rows.append([ev["start"], ev["end"], when, int(sel.sum()), ", ".join(own), ", ".join(smoothed)])
    return rows
