"""Videos of awkward shapes, generated with PyAV for tests/test_video_shapes.py and
scripts/clip_view_screenshots.py: one frame, no decodable frame, a variable frame rate (Matroska), AVI with
MJPEG, and an MP4 whose display matrix turns it 90 degrees."""

from __future__ import annotations

import fractions
from pathlib import Path

import av
import numpy as np

#: 30 presentation times over 11.3 s, unevenly spaced (milliseconds, on the encoder's 40 ms grid): what a
#: phone's variable-rate clip holds
VFR_MS = [0, 40, 200, 320, 1000, 1040, 1520, 2600, 2640, 3000, 3920, 4000, 4800, 5520, 5560, 6000, 6600, 7200,
          7240, 7800, 8320, 8920, 9000, 9520, 9920, 10320, 10720, 10920, 11120, 11280]


def frame_pattern(w: int = 96, h: int = 64) -> np.ndarray:
    """A capsule-like frame: a disc on a dark rim, its left half bright (so that turning it shows)."""
    yy, xx = np.mgrid[:h, :w]
    disc = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (min(h, w) / 2 - 2) ** 2
    img = np.zeros((h, w, 3), np.uint8)
    img[disc] = (150, 70, 60)
    img[disc & (xx < w // 2)] = (230, 170, 150)
    return img


def write_video(path: Path, n: int, fmt: str | None = None, codec: str = "libx264", ms: list[int] | None = None,
                rotation: int = 0, size: tuple[int, int] = (96, 64)) -> Path:
    """``n`` frames into ``path`` with PyAV: at 25 frames/s, or at the presentation times ``ms``."""
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height = size
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if ms is not None:
            stream.time_base = fractions.Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(rotation)
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(frame_pattern(*size), format="rgb24")
            if ms is not None:
                frame.pts, frame.time_base = ms[i], fractions.Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def make_shapes(d: Path) -> dict[str, Path]:
    """Each awkward video in folder ``d``, by name: one, empty, vfr, avi, rotated."""
    d.mkdir(parents=True, exist_ok=True)
    one = write_video(d / "one.webm", 1, codec="libvpx")
    good = write_video(d / "good.mp4", 5)
    empty = d / "empty.mp4"  # the header of an MP4 with its picture data cut away: a stream, no frame
    data = good.read_bytes()
    empty.write_bytes(data[: data.index(b"mdat") + 4])
    return {"one": one, "empty": empty, "vfr": write_video(d / "vfr.mkv", 30, fmt="matroska", ms=VFR_MS),
            "avi": write_video(d / "mjpeg.avi", 12, fmt="avi", codec="mjpeg"),
            "rotated": write_video(d / "rotated.mp4", 6, rotation=90)}
