"""Frame sources for whole-video inference: video files through PyAV, frame folders (Galar and
challenge layouts) and loose images, streamed so that memory stays bounded on 100,000+ frame videos.

Every source yields :class:`Frame` items with the frame's number in the original video (so events
refer to real frame numbers whatever the sampling) and, for video files, its presentation time.
:func:`diffclip.prefetch.prefetch` runs a source (decoding and preprocessing) in a background thread,
ahead of the model; :mod:`diffclip.frame_files` lists frame folders.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .frame_files import frame_folders, has_frames, list_frame_files
from .images import check_pixels
from .video_facts import VideoFacts, read_video_facts, upright

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass
class Frame:
    """One frame: RGB uint8 pixels, its number in the source video and its time in seconds (if known)."""

    video_id: str
    number: int
    image: np.ndarray | Path
    time: float | None = None


@dataclass
class Sampling:
    """Which frames to keep: every ``stride``-th, or about ``fps`` per second (video files), at most
    ``max_frames``."""

    stride: int = 1
    fps: float | None = None
    max_frames: int | None = None

    def __post_init__(self) -> None:
        if self.stride < 1:
            raise ValueError(f"stride must be >= 1, got {self.stride}")
        if self.fps is not None and self.fps <= 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {self.max_frames}")


class FrameSource:
    """A named, re-iterable stream of frames with a length estimate (for progress bars)."""

    def __init__(self, video_id: str, kind: str, path: Path | None, iterate: Callable[[], Iterator[Frame]],
                 estimate: int | None, warnings: list[str] | None = None, facts: VideoFacts | None = None) -> None:
        self.video_id, self.kind, self.path = video_id, kind, path
        self._iterate = iterate
        self.estimate = estimate
        self.warnings: list[str] = warnings if warnings is not None else []  # filled while iterating
        self.facts = facts  # a video file's packets and timestamps (diffclip.video_facts); None otherwise

    def __iter__(self) -> Iterator[Frame]:
        return self._iterate()

    def __repr__(self) -> str:
        return f"FrameSource({self.video_id!r}, {self.kind}, ~{self.estimate} frames)"


def video_source(path: str | Path, sampling: Sampling | None = None, video_id: str | None = None,
                 facts: VideoFacts | None = None) -> FrameSource:
    """Frames of a video file (MP4, AVI, MKV, WebM...) decoded with PyAV. ``facts`` from an earlier
    :func:`read_video_facts` of the same file spare a second scan of its packets."""
    import av

    path = Path(path)
    sampling = sampling or Sampling()
    if not path.is_file():
        raise FileNotFoundError(f"video file {path} does not exist")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"{path} has no video stream")
            stream = container.streams.video[0]
            check_pixels(stream.codec_context.width or 0, stream.codec_context.height or 0,
                         f"{path.name} (video frames)")
    except av.error.FFmpegError as exc:
        raise ValueError(f"{path} is not a readable video ({exc})") from None
    # counted from the packets, not duration x the header's rate: that guess is wrong for variable rates
    facts = facts or read_video_facts(path)
    count, rate = facts.promised or None, facts.fps
    estimate = count
    if count and sampling.fps and rate:
        estimate = max(1, int(count * min(1.0, sampling.fps / rate)))
    elif count:
        estimate = -(-count // sampling.stride)
    if sampling.max_frames:
        estimate = min(estimate or sampling.max_frames, sampling.max_frames)

    warnings: list[str] = []

    def iterate() -> Iterator[Frame]:
        kept, next_time, decoded = 0, None, 0
        warnings.clear()
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            try:
                for number, frame in enumerate(container.decode(stream)):
                    decoded = number + 1
                    t = float(frame.pts * stream.time_base) if frame.pts is not None else None
                    if sampling.fps is not None and t is not None:
                        if next_time is not None and t < next_time - 1e-6:
                            continue
                        # after a jump in timestamps (variable frame rate), restart the grid here
                        if next_time is None or t - next_time > 1.0 / sampling.fps:
                            next_time = t
                        next_time += 1.0 / sampling.fps
                    elif number % sampling.stride:
                        continue
                    # turned as a player turns it (a phone's portrait clip, a rotated capsule export)
                    image = upright(frame.to_ndarray(format="rgb24"), frame.rotation or 0)
                    yield Frame(video_id or path.stem, number, image, t)
                    kept += 1
                    if sampling.max_frames and kept >= sampling.max_frames:
                        return
            except av.error.FFmpegError as exc:
                raise ValueError(f"{path}: decoding failed after {kept} frames ({exc})") from None
        if count and decoded < count - max(1, count // 50):  # the container promised more frames
            message = f"{path.name}: decoded {decoded} of {count} frames; the file looks truncated"
            log.warning(message)
            warnings.append(message)

    return FrameSource(video_id or path.stem, "video", path, iterate, estimate, warnings, facts)


def folder_source(folder: str | Path, sampling: Sampling | None = None, video_id: str | None = None) -> FrameSource:
    """Frames of a frame folder (Galar ``frame_000123.PNG`` or challenge ``frame_0000049.png``).
    The listing holds names only; pixels are read as frames are consumed."""
    folder = Path(folder)
    sampling = sampling or Sampling()
    if sampling.fps is not None:
        log.warning("%s: frame folders have no timestamps; --fps is ignored (use --stride)", folder)
    files = list_frame_files(folder)
    if not files:
        raise ValueError(f"{folder} holds no frame_<number>.png files")
    chosen = files[:: sampling.stride][: sampling.max_frames]

    def iterate() -> Iterator[Frame]:
        for number, path in chosen:
            yield Frame(video_id or folder.name, number, path)

    return FrameSource(video_id or folder.name, "folder", folder, iterate, len(chosen))


def images_source(paths: Iterable[str | Path], video_id: str = "images") -> FrameSource:
    """Loose images, numbered 0, 1, 2... in the given order."""
    paths = [Path(p) for p in paths]
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"image file {p} does not exist")

    def iterate() -> Iterator[Frame]:
        for number, p in enumerate(paths):
            yield Frame(video_id, number, p)

    return FrameSource(video_id, "images", None, iterate, len(paths))


def _sources_in(folder: Path, sampling: Sampling) -> list[FrameSource]:
    """The frame folders and video files directly in ``folder``, by name."""
    entries = [(name, folder_source(path, sampling)) for name, path in frame_folders(folder, (), False).items()]
    entries += [(child.name, video_source(child, sampling)) for child in folder.iterdir()
                if child.is_file() and child.suffix.lower() in VIDEO_SUFFIXES]
    return [source for _, source in sorted(entries, key=lambda e: e[0])]


def discover_sources(inputs: Iterable[str | Path], sampling: Sampling | None = None) -> list[FrameSource]:
    """Turn command-line inputs into frame sources: a video file is one source; a folder of frames is
    one; a folder of frame folders (a Galar or challenge root) or of videos gives one per entry; loose
    image files together form one source named "images"."""
    sampling = sampling or Sampling()
    sources: list[FrameSource] = []
    loose: list[Path] = []
    for item in map(Path, inputs):
        if not item.exists():
            raise FileNotFoundError(f"input {item} does not exist")
        if not item.is_file() and not item.is_dir():  # a device or a FIFO: it would be read forever
            raise ValueError(f"input {item} is not a regular file or a folder (a device or a FIFO?)")
        if item.is_file():
            suffix = item.suffix.lower()
            if suffix in VIDEO_SUFFIXES:
                sources.append(video_source(item, sampling))
            elif suffix in IMAGE_SUFFIXES:
                loose.append(item)
            else:
                raise ValueError(f"{item}: not a video ({', '.join(sorted(VIDEO_SUFFIXES))}) or image file")
            continue
        if has_frames(item):
            sources.append(folder_source(item, sampling))
            continue
        found = _sources_in(item, sampling)
        if not found:  # some Galar extractions nest the video folders one level deeper
            for child in sorted(p for p in item.iterdir() if p.is_dir()):
                found.extend(_sources_in(child, sampling))
        if not found:
            raise ValueError(f"{item}: no frames, frame folders or videos inside")
        sources.extend(found)
    if loose:
        sources.append(images_source(loose))
    ids = [s.video_id for s in sources]
    dupes = sorted({v for v in ids if ids.count(v) > 1})
    if dupes:
        raise ValueError(f"two inputs share the video id(s) {dupes}; rename one")
    return sources


