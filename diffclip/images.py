"""Turning the many forms a frame arrives in into an 8-bit RGB PIL image."""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

ImageLike = str | Path | Image.Image | np.ndarray

#: The largest image (in pixels) any reader decodes: 40 megapixels (a 16000 x 16000 PNG of 729 KB would
#: take 768 MB to decode; a capsule frame has under 1 megapixel).
MAX_PIXELS = 40_000_000


#: The longest side may be at most this many times the shortest. A capsule frame is about square; the
#: preprocessing resizes the short side to the model's size, so a strip costs its aspect ratio in pixels (a
#: 105-byte 8000 x 1 PNG became 224 x 1.8 million pixels, 1.5 GB, before this limit).
MAX_ASPECT = 16


class TooLargeError(ValueError):
    """An image or video frame refused for its size before anything was decoded: a message for the user as
    it is (it names the file, never its folder)."""


def check_pixels(width: int, height: int, name: str) -> None:
    """Refuse an image or video frame larger than :data:`MAX_PIXELS`, or longer than :data:`MAX_ASPECT`
    times its width, before anything is decoded or resized."""
    if width * height > MAX_PIXELS:
        raise TooLargeError(f"{name}: {width} x {height} pixels ({width * height / 1e6:.0f} megapixels); images and "
                         f"video frames of at most {MAX_PIXELS / 1e6:.0f} megapixels are accepted")
    long, short = max(width, height), min(width, height)
    if short > 0 and long > MAX_ASPECT * short:
        raise TooLargeError(f"{name}: {width} x {height} pixels, {long / short:.0f} times longer than wide; images and "
                         f"video frames at most {MAX_ASPECT} times longer than wide are accepted (a capsule frame "
                         "is about square)")


def _header_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the file's header (Pillow reads no pixel data until asked), or None when
    Pillow cannot identify it."""
    try:
        with Image.open(path) as img:
            return img.size
    except Image.DecompressionBombError:  # Pillow's own guard, at twice its pixel limit: far beyond ours
        raise TooLargeError(f"{path.name}: more than {2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6:.0f} megapixels; images "
                         f"and video frames of at most {MAX_PIXELS / 1e6:.0f} megapixels are accepted") from None
    except (UnidentifiedImageError, OSError):
        return None


def check_image_file(path: str | Path) -> None:
    """Refuse an image file whose header states more than :data:`MAX_PIXELS` or a strip longer than
    :data:`MAX_ASPECT` times its width, before it is decoded: for readers of their own (lesion masks)."""
    path = Path(path)
    size = _header_size(path)
    if size is not None:
        check_pixels(*size, path.name)


def _array_to_rgb(arr: np.ndarray, name: str) -> Image.Image:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ValueError(
            f"{name}: expected an image array of shape HxW, HxWx1, HxWx3 or HxWx4, got {arr.shape}"
        )
    if min(arr.shape[:2]) == 0:
        raise ValueError(f"{name}: empty image of shape {arr.shape}")
    if arr.dtype == np.uint8:
        pass
    elif arr.dtype == np.uint16:
        arr = (arr.astype(np.float32) / 257.0).round().astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name}: float image contains NaN or infinity")
        if arr.min() < 0.0 or arr.max() > 1.0:
            raise ValueError(f"{name}: float images must lie in [0, 1], got [{arr.min():.3g}, {arr.max():.3g}]")
        arr = (arr * 255.0).round().astype(np.uint8)
    elif arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    else:
        raise ValueError(f"{name}: unsupported array dtype {arr.dtype}; use uint8, uint16 or float in [0, 1]")
    if arr.ndim == 2:
        return Image.fromarray(arr, mode="L").convert("RGB")
    if arr.shape[2] == 4:
        return _drop_alpha(Image.fromarray(np.ascontiguousarray(arr), mode="RGBA"))
    return Image.fromarray(np.ascontiguousarray(arr), mode="RGB")


def _drop_alpha(img: Image.Image) -> Image.Image:
    # Transparent pixels become black, the colour of the capsule's dark field of view.
    background = Image.new("RGB", img.size, (0, 0, 0))
    background.paste(img, mask=img.getchannel("A"))
    return background


def _pil_to_rgb(img: Image.Image, name: str) -> Image.Image:
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img)
        if mode == "I" and arr.max(initial=0) > 65535:
            raise ValueError(f"{name}: 32-bit integer images are not supported")
        return _array_to_rgb(arr.astype(np.uint16), name)
    if mode == "F":
        raise ValueError(f"{name}: floating-point PIL images are not supported; pass a numpy array in [0, 1]")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        return _drop_alpha(img.convert("RGBA"))
    if mode in ("L", "1", "P", "CMYK", "YCbCr", "LAB", "HSV"):
        return img.convert("RGB")
    raise ValueError(f"{name}: unsupported image mode {mode!r}")


def _check_regular_file(path: Path) -> None:
    """Refuse a missing path, a directory, or a FIFO or device (which would block or stream forever),
    from one ``stat``."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"image file {path} does not exist") from None
    if stat.S_ISDIR(mode):
        raise ValueError(f"{path} is a directory, not an image")
    if not stat.S_ISREG(mode):
        raise ValueError(f"{path} is not a regular file (a FIFO or a device?), not an image")


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's first 24 bytes: the PNG standard puts the IHDR chunk first. Read here
    rather than by Pillow, whose header parse costs a quarter of a frame's decoding."""
    if head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR":
        return struct.unpack(">II", head[16:24])
    return None


def _read_png(path: Path) -> np.ndarray | None:
    """A regular file's PNG pixels as OpenCV decodes them (BGR, BGRA or grey; 8 or 16 bits), its size
    checked against :data:`MAX_PIXELS` from the IHDR chunk before decoding; None where the file does not
    open as a PNG or OpenCV cannot decode it (the caller then takes Pillow's route). OpenCV decodes PNG
    faster than Pillow, keeps 16-bit colour at full depth (Pillow does not) and releases the GIL while it
    works."""
    import cv2

    with open(path, "rb") as fh:
        head = fh.read(24)
        size = _png_size(head)
        if size is None:
            return None
        check_pixels(*size, path.name)
        data = head + fh.read()
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return arr if arr is not None and arr.dtype in (np.uint8, np.uint16) else None


def _png_to_rgb(arr: np.ndarray, name: str) -> Image.Image:
    import cv2

    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA if arr.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return _array_to_rgb(arr, name)


def _read_path(path: Path) -> Image.Image:
    _check_regular_file(path)
    size = _header_size(path)  # refused before anything is decoded, with Pillow's own guard first
    if size is not None:
        check_pixels(*size, path.name)
    if path.suffix.lower() == ".png":
        arr = _read_png(path)
        if arr is not None:
            return _png_to_rgb(arr, str(path))
    try:
        with Image.open(path) as img:
            img.load()
            return _pil_to_rgb(img, str(path))
    except UnidentifiedImageError:
        raise ValueError(f"{path} is not an image file that Pillow can read") from None
    except OSError as exc:
        raise ValueError(f"{path} is a corrupt or truncated image ({exc})") from None


def to_rgb(image: ImageLike, name: str | None = None) -> Image.Image:
    """Return ``image`` (path, PIL image or numpy array; RGB, RGBA, grayscale, 16-bit) as 8-bit RGB PIL.

    Anything else raises ``ValueError`` (or ``FileNotFoundError`` for a missing path) with a message
    that names the input.
    """
    if isinstance(image, (str, Path)):
        return _read_path(Path(image))
    label = name or type(image).__name__
    if isinstance(image, Image.Image):
        check_pixels(*image.size, label)
        return _pil_to_rgb(image, label)
    if isinstance(image, np.ndarray):
        if image.ndim >= 2:
            check_pixels(image.shape[1], image.shape[0], name or f"array {image.shape}")
        return _array_to_rgb(image, name or f"array {image.shape}")
    raise ValueError(
        f"{label}: cannot read an image from {type(image).__name__}; pass a path, a PIL image or a numpy array"
    )


def crop_array(image: ImageLike, image_size: int, interpolation: str = "bicubic") -> np.ndarray:
    """The model's view of an image as an (S, S, 3) uint8 RGB array: short side resized to ``image_size``
    (bicubic), centre crop. Same pixels as open_clip's eval transform before its ToTensor/Normalize."""
    from torchvision.transforms import CenterCrop, InterpolationMode, Resize

    img = to_rgb(image)
    if img.size != (image_size, image_size):
        mode = InterpolationMode.BICUBIC if interpolation == "bicubic" else InterpolationMode.BILINEAR
        img = CenterCrop(image_size)(Resize(image_size, interpolation=mode)(img))
    return np.asarray(img, dtype=np.uint8)


def load_crop(image: ImageLike, image_size: int, interpolation: str = "bicubic"):
    """:func:`crop_array` as a (3, S, S) uint8 tensor; normalisation is left to the device."""
    import torch

    return torch.from_numpy(crop_array(image, image_size, interpolation).copy()).permute(2, 0, 1)


def crop_into(image: ImageLike, out: np.ndarray, image_size: int, interpolation: str = "bicubic") -> None:
    """Write :func:`crop_array`'s pixels into ``out``, an (S, S, 3) uint8 array (a row of a batch buffer).

    A PNG file that decodes to exactly S x S 8-bit colour (frames exported at the model's size) goes
    from OpenCV's decoder straight into ``out``: no Pillow image and no copies, and the GIL is free
    nearly all the time, so threads decode a batch in parallel (docs/design.md, "The CPU pipeline").
    Anything else takes :func:`crop_array`'s route, a PNG without decoding it twice.
    """
    import cv2

    if isinstance(image, (str, Path)) and Path(image).suffix.lower() == ".png":
        path = Path(image)
        _check_regular_file(path)
        arr = _read_png(path)
        if arr is not None and arr.dtype == np.uint8 and arr.shape == (image_size, image_size, 3):
            if out.flags.c_contiguous and out.dtype == np.uint8:
                cv2.cvtColor(arr, cv2.COLOR_BGR2RGB, dst=out)
            else:  # OpenCV writes only into a plain C array
                out[...] = arr[:, :, ::-1]
            return
        if arr is not None:
            image = _png_to_rgb(arr, str(path))
    out[...] = crop_array(image, image_size, interpolation)
