"""Ground truth for the frames a user analyses: the bundled examples' labels and masks, or sidecar files
uploaded with synthetic frames (``frame_000123_mask.png`` beside ``frame_000123.PNG``, and a Galar-style
label CSV with a ``frame`` column and one 0/1 column per label)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from diffclip.csv_input import dict_rows, frame_number
from diffclip.labels import LABELS

MASK_SUFFIX = "_mask"
_NUMBER = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class FrameTruth:
    """What is known about one frame: its true labels (None: unknown) and its lesion mask (bool, at the
    size of the model's crop; None: no mask)."""

    labels: frozenset[str] | None = None
    mask: np.ndarray | None = None


def _number(name: str) -> int | None:
    found = _NUMBER.search(Path(name).stem)
    return int(found.group(1)) if found else None


def read_truth_csv(path: str | Path) -> dict[int, frozenset[str]]:
    """frame number -> true labels, from a Galar-style CSV; a ValueError names the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # spreadsheets often write a byte-order mark
    except UnicodeDecodeError:
        raise ValueError(f"{path.name}: a label CSV must be UTF-8 text") from None
    fields, rows = dict_rows(text, path.name)
    header = [h.strip() for h in fields]
    if "frame" not in header:
        raise ValueError(f"{path.name}: a label CSV needs a 'frame' column; its header is {header}")
    known = [lab for lab in LABELS if lab in header]
    if not known:
        raise ValueError(f"{path.name}: no label columns ({', '.join(LABELS[:3])}, ...) in its header")
    truth = {}
    for line, row in rows:
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        try:
            frame = frame_number(row["frame"])
            truth[frame] = frozenset(lab for lab in known if float(row[lab] or 0) >= 0.5)
        except ValueError as exc:
            said = str(exc)
            detail = said if said.startswith("a frame number") else "frame and label values must be numbers"
            raise ValueError(f"{path.name}:{line}: {detail}") from None
    return truth


def split_uploads(paths: list[str]) -> tuple[list[str], dict[str, str], dict[int, frozenset[str]]]:
    """Sort uploaded files into frames, masks (frame stem -> mask path) and CSV truth (frame number ->
    labels)."""
    frames, masks, truth = [], {}, {}
    for p in paths:
        stem, suffix = Path(p).stem, Path(p).suffix.lower()
        if suffix == ".csv":
            truth.update(read_truth_csv(p))
        elif stem.endswith(MASK_SUFFIX):
            masks[stem[: -len(MASK_SUFFIX)]] = p
        else:
            frames.append(p)
    if not frames and (masks or truth):
        raise ValueError("only masks or label CSVs were uploaded: add the frames they belong to")
    return frames, masks, truth


def load_mask(path: str | Path, size: int) -> np.ndarray:
    """A lesion mask resized (nearest) and centre-cropped like the model's input, as booleans."""
    from PIL import Image, UnidentifiedImageError
    from torchvision.transforms import CenterCrop, InterpolationMode, Resize

    from diffclip.images import check_image_file

    check_image_file(path)  # its size from the header, before the mask is decoded or resized
    try:
        with Image.open(path) as img:
            grey = img.convert("L")
    except (UnidentifiedImageError, OSError):
        raise ValueError(f"{Path(path).name}: the mask is not a readable image") from None
    return np.asarray(CenterCrop(size)(Resize(size, interpolation=InterpolationMode.NEAREST)(grey))) > 0


def truth_for(frame: str, masks: dict[str, str], truth: dict[int, frozenset[str]], size: int) -> FrameTruth | None:
    """The truth an upload carries for ``frame`` (None when it carries none)."""
    stem = Path(frame).stem
    number = _number(stem)
    labels = truth.get(number) if number is not None else None
    mask = load_mask(masks[stem], size) if stem in masks else None
    return None if labels is None and mask is None else FrameTruth(labels, mask)
