"""What a video file holds, read from its packets' timestamps rather than from the container's header: how many
frames, when each is shown, whether the frame rate varies, how the picture is to be turned.

A container's ``average_rate`` is a guess for variable-frame-rate files (Matroska reports 25 frames/s for 30
frames spread over 11 s), and ``duration x rate`` then promises frames the file does not have. The packets'
presentation timestamps are what a player uses: demuxing them reads no pixels, so it is cheap even for long
videos (docs/design.md, "Videos of any shape").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: Frame intervals that differ from their median by more than this share make a video "variable frame rate".
VARIABLE_TOLERANCE = 0.1


@dataclass(frozen=True)
class VideoFacts:
    """A video stream's frames and their presentation times (seconds, in presentation order)."""

    fps: float | None  # frames per second: the container's rate, or frames over duration when that varies
    frames: int | None  # frames in the file
    duration: float | None  # seconds from the first frame's start to the last frame's end
    times: np.ndarray | None = None  # (frames,) presentation time of each frame; None when unknown
    variable: bool = False  # the frame intervals vary (see VARIABLE_TOLERANCE)
    rotation: int = 0  # degrees counter-clockwise that a player turns the picture (display matrix)
    header_frames: int | None = None  # the frame count the container's header states, where it states one

    @property
    def promised(self) -> int | None:
        """Frames the file says it holds: its header's count where it has one (a truncated file promises more
        than it has), else the packets counted."""
        return max(self.header_frames or 0, self.frames or 0) or self.frames

    def seconds(self, frame: float | np.ndarray) -> float | np.ndarray:
        """Presentation time of (fractional) frame numbers: interpolated between the frames' timestamps, or
        ``frame / fps`` without them. Seconds from the first frame."""
        if self.times is not None and len(self.times) > 1:
            # frame n starts at its timestamp; the frame after the last one, at the end of the file
            numbers = np.arange(len(self.times) + 1, dtype=float)
            starts = np.r_[self.times, self.times[0] + (self.duration or 0.0)] - self.times[0]
            return np.interp(frame, numbers, starts)
        if self.fps:
            return np.asarray(frame, dtype=float) / self.fps
        return np.full(np.shape(frame), np.nan) if np.ndim(frame) else float("nan")


def read_video_facts(path: str | Path) -> VideoFacts:
    """Scan ``path``'s first video stream's packets (no decoding but the first frame's, for its rotation).
    Raises ``ValueError`` for a file PyAV cannot open or one without a video stream; a file cut short gives
    the packets read before the cut."""
    import av

    path = Path(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"{path.name} has no video stream")
            stream = container.streams.video[0]
            base, header = stream.time_base, stream.frames or None
            header_rate = float(stream.average_rate) if stream.average_rate else None
            pts, last_duration = [], None
            try:
                for packet in container.demux(stream):
                    if packet.size == 0 or packet.pts is None:  # the flush packet at the end, or no timestamp
                        continue
                    pts.append(int(packet.pts))
                    if packet.duration:
                        last_duration = float(packet.duration * base)
            except av.error.FFmpegError as exc:  # cut short: what was read stands, the decoder will warn
                log.info("%s: demuxing stopped after %d packets (%s)", path.name, len(pts), exc)
        rotation = first_frame_rotation(path)
    except av.error.FFmpegError as exc:
        raise ValueError(f"{path.name} is not a readable video ({exc})") from None
    if not pts:
        return VideoFacts(header_rate, 0, 0.0, np.zeros(0), False, rotation, header)
    times = np.array(sorted(set(pts)), dtype=float) * float(base)  # presentation order (B-frames reorder)
    steps = np.diff(times)
    step = float(np.median(steps)) if len(steps) else (last_duration or (1 / header_rate if header_rate else 0.0))
    variable = bool(len(steps) > 1 and np.abs(steps - step).max() > VARIABLE_TOLERANCE * step)
    duration = float(times[-1] - times[0]) + (last_duration or step)
    fps = len(times) / duration if (variable or header_rate is None) and duration > 0 else header_rate
    return VideoFacts(fps, len(times), duration, times, variable, rotation, header)


def first_frame_rotation(path: str | Path) -> int:
    """Counter-clockwise degrees (0, 90, 180 or 270) that a player turns ``path``'s pictures, from the first
    decoded frame's display matrix (0 when there is none or nothing decodes)."""
    import av

    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                return int(round((frame.rotation or 0) / 90.0)) * 90 % 360
    except av.error.FFmpegError:
        return 0
    return 0


def upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """``rgb`` turned as a player shows it: ``rotation`` degrees counter-clockwise (a multiple of 90)."""
    k = (int(round(rotation / 90.0))) % 4
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb
