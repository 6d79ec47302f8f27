"""An interrupted `diffclip errors` leaves the previous report folder byte for byte as it was (issue 27, item 3):
SIGTERM during the model pass and during the overlays, and kill -9, whose staging folder the next run removes.
The runs are separate processes, stopped when their own progress output shows the stage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from diffclip.atomic import atomic_path
from diffclip.process_files import Terminated, exit_cleanly_on_signals, signals_deferred
from diffclip.staged_folder import staged_folder
from training.synthetic import generate

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = str(REPO / "demo" / "weights" / "diff")


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def errors_cmd(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "diffclip.cli", "errors", str(data), "--checkpoint", CHECKPOINT, "--out", str(out),
            "--precision", "fp32", *extra]


def stop_at(cmd: list[str], marker: bytes, sig: int, timeout: float = 240) -> tuple[int, str]:
    """Run ``cmd``, send ``sig`` as soon as ``marker`` appears in its error output; its status and output."""
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{marker!r} never appeared: {seen[-2000:].decode(errors='replace')}")
        seen += chunk
    proc.send_signal(sig)
    _, rest = proc.communicate(timeout=60)
    return proc.returncode, (seen + rest).decode(errors="replace")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("interrupted")
    data = root / "set"
    generate(data, videos=1, frames=120, seed=11, size=96, rare_share=0.05, progress=False, workers=1)
    out = root / "work" / "report"
    subprocess.run(errors_cmd(data, out, "--top", "2"), cwd=REPO, check=True, capture_output=True)
    return data, out


def test_sigterm_during_the_model_pass_or_the_overlays_changes_nothing(report):
    data, out = report
    before = tree(out)
    assert "errors.json" in before and any(k.startswith("images/") for k in before)
    # a different pass (another stride: not in the cache), more mistakes, another method: everything differs
    slow_pass = errors_cmd(data, out, "--stride", "2", "--batch-size", "2", "--top", "3", "--method", "rollout")
    code, err = stop_at(slow_pass, b"predict:", signal.SIGTERM)
    assert "model pass:" not in err, "the pass ended before the signal: the test did not stop it mid-pass"
    assert code == 143 and "stopped; outputs not finished were removed" in err, err[-2000:]
    assert tree(out) == before
    code, err = stop_at(errors_cmd(data, out, "--top", "3", "--method", "rollout"), b"overlays (rollout):  1", signal.SIGTERM)
    assert code == 143 and "report ->" not in err, err[-2000:]
    assert tree(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["report"]  # no staging folder left beside it


def test_a_killed_run_leaves_the_report_and_the_next_run_sweeps_its_staging(report):
    data, out = report
    before = tree(out)
    code, _ = stop_at(errors_cmd(data, out, "--top", "3", "--method", "gradattn"), b"overlays (gradattn):  1",
                      signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert tree(out) == before
    left = [p.name for p in out.parent.iterdir() if p.name != "report"]
    assert len(left) == 1 and left[0].startswith(".report.staging-"), left  # kill -9 runs no clean-up
    done = subprocess.run(errors_cmd(data, out, "--top", "1"), cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in out.parent.iterdir()) == ["report"]
    after = tree(out)
    assert after != before and after["report.html"] != before["report.html"]
    assert not any("-02-" in k for k in after if k.startswith("images/"))  # only the new run's overlays


def test_sigterm_during_predict_leaves_no_temporary_file_and_the_old_outputs(report, tmp_path):
    """`predict` interrupted once left `.p.csv.<random>.tmp` beside its output (SIGTERM skipped every clean-up)."""
    data, _ = report
    out = tmp_path / "outputs"
    out.mkdir()
    cmd = [sys.executable, "-m", "diffclip.cli", "predict", str(data), "--checkpoint", CHECKPOINT, "--precision", "fp32",
           "--out", str(out / "events.json"), "--probs", str(out / "p.csv")]
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
    before = tree(out)
    code, err = stop_at([*cmd, "--batch-size", "2"], b"predict:", signal.SIGTERM)
    assert code == 143 and "stopped" in err, err[-2000:]
    assert tree(out) == before and sorted(before) == ["events.json", "p.csv"]


def test_a_signal_inside_signals_deferred_arrives_as_the_block_ends():
    seen = []
    old = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Python's own Ctrl-C handler, whatever an earlier test or library left installed
    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    exit_cleanly_on_signals()
    try:
        for sig, raised in ((signal.SIGTERM, Terminated), (signal.SIGINT, KeyboardInterrupt)):
            with pytest.raises(raised):
                with signals_deferred():
                    os.kill(os.getpid(), sig)
                    time.sleep(0.05)  # without the hold the handler raises here
                    seen.append(f"block ends ({sig.name})")
            seen.append(f"raised ({sig.name})")
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        # a handler of someone else's is held too, and called as the block ends
        called = []
        signal.signal(signal.SIGINT, lambda signum, frame: called.append(signum))
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            seen.append(f"block ends, handler called {len(called)} times")
        seen.append(f"after the block, handler called {len(called)} times")
    finally:
        signal.signal(signal.SIGTERM, old)
        signal.signal(signal.SIGINT, old_int)
    assert seen == ["block ends (SIGTERM)", "raised (SIGTERM)", "block ends (SIGINT)", "raised (SIGINT)",
                    "block ends, handler called 0 times", "after the block, handler called 1 times"]


def test_sigterm_just_as_the_temporary_file_is_made_leaves_nothing(tmp_path, monkeypatch):
    """CI once found `.p.csv.<random>.tmp` left by a SIGTERM that came between creating the file and the
    ``try`` that removes it; here the signal comes at exactly that point."""
    real = tempfile.mkstemp

    def mkstemp_then_sigterm(*args, **kwargs):
        made = real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)
        return made

    real_mkdir = Path.mkdir

    def mkdir_then_sigterm(self, *args, **kwargs):
        real_mkdir(self, *args, **kwargs)
        if ".staging-" in self.name:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp_then_sigterm)
    monkeypatch.setattr(Path, "mkdir", mkdir_then_sigterm)
    old = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    exit_cleanly_on_signals()
    try:
        with pytest.raises(Terminated), atomic_path(tmp_path / "p.csv") as tmp:
            tmp.write_text("never finished")
        with pytest.raises(Terminated), staged_folder(tmp_path / "report") as stage:
            (stage / "x").write_text("never finished")
    finally:
        signal.signal(signal.SIGTERM, old)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
