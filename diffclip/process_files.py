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
from contextlib import contextmanager
from pathlib import Path

#: The exit status of a process stopped by SIGTERM (128 + 15), as a shell reports it.
TERMINATED = 143


class Terminated(SystemExit):
    """SIGTERM (or SIGHUP) arrived: raised where the program was, so that clean-up runs as for Ctrl-C."""


#: how many :func:`signals_deferred` blocks the main thread is in, and the signals that came meanwhile
_deferring = 0
_pending: list[int] = []


def _hold(signum, frame) -> None:
    _pending.append(signum)


def _raise_terminated(signum, frame) -> None:
    if _deferring:
        _hold(signum, frame)
        return
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


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGTERM, SIGHUP (with :func:`exit_cleanly_on_signals`) and Ctrl-C back while the block runs; one
    that came meanwhile is raised as the block ends. For the few lines that create a temporary file and record
    its name: stopped between the two, the file would be left with no one knowing its name (CI once caught a
    ``.p.csv.*.tmp`` left that way). Held in Python, not with a signal mask: a mask covers one thread, and the
    kernel hands a process's signal to any thread that does not block it. Only the main thread gets
    Python's signal handlers, so elsewhere the block simply runs."""
    global _deferring
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    ctrl_c = signal.getsignal(signal.SIGINT)
    swap = callable(ctrl_c)  # Python's KeyboardInterrupt or a handler someone installed; not SIG_IGN or SIG_DFL
    if swap:
        signal.signal(signal.SIGINT, _hold)
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if swap:
            signal.signal(signal.SIGINT, ctrl_c)
        if not _deferring and _pending:
            signum = _pending[0]
            _pending.clear()
            if signum != signal.SIGINT:
                raise Terminated(128 + signum)
            signal.raise_signal(signal.SIGINT)  # to the handler that was in place (Python's: KeyboardInterrupt)


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
