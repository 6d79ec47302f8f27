"""Out-of-distribution images for benchmarks/ood.py, all from packages that ship them inside their wheels
(no download): photos and a graphic from matplotlib's sample data, photos and microscopy/fundus images
from scikit-image's data module, CT and MR slices from pydicom's test files and matplotlib's MRI slice;
plus grey and recoloured versions of held-out synthetic frames."""

from __future__ import annotations

import gzip

import cv2
import numpy as np

#: scikit-image images in its wheel (skimage.data loads them without pooch): natural photos and graphics.
SKIMAGE_PHOTOS = ("astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "grass.png",
                  "gravel.png", "hubble_deep_field.jpg", "moon.png", "motorcycle_left.png", "page.png", "rocket.jpg",
                  "text.png")
#: medical and microscopy images in its wheel: a retinal fundus photo (with a circular field of view of its
#: own), a fundus crop, immunohistochemistry and a cell micrograph.
SKIMAGE_MEDICAL = ("retina.jpg", "microaneurysms.png", "ihc.png", "cell.png")
PYDICOM_FILES = ("CT_small.dcm", "MR_small.dcm", "examples_overlay.dcm")
MPL_PHOTOS = ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png", "logo2.png")


def to_rgb8(img: np.ndarray) -> np.ndarray:
    """Any grey or colour image (any dtype) as (H, W, 3) uint8: grey scans min-max windowed, alpha dropped."""
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[..., :3]
    if a.dtype != np.uint8:
        a = a.astype(np.float64)
        lo, hi = np.percentile(a, [0.5, 99.5])
        a = (np.clip((a - lo) / max(hi - lo, 1e-9), 0, 1) * 255 + 0.5).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    return np.ascontiguousarray(a)


def matplotlib_images() -> dict[str, np.ndarray]:
    """Photos and a logo from matplotlib's sample data."""
    import matplotlib.image as mpimg
    from matplotlib import cbook

    out = {}
    for name in MPL_PHOTOS:
        img = mpimg.imread(cbook.get_sample_data(name, asfileobj=False))
        out[name] = to_rgb8(img if img.dtype == np.uint8 else (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8))
    return out


def matplotlib_mri() -> dict[str, np.ndarray]:
    """The 256x256 16-bit MRI slice of matplotlib's sample data (as in its mri_with_eeg example)."""
    from matplotlib import cbook

    with gzip.open(cbook.get_sample_data("s1045.ima.gz", asfileobj=False)) as fh:
        im = np.frombuffer(fh.read(), np.uint16).reshape(256, 256)
    return {"s1045.ima.gz": to_rgb8(im)}


def skimage_images(names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Images read from the files of scikit-image's data folder (shipped in its wheel)."""
    from pathlib import Path

    from PIL import Image
    from skimage import data

    return {name: to_rgb8(np.asarray(Image.open(Path(data.data_dir) / name))) for name in names}


def pydicom_images() -> dict[str, np.ndarray]:
    """CT and MR slices of pydicom's test files (first frame of each)."""
    from pydicom import dcmread
    from pydicom.data import get_testdata_file

    out = {}
    for name in PYDICOM_FILES:
        arr = dcmread(get_testdata_file(name)).pixel_array
        out[name] = to_rgb8(arr[0] if arr.ndim == 3 and arr.shape[-1] not in (3, 4) else arr)
    return out


def grey(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Synthetic frames in greyscale (the field of view stays: only colour is gone)."""
    return [np.repeat(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2) for f in frames]


def channel_swap(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Synthetic frames with red and blue swapped (blue mucosa)."""
    return [np.ascontiguousarray(f[..., ::-1]) for f in frames]


def inverted(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Synthetic frames with colours inverted inside the field of view (the rim stays dark)."""
    out = []
    for f in frames:
        g = f.copy()
        inside = f.max(axis=2) >= 20
        g[inside] = 255 - f[inside]
        out.append(g)
    return out
