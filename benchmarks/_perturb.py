"""Benign changes to a frame that must not change the out-of-distribution verdict (issue 26): a JPEG re-encode,
a few grey levels of brightness, a shift by two pixels, and a frame saved larger and resized on load."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np


def jpeg(rgb: np.ndarray, quality: int = 85) -> np.ndarray:
    """Encoded as JPEG at ``quality`` and decoded again (OpenCV's codec, 4:2:0 chroma)."""
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def brightness(rgb: np.ndarray, levels: int) -> np.ndarray:
    """Every channel moved by ``levels`` grey levels, clipped to 0-255."""
    return np.clip(rgb.astype(np.int16) + levels, 0, 255).astype(np.uint8)


def shift(rgb: np.ndarray, pixels: int = 2) -> np.ndarray:
    """Moved ``pixels`` right and down; the uncovered border repeats the edge (dark rim on a capsule frame)."""
    return np.pad(rgb, ((pixels, 0), (pixels, 0), (0, 0)), mode="edge")[: rgb.shape[0], : rgb.shape[1]]


def saved_larger(rgb: np.ndarray, size: int = 256) -> np.ndarray:
    """The frame as a ``size``-pixel file (bicubic): the predictor resizes it back on load."""
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_CUBIC)


PERTURBATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "jpeg q85": jpeg,
    "brightness +3": lambda f: brightness(f, 3),
    "brightness -3": lambda f: brightness(f, -3),
    "shift 2 px": shift,
    "saved at 256 px": saved_larger,
}
