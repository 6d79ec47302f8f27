"""Where the demo's bundled files are, and the limits it enforces."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEFAULT_CHECKPOINT = ROOT / "weights" / "diff"
COMPARE_CHECKPOINT = ROOT / "weights" / "vanilla"
EXAMPLES = ROOT / "examples"
#: The multi-seed attention-noise study (python -m training.noise_study --json docs/noise-study.json).
NOISE_STUDY = ROOT.parent / "docs" / "noise-study.json"

MAX_FILE_SIZE = "50mb"  # per upload, enforced by Gradio
MAX_IMAGES = 32  # frames per analysis
MAX_CLIP_SECONDS = 600.0
MAX_CLIP_FRAMES = 600


@dataclass(frozen=True)
class Example:
    image: Path
    mask: Path | None
    shows: str
    labels: tuple[str, ...]


def examples() -> list[Example]:
    """The bundled example frames (synthetic), with their masks and labels."""
    index = EXAMPLES / "examples.json"
    if not index.is_file():
        return []
    data = json.loads(index.read_text())
    return [Example(EXAMPLES / e["image"], EXAMPLES / e["mask"] if e.get("mask") else None, e["shows"],
                    tuple(e["labels"])) for e in data["frames"]]


def example_clip() -> Path | None:
    clip = EXAMPLES / "clip.mp4"
    return clip if clip.is_file() else None


def mask_for(image_path: str | Path) -> Path | None:
    """The lesion mask that belongs to a bundled example or a synthetic frame, if there is one."""
    p = Path(image_path)
    beside = p.with_name(f"{p.stem}_mask.png")
    if beside.is_file():
        return beside
    for ex in examples():
        if ex.image.name == p.name and ex.mask is not None and ex.mask.is_file():
            return ex.mask
    return None
