"""The one MP4 writer: browser-playable H.264 (yuv420p, faststart) with PyAV, written atomically."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .atomic import atomic_path


def write_mp4(frames: Iterable[np.ndarray], path: str | Path, fps: float, crf: int = 20,
              comment: str | None = None) -> Path:
    """Encode (H, W, 3) uint8 RGB frames as H.264. One encoder thread, so that the bitstream does not
    depend on scheduling (it can still differ between CPUs: compare decoded frames, not bytes)."""
    import av

    path = Path(path)
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = None
            for rgb in frames:
                if stream is None:
                    stream = container.add_stream("libx264", rate=max(1, round(fps)))
                    stream.height, stream.width = rgb.shape[:2]
                    stream.pix_fmt = "yuv420p"
                    stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1"}
                    if comment:
                        container.metadata["comment"] = comment
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                container.mux(stream.encode(frame))
            if stream is None:
                raise ValueError(f"{path}: no frames to encode")
            container.mux(stream.encode(None))
    return path
