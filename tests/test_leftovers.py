"""What a stopped app leaves on disk (issue 27, item 4): one folder per server process, named with its PID,
holding the clip analyses and Gradio's own uploads; SIGTERM removes it, and a server killed with kill -9
mid-clip has its folder removed by the next server that starts. Apps run with their own TMPDIR."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from gradio_client import Client, handle_file

from benchmarks.serving import launch_app

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "demo" / "examples" / "clip.mp4"


def ours(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("diffclip-app-*"))


def wait_for(condition, timeout: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_kill_9_mid_clip_then_a_restart_leaves_nothing_of_the_dead_server(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    with launch_app(sys.executable, REPO, tmp_path / "first.log", env=env) as first:
        (root,) = ours(tmp)
        assert root.name.startswith(f"diffclip-app-{first.pid}-")
        Client(first.url, verbose=False).submit(handle_file(str(CLIP)), 5, 40, api_name="/analyse_clip")
        wait_for(lambda: any(root.glob("clip-*/*")), what="the clip analysis to write its frames")
        uploads = list((root / "gradio").rglob("clip.mp4"))
        assert uploads, "Gradio's copy of the upload lives in the server's folder"
        os.kill(first.pid, signal.SIGKILL)
        wait_for(lambda: not Path(f"/proc/{first.pid}").exists() or "zombie" in _state(first.pid), 30, "the kill")
    assert ours(tmp) == [root], "kill -9 runs no clean-up: the dead server's folder is still there"
    with launch_app(sys.executable, REPO, tmp_path / "second.log", env=env) as second:
        (now,) = ours(tmp)
        assert now.name.startswith(f"diffclip-app-{second.pid}-") and not root.exists()
        os.kill(second.pid, signal.SIGTERM)
        wait_for(lambda: not now.exists(), 60, "SIGTERM to remove the server's folder")
    assert ours(tmp) == []


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "zombie"
