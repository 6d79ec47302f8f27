"""A folder replaced whole or not at all: its new contents are written in a sibling staging folder, which then
takes the folder's place in one step (issue 27, item 3: an interrupted ``diffclip errors`` once overwrote the
overlays that the previous, still current, report.html referenced)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import re
import shutil
from collections.abc import Collection, Iterator
from pathlib import Path

from .process_files import signals_deferred, sweep_dead

_RENAME_EXCHANGE = 2  # renameat2's flag (Linux >= 3.15): swap two paths atomically
_AT_FDCWD = -100


def _staging_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(name)}\.(staging|old)-(?P<pid>\d+)")


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one step where the kernel can (Linux's renameat2); False where it cannot."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        renameat2 = ctypes.CDLL(name, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    return False  # no support on this file system: the two-rename route below


def _link_tree(src: Path, dst: Path, skip: Collection[str]) -> None:
    """``dst`` as a copy of ``src`` made of hard links (no data copied), without the top-level names in
    ``skip``. Safe because everything this project writes goes to a new file renamed into place: a linked
    file is replaced in the copy, never written through."""
    for entry in src.iterdir():
        if entry.name in skip:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, dst / entry.name, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, dst / entry.name)


def _link_or_copy(src, dst) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)


def _restore(final: Path) -> None:
    """Put back a folder that a process stopped between the two renames of the fallback route left aside."""
    if final.exists():
        return
    for old in sorted(final.parent.glob(f".{final.name}.old-*")):
        if old.is_dir():
            old.rename(final)
            return


@contextlib.contextmanager
def staged_folder(final: str | Path, fresh: Collection[str] = (), empty: bool = False) -> Iterator[Path]:
    """Yield a staging folder beside ``final`` that starts as ``final``'s contents (hard links) less the
    top-level names in ``fresh``, which the caller writes anew (with ``empty``: as an empty folder, for a
    folder written whole, such as a checkpoint). On normal exit the staging folder takes
    ``final``'s place in one step and the old contents go; on any error, Ctrl-C or SIGTERM (with
    :func:`~diffclip.process_files.exit_cleanly_on_signals`) it is removed and ``final`` is exactly as it was.
    After a kill -9, the next call removes the dead process's staging folder."""
    final = Path(final)
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    _restore(final)
    sweep_dead(parent, _staging_pattern(final.name))
    stage = parent / f".{final.name}.staging-{os.getpid()}"
    if stage.exists():
        shutil.rmtree(stage)
    try:
        with signals_deferred():  # made and then stopped before the ``try`` began, it would stay until swept
            stage.mkdir()
        if final.is_dir() and not empty:
            _link_tree(final, stage, set(fresh))
        yield stage
        if not final.exists():
            stage.rename(final)
        elif not _exchange(stage, final):
            old = parent / f".{final.name}.old-{os.getpid()}"
            final.rename(old)
            stage.rename(final)
            stage = old
    finally:
        shutil.rmtree(stage, ignore_errors=True)
