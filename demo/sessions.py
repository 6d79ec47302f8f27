"""What a session leaves on the server's disk, and how it goes away (docs/design.md, "Serving many
users"): each clip analysis writes into its own folder under one folder per server process; the folder
is removed when the session analyses another clip, when its state expires, when the browser tab closes,
and (all of them) when the process exits, by SIGTERM too. The process's folder is named with its PID, holds
Gradio's own uploads and results as well, and a server that starts removes the folders of dead ones (a
kill -9 runs no clean-up)."""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import tempfile
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from diffclip.process_files import sweep_dead

ROOT_PREFIX = "diffclip-app-"
#: a server process's folder: its PID, then mkdtemp's random part
ROOT_NAME = re.compile(rf"{ROOT_PREFIX}(?P<pid>\d+)-[A-Za-z0-9_]+")


class SessionFolders:
    """Temporary folders per session id; thread-safe."""

    def __init__(self) -> None:
        self._root: Path | None = None
        self._by_session: dict[str, set[Path]] = defaultdict(set)
        self._lock = threading.Lock()

    def start(self, gradio_files: bool = False) -> Path:
        """Make this process's folder in the temp directory now (after removing those of dead servers) and
        return it; with ``gradio_files``, Gradio's uploads and results go in it too (``GRADIO_TEMP_DIR``, read
        when Gradio's components are made, so call this first), unless the environment already names a
        folder for them (Gradio's own cache clean-up then keeps it)."""
        with self._lock:
            if self._root is None:
                parent = Path(tempfile.gettempdir())
                sweep_dead(parent, ROOT_NAME)
                self._root = Path(tempfile.mkdtemp(prefix=f"{ROOT_PREFIX}{os.getpid()}-", dir=parent))
                atexit.register(shutil.rmtree, self._root, ignore_errors=True)
            if gradio_files and not os.environ.get("GRADIO_TEMP_DIR"):
                os.environ["GRADIO_TEMP_DIR"] = str(self._root / "gradio")
            return self._root

    @property
    def root(self) -> Path:
        """This process's folder, made on first use (see :meth:`start`) and removed at exit."""
        return self._root if self._root is not None else self.start()

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
