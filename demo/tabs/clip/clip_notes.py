"""What a clip analysis covered, said plainly: the part of the video analysed (and what cut it), the
sampling rate actually used, and the temporal post-processing in its one unit (sampled frames)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffclip.events import typical_step
from diffclip.postprocess import DEFAULT_POSTPROCESS, PostProcess
from diffclip.video_facts import VideoFacts


@dataclass(frozen=True)
class Coverage:
    """The sampled frames' numbers and times, and what the video and the request were."""

    frames: np.ndarray  # sampled frame numbers
    times: np.ndarray  # their times in seconds (NaN where unknown)
    video_fps: float | None  # the video's own frame rate
    frame_count: int | None  # frames in the video
    duration: float | None  # seconds
    requested_fps: float | None
    max_frames: int
    video: VideoFacts | None = None  # the file's own frame timestamps (diffclip.video_facts)

    @property
    def variable(self) -> bool:
        return bool(self.video is not None and self.video.variable)

    @property
    def clock(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Frame numbers and their seconds for a variable-frame-rate video's timeline (None: ``frame / fps``)."""
        if not self.variable or self.video.times is None:
            return None
        return np.arange(len(self.video.times)), self.video.times - self.video.times[0]

    def seconds(self, frame: float) -> float | None:
        """Seconds from the video's first frame to (fractional) frame number ``frame``: by the file's
        timestamps, or frame / fps; None when neither is known."""
        if self.video is not None:
            seconds = float(self.video.seconds(frame))  # NaN when the file says neither
            return seconds if np.isfinite(seconds) else None
        return frame / self.video_fps if self.video_fps else None

    @property
    def step(self) -> float:
        """Typical distance between two sampled frames, in video frames."""
        return typical_step(self.frames)

    @property
    def last_frame(self) -> int:
        """The last video frame the analysis stands for: the last sample covers up to the next one."""
        last = int(self.frames[-1] + round(self.step) - 1)
        return min(last, self.frame_count - 1) if self.frame_count else last

    @property
    def sampled_fps(self) -> float | None:
        """Sampled frames per second of video, as used (not as asked)."""
        if self.variable:  # frames are not evenly spaced in time: count them over the seconds they span
            span = self.seconds(self.last_frame + 1) - self.seconds(self.frames[0])
            return len(self.frames) / span if span > 0 else None
        if self.video_fps:
            return self.video_fps / self.step
        t = self.times[np.isfinite(self.times)]
        return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else None

    @property
    def analysed_seconds(self) -> float | None:
        """Seconds of video the analysis covers (from its first sampled frame)."""
        start, end = self.seconds(self.frames[0]), self.seconds(self.last_frame + 1)
        return None if start is None or end is None else end - start

    @property
    def capped(self) -> bool:
        """True when the frame cap, not the video's end, stopped the analysis."""
        return len(self.frames) >= self.max_frames and self.frame_count is not None and \
            self.last_frame < self.frame_count - 1


def _s(seconds: float) -> str:
    """Seconds with one decimal, two below one second (a one-frame clip lasts 0.04 s, not "0.0 s")."""
    return f"{seconds:.2f}" if 0 < abs(seconds) < 1 else f"{seconds:.1f}"


def coverage_note(c: Coverage) -> str:
    """"Analysed 0-10.0 s of 10.0 s (frames 0-99 of 100) ...", saying what stopped it when it is short."""
    n = len(c.frames)
    start = c.seconds(c.frames[0])
    if start is not None and c.duration and c.analysed_seconds is not None:
        span = f"{_s(start)}-{_s(start + c.analysed_seconds)} s of {_s(c.duration)} s"
    else:
        span = f"frames {int(c.frames[0])}-{c.last_frame}"
    frames = f"frames {int(c.frames[0])}-{c.last_frame}" + (f" of {c.frame_count}" if c.frame_count else "")
    text = f"Analysed {span} ({frames}; {n} sampled frame{'s' if n != 1 else ''})."
    if c.capped:
        text = (f"**Analysed only {span}** ({frames}): the cap of {c.max_frames} frames stopped the analysis. "
                "Raise \"At most this many frames\" or lower the rate to cover the rest; the hatched part of the "
                "timeline was not looked at.")
    elif c.frame_count and c.last_frame < c.frame_count - 1 - c.step:
        text = (f"**Analysed only {span}** ({frames}): the video ended early; its header promised "
                f"{c.frame_count} frames.")
    if n == 1:
        text += " One frame: its scores stand alone; events need a run of frames (below)."
    if c.video is not None and c.video.rotation:
        text += f" The video's metadata turns it {c.video.rotation}° counter-clockwise, and so did the analysis."
    return text


def rate_note(c: Coverage) -> str:
    """The sampling rate used, and why it differs from the one asked for."""
    used = c.sampled_fps
    if used is None or len(c.frames) == 1:  # one frame has no rate
        return ""
    if c.variable:
        v = c.video
        return (f"**Variable frame rate**: {v.frames} frames over {v.duration:.1f} s (about {v.fps:.2g} frames/s, "
                f"unevenly spaced); {len(c.frames)} sampled, about {used:.2g} frames/s. The timeline's seconds are "
                "the file's own timestamps.")
    if c.requested_fps and c.video_fps and c.requested_fps > c.video_fps + 1e-6:
        return (f"**You asked for {c.requested_fps:g} frames/s, but the video has only {c.video_fps:g}**: every "
                f"frame was analysed ({c.video_fps:g} frames/s).")
    gap = f"one every {1 / used:.2f} s" if used > 0 else ""
    return f"Sampled {used:.2g} frames/s ({gap}) of a {c.video_fps:g} frames/s video." if c.video_fps else \
        f"Sampled about {used:.2g} frames/s."


def postprocess_note(c: Coverage, post: PostProcess = DEFAULT_POSTPROCESS) -> str:
    """The temporal post-processing in sampled frames, and what that is in seconds here."""
    used = c.sampled_fps
    secs = post.seconds(used) if used else None
    def part(frames: int, key: str) -> str:
        return f"{frames} sampled frames" + (f" ({secs[key]:.1f} s here)" if secs else "")
    return (f"Events: per label, threshold, then a median filter over {part(post.median_window, 'median_window')}, "
            f"runs shorter than {part(post.min_length, 'min_length')} dropped, gaps of at most "
            f"{part(post.max_gap, 'max_gap')} filled. The unit is the sampled frame, as for `diffclip predict "
            "--median-window/--min-length/--max-gap`: sampling more densely shortens these windows in seconds.")


def clip_notes(c: Coverage, post: PostProcess = DEFAULT_POSTPROCESS) -> str:
    """The three notes as one Markdown block."""
    return "\n\n".join(filter(None, (coverage_note(c), rate_note(c), postprocess_note(c, post))))
