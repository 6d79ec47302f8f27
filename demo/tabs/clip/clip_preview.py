"""A preview of an uploaded clip that the browser can play: the file itself where a browser plays its container
and codec (MP4 or WebM with H.264, VP8, VP9 or AV1), else the first seconds re-encoded as H.264 with PyAV. The
analysis always reads the original file; an unplayable upload never shows the player's red "Error"."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from diffclip.mp4 import write_mp4
from diffclip.video import Sampling, video_source

#: Containers and codecs that Chromium, Firefox and Safari all play in a <video> element.
PLAYABLE = {"mp4": {"h264", "av1"}, "mov,mp4,m4a,3gp,3g2,mj2": {"h264", "av1"}, "webm": {"vp8", "vp9", "av1"},
            "matroska,webm": {"vp8", "vp9", "av1"}}
PREVIEW_SECONDS = 30.0
PREVIEW_SIZE = 360  # pixels on the longer side, at most


@dataclass(frozen=True)
class Preview:
    """What the preview player shows (``path``, or None) and a sentence on what it is."""

    path: Path | None
    note: str


def browser_plays(path: Path) -> bool:
    """True when ``path``'s container (by its name and what PyAV finds) and video codec play in browsers."""
    import av

    if path.suffix.lower() not in {".mp4", ".m4v", ".webm", ".mov"}:
        return False
    try:
        with av.open(str(path)) as container:
            codec, fmt = container.streams.video[0].codec_context.name, container.format.name
    except (av.error.FFmpegError, IndexError):  # unreadable or no video: the analysis will say why
        return False
    return codec in PLAYABLE.get(fmt, set())  # browsers honour an MP4's rotation matrix themselves


def _shrunk(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = min(1.0, PREVIEW_SIZE / max(h, w))
    # H.264 in yuv420p needs even sides
    size = (max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if size != (w, h) else rgb


def make_preview(path: str | Path, out_dir: Path) -> Preview:
    """A playable preview of ``path`` in ``out_dir`` (or the file itself where browsers play it)."""
    path = Path(path)
    if browser_plays(path):
        return Preview(path, "")
    fps = 10.0
    frames = (_shrunk(f.image) for f in video_source(path, Sampling(fps=fps, max_frames=int(PREVIEW_SECONDS * fps))))
    try:
        preview = write_mp4(frames, out_dir / f"{path.stem}_preview.mp4", fps, crf=28)
    except (ValueError, OSError) as exc:
        return Preview(None, f"No preview of {path.name}: {exc}. The analysis reads the file itself and works "
                             "without one.")
    return Preview(preview, f"Preview of {path.name} re-encoded for the browser (its container or codec does not "
                            f"play in browsers): at most the first {PREVIEW_SECONDS:.0f} s at {fps:.0f} frames/s. "
                            "The analysis reads the original file.")
