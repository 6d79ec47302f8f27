"""What a session leaves on the server's disk, and how it goes away (docs/design.md, "Serving many
users"): each clip analysis writes into its own folder under one folder per server process; the folder
is removed when the session analyses another clip, when its state expires, when the browser tab closes,
and (all of them) when the process exits."""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path


class SessionFolders:
    """Temporary folders per session id; thread-safe."""

    def __init__(self) -> None:
        self._root: Path | None = None
        self._by_session: dict[str, set[Path]] = defaultdict(set)
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        """This process's folder in the temp directory, made on first use and removed at exit."""
        with self._lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="diffclip-app-"))
                atexit.register(shutil.rmtree, self._root, ignore_errors=True)
            return self._root

    def new(self, session: str | None, prefix: str = "clip-") -> Path:
        """A fresh folder that belongs to ``session`` (None: to no session; removed by release/exit)."""
        folder = Path(tempfile.mkdtemp(prefix=prefix, dir=self.root))
        if session:
            with self._lock:
                self._by_session[session].add(folder)
        return folder

    def release(self, folder: str | Path | None) -> None:
        """Remove one folder (and forget it)."""
        if folder is None:
            return
        folder = Path(folder)
        with self._lock:
            for folders in self._by_session.values():
                folders.discard(folder)
        shutil.rmtree(folder, ignore_errors=True)

    def end(self, session: str | None) -> int:
        """Remove every folder of ``session``; returns how many there were."""
        with self._lock:
            folders = self._by_session.pop(session, set()) if session else set()
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        return len(folders)

    @contextlib.contextmanager
    def filling(self, session: str | None, prefix: str = "clip-") -> Iterator[Path]:
        """A new folder of ``session`` to fill; removed again if filling it fails (nothing is left behind)."""
        folder = self.new(session, prefix)
        try:
            yield folder
        except BaseException:
            self.release(folder)
            raise


#: The app's one registry (the app is one process).
FOLDERS = SessionFolders()
