"""What a process leaves on disk when it is stopped: signals that end it the way an exception would (so that
``finally`` blocks and context managers remove their temporary files), and sweeps of folders that a dead
process named with its PID (issue 27, item 4; docs/design.md, "Serving many users", "Temporary files")."""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

#: The exit status of a process stopped by SIGTERM (128 + 15), as a shell reports it.
TERMINATED = 143


class Terminated(SystemExit):
    """SIGTERM (or SIGHUP) arrived: raised where the program was, so that clean-up runs as for Ctrl-C."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated(128 + signum)


def exit_cleanly_on_signals() -> None:
    """Make SIGTERM and SIGHUP raise :class:`Terminated` in the main thread (Python's default for them is to
    die at once, skipping every ``finally``; SIGINT already raises KeyboardInterrupt). Call once, from the
    main thread, in a program's entry point (elsewhere it does nothing: only the main thread gets signals)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None and signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _raise_terminated)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (on this machine; a PID may be reused, which errs towards keeping)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def owned_by_dead(folder: Path, pattern: re.Pattern[str]) -> Iterator[Path]:
    """Entries of ``folder`` whose name matches ``pattern`` (its group ``pid``) and whose process is gone."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        m = pattern.fullmatch(entry.name)
        if m and int(m.group("pid")) != os.getpid() and not pid_alive(int(m.group("pid"))):
            yield entry


def sweep_dead(folder: Path, pattern: re.Pattern[str]) -> list[Path]:
    """Remove the entries of ``folder`` that :func:`owned_by_dead` finds; returns what was removed."""
    removed = []
    for entry in owned_by_dead(folder, pattern):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
