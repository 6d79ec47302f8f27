"""Running the app as a separate process and reading its memory, for the load benchmark and the
serving tests (loopback only)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunningApp:
    url: str
    pid: int
    log: Path


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def launch_app(python: str | Path, cwd: str | Path, log: Path, args: Sequence[str] = (), env: dict | None = None,
               start_timeout: float = 180.0) -> Iterator[RunningApp]:
    """Run ``<python> app.py --port <free port> *args`` in ``cwd`` on 127.0.0.1, wait until it answers,
    yield it, then stop it. ``env`` replaces the environment (default: this process's); Gradio's
    analytics are always off. The log's tail is in every error."""
    port = free_port()
    env = {**(os.environ if env is None else env), "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(log, "w") as fh:
        proc = subprocess.Popen([str(python), "app.py", "--port", str(port), *args], cwd=cwd, stdout=fh,
                                stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app exited ({proc.returncode}): {log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"app did not start in {start_timeout:.0f}s: {log.read_text()[-3000:]}") from None
                time.sleep(0.5)
        yield RunningApp(url, proc.pid, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def status_kb(pid: int, field: str) -> int:
    """One ``field`` (``VmRSS``, ``VmHWM``, ...) of process ``pid`` in KiB (Linux: /proc/<pid>/status)."""
    status = Path(f"/proc/{pid}/status")
    if not status.is_file():
        raise RuntimeError("reading a process's memory needs Linux's /proc")
    for line in status.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in {status}")


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB."""
    return status_kb(pid, "VmRSS") / 1024


def peak_growth(pid: int, call: Callable[[], object]) -> tuple[float, float, object]:
    """Run ``call`` and measure how far process ``pid``'s peak resident memory rose above its memory before
    (MiB; Linux: the peak is reset through /proc/<pid>/clear_refs), and the seconds it took. Returns (growth,
    seconds, what ``call`` returned or the exception it raised)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
    before = status_kb(pid, "VmRSS")
    start = time.perf_counter()
    try:
        out: object = call()
    except Exception as exc:  # noqa: BLE001 - the caller looks at what came back, error or not
        out = exc
    seconds = time.perf_counter() - start
    return (status_kb(pid, "VmHWM") - before) / 1024, seconds, out
