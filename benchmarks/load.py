"""Load on the app from many users at once (loopback only, bounded): N concurrent sessions, each analysing
frames, asking for an explanation and analysing a short clip, for a fixed number of rounds. Prints the
requests served, refused ("busy, try again": the queue was full) and failed, latency percentiles per
endpoint, and the server's resident memory before, after and at its peak.

    python benchmarks/load.py --users 20 [--rounds 2] [--frames 4] [--concurrency 2] [--queue-size 16]
    python benchmarks/load.py --sessions 10 --frames 32      # memory per new session instead

The app is started by the script (`python app.py` on the bundled models, on a free port) so that its
memory can be read (Linux /proc). Latencies are wall-clock on this machine: compare them with each
other, not with another machine's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.serving import RunningApp, launch_app, rss_mb  # noqa: E402

EXAMPLES = sorted((ROOT / "demo" / "examples" / "frames").glob("*.png"))
EXAMPLES = [p for p in EXAMPLES if not p.stem.endswith("_mask")]
CLIP = ROOT / "demo" / "examples" / "clip.mp4"


@dataclass
class Tally:
    """What happened to the requests, per endpoint; thread-safe."""

    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failed: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, endpoint: str, fn: Callable[[], object]) -> object | None:
        """Run one request; record its latency, or that it was refused or failed."""
        start = time.perf_counter()
        try:
            out = fn()
        except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
            busy = "queue is full" in str(exc).lower() or type(exc).__name__ == "QueueError"
            with self.lock:
                if busy:
                    self.refused[endpoint] += 1
                else:
                    self.failed[endpoint].append(f"{type(exc).__name__}: {exc}"[:300])
            return None
        with self.lock:
            self.latency[endpoint].append(time.perf_counter() - start)
        return out

    def summary(self) -> dict:
        rows = {}
        for endpoint in sorted(set(self.latency) | set(self.refused) | set(self.failed)):
            times = sorted(self.latency.get(endpoint, []))
            rows[endpoint] = {"served": len(times), "refused": self.refused.get(endpoint, 0),
                              "failed": len(self.failed.get(endpoint, [])), **percentiles(times)}
        return rows


def percentiles(times: list[float]) -> dict[str, float | None]:
    """p50, p90, p99 and max in seconds (None without data)."""
    if not times:
        return {"p50": None, "p90": None, "p99": None, "max": None}
    qs = statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 else [times[0]] * 99
    return {"p50": qs[49], "p90": qs[89], "p99": qs[98], "max": max(times)}


class MemoryWatch:
    """Samples a process's resident memory in the background; keeps the peak."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.pid, self.every, self.peak = pid, every, rss_mb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, rss_mb(self.pid))

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def user(url: str, tally: Tally, rounds: int, frames: int, clip_frames: int, method: str) -> None:
    """One session: per round, analyse ``frames`` frames, explain the first with ``method``, analyse the
    example clip (``clip_frames`` sampled frames; 0 skips it)."""
    from gradio_client import Client, handle_file

    client = tally.call("connect", lambda: Client(url, verbose=False))
    if client is None:
        return
    files = [handle_file(str(EXAMPLES[i % len(EXAMPLES)])) for i in range(frames)]
    for _ in range(rounds):
        if tally.call("analyse_frames", lambda: client.predict(files, api_name="/analyse_frames")) is not None:
            tally.call("attribution", lambda: client.predict("blood", method, 0.5, 8, api_name="/attribution"))
        if clip_frames:
            tally.call("analyse_clip", lambda: client.predict(handle_file(str(CLIP)), 5, clip_frames,
                                                              api_name="/analyse_clip"))


def run_users(app: RunningApp, users: int, rounds: int, frames: int, clip_frames: int,
              method: str = "Grad-CAM (token grid)") -> dict:
    """``users`` concurrent sessions against ``app``; the tally and the server's memory (MiB)."""
    tally = Tally()
    before = rss_mb(app.pid)
    start = time.perf_counter()
    with MemoryWatch(app.pid) as watch:
        threads = [threading.Thread(target=user, args=(app.url, tally, rounds, frames, clip_frames, method))
                   for _ in range(users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    seconds, after = time.perf_counter() - start, rss_mb(app.pid)
    time.sleep(3)  # the users' sessions end (their clients are gone): Gradio's unload events run
    session_growth(app, 1, 1)  # one more analysis, which hands the heap's free pages back (trim_heap)
    return {"users": users, "rounds": rounds, "frames": frames, "clip_frames": clip_frames,
            "seconds": seconds, "endpoints": tally.summary(), "errors": {k: v[:3] for k, v in tally.failed.items()},
            "rss_mb": {"before": before, "after": after, "peak": watch.peak, "settled": rss_mb(app.pid)}}


def session_growth(app: RunningApp, sessions: int, frames: int, keep: list | None = None) -> dict:
    """Open ``sessions`` new sessions one after another, each analysing ``frames`` frames; the server's
    memory after each one (MiB). The clients are appended to ``keep``: a client that is dropped ends its
    session (and the app removes its files)."""
    from gradio_client import Client, handle_file

    files = [handle_file(str(EXAMPLES[i % len(EXAMPLES)])) for i in range(frames)]
    rss, done_at = [rss_mb(app.pid)], []
    clients = keep if keep is not None else []
    for _ in range(sessions):
        client = Client(app.url, verbose=False)
        client.predict(files, api_name="/analyse_frames")
        clients.append(client)
        rss.append(rss_mb(app.pid))
        done_at.append(time.monotonic())
    return {"sessions": sessions, "frames": frames, "rss_mb": rss, "done_at": done_at,
            "per_session_mb": (rss[-1] - rss[0]) / max(sessions, 1)}


def report(result: dict) -> str:
    """The load run as a small text table."""
    clip = f", a clip of {result['clip_frames']} frames" if result["clip_frames"] else ""
    lines = [f"{result['users']} users x {result['rounds']} rounds ({result['frames']} frames, an explanation"
             f"{clip} per round) in "
             f"{result['seconds']:.0f} s",
             f"{'endpoint':<16}{'served':>8}{'refused':>9}{'failed':>8}{'p50 s':>8}{'p90 s':>8}{'p99 s':>8}{'max s':>8}"]
    for name, row in result["endpoints"].items():
        fmt = [f"{row[k]:8.2f}" if row[k] is not None else f"{'-':>8}" for k in ("p50", "p90", "p99", "max")]
        lines.append(f"{name:<16}{row['served']:8d}{row['refused']:9d}{row['failed']:8d}{''.join(fmt)}")
    m = result["rss_mb"]
    lines.append(f"server memory: {m['before']:.0f} MiB before, {m['peak']:.0f} MiB peak, {m['after']:.0f} MiB after, "
                 f"{m['settled']:.0f} MiB once the sessions ended and one more request ran")
    for name, errors in result["errors"].items():
        lines.append(f"failures of {name}: {errors}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--frames", type=int, default=4, help="frames per analysis (32 at most)")
    parser.add_argument("--clip-frames", type=int, default=20, help="sampled frames per clip (0: no clips)")
    parser.add_argument("--sessions", type=int, default=0,
                        help="measure memory per new session instead (sessions one after another)")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--queue-size", type=int, default=16)
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args(argv)
    if not 1 <= args.frames <= 32 or args.users < 1 or args.rounds < 1 or args.users * args.rounds > 1000:
        parser.error("need 1 <= --frames <= 32, --users and --rounds >= 1, at most 1000 user rounds")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, launch_app(
            sys.executable, ROOT, Path(tmp) / "app.log",
            ["--concurrency", str(args.concurrency), "--queue-size", str(args.queue_size)]) as app:
        if args.sessions:
            session_growth(app, 1, args.frames)  # warm-up: first-use allocations are not per session
            result = session_growth(app, args.sessions, args.frames)
            print(f"{args.sessions} new sessions x {args.frames} frames: server memory "
                  f"{result['rss_mb'][0]:.0f} -> {result['rss_mb'][-1]:.0f} MiB, "
                  f"{result['per_session_mb']:.2f} MiB per session")
        else:
            result = run_users(app, args.users, args.rounds, args.frames, args.clip_frames)
            print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
