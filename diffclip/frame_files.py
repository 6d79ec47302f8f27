"""Frame folders on disk, shared by inference and training: the frame files of one folder, and the
folders of a root that hold frames (Galar's ``<video>/frame_000123.PNG``, the challenge's
``ukdd_navi_00051/frame_0000049.png``, also nested one level deeper)."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

log = logging.getLogger(__name__)

#: ``frame_<digits>.png`` in any case; masks (``frame_000123_mask.png``) do not match.
FRAME_FILE_RE = re.compile(r"^frame_(\d+)\.png$", re.IGNORECASE)


def list_frame_files(folder: Path) -> list[tuple[int, Path]]:
    """(frame number, path) of ``frame_<digits>.png`` files (any case), sorted by number; where two
    files carry the same number (an upper- and a lower-case copy), the first by name is kept."""
    files: dict[int, Path] = {}
    for entry in sorted(folder.iterdir()):
        m = FRAME_FILE_RE.match(entry.name)
        if m:
            number = int(m.group(1))
            if number in files:
                log.warning("%s: %s and %s both hold frame %d; using the first", folder, files[number].name,
                            entry.name, number)
                continue
            files[number] = entry
    return sorted(files.items())


def has_frames(folder: str | Path) -> bool:
    """True when ``folder`` holds at least one frame file (stops at the first)."""
    with os.scandir(folder) as it:
        return any(FRAME_FILE_RE.match(e.name) for e in it)


def frame_folders(root: str | Path, skip: tuple[str, ...] = ("labels",), nested: bool = True) -> dict[str, Path]:
    """Folder name -> path for the folders of ``root`` that hold frames, sorted by name; when ``root``
    has none and ``nested``, those one level deeper (some extractions nest the video folders). Names in
    ``skip`` (compared in lower case) are not searched."""
    root = Path(root)

    def level(base: Path) -> dict[str, Path]:
        return {p.name: p for p in sorted(base.iterdir())
                if p.is_dir() and p.name.lower() not in skip and has_frames(p)}

    found = level(root)
    if not found and nested:
        for sub in sorted(p for p in root.iterdir() if p.is_dir() and p.name.lower() not in skip):
            for name, folder in level(sub).items():
                found.setdefault(name, folder)
    return found
