"""Atomic file writes: write a temporary file in the target's directory, then rename it into place, so
that a crash never leaves a half-written file under the final name."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from .process_files import signals_deferred


def writable_target(path: str | Path, what: str = "output") -> Path:
    """Check, before any work, that ``path`` can be written as a regular file, and return it: a symbolic
    link (even a dangling one), a directory, device or FIFO is refused; the folder must exist (or be
    creatable) and be writable. ``what`` names the option in messages. Outputs never follow links: in a shared
    folder anyone could otherwise aim your output at their file, or at yours."""
    path = Path(path)
    refuse_link(path, what)
    target = path
    if target.exists() and not target.is_file():
        kind = "a directory" if target.is_dir() else "not a regular file"
        raise ValueError(f"{what} {path} is {kind}; give a file name")
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f"{what} {path}: cannot write in {folder}")
    try:  # a real file, not os.access: root "may" write in /proc or a read-only mount, and cannot
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".diffclip-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"{what} {path}: cannot write in {folder} ({exc.strerror or exc})") from None
    return target


def refuse_link(path: Path, what: str) -> None:
    """A one-line ``ValueError`` when ``path`` is a symbolic link (outputs never follow links)."""
    if path.is_symlink():
        raise ValueError(f"{what} {path} is a symbolic link; outputs never follow links (anyone who can make a "
                         "link could aim them at another file): give a plain path, or remove the link")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on normal exit it replaces ``path``, on error it is removed.
    A symbolic link at ``path`` is replaced itself: its target is never written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        with signals_deferred():  # a signal between creating the file and naming it here would leave it behind
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            os.close(fd)
        yield Path(tmp)
        # mkstemp creates the file private (0600); give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: str | Path, data: Mapping | list, indent: int | None = 2) -> Path:
    """Write ``data`` as JSON atomically and return the path."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=indent)
            fh.write("\n")
    return Path(path)
