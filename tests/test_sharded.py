"""`diffclip predict` and `diffclip errors` under torchrun (issue 33): the videos split by whole video over two
processes give byte-for-byte the files one process writes; a run killed part-way is resumed doing only the
videos not done; bad setups fail with a sentence. Runs on the CPU with gloo-free file sharing (no process group:
diffclip.sharding)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from diffclip.sharding import Shard, WorkFolder, assign, fingerprint, shard_from_env

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = REPO / "demo" / "weights" / "diff"
LENGTHS = {"1": 40, "2": 64, "3": 24}  # uneven: rank 0 takes video 2 (64), rank 1 videos 1 and 3 (40 + 24)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    from training.synthetic import generate

    root = tmp_path_factory.mktemp("sharded") / "data"
    for vid, n in LENGTHS.items():
        generate(root, videos=1, frames=n, seed=int(vid), size=224, first_id=int(vid), progress=False)
    return root


def _torchrun(*args, cwd, env=None, script=None):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cmd += [str(script)] if script else ["-m", "diffclip.cli"]
    return subprocess.run([*cmd, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def _single(*args, cwd):
    return subprocess.run([sys.executable, "-m", "diffclip.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def _predict_args(videos, stem):
    return ["predict", *(videos / v for v in LENGTHS), "--checkpoint", CHECKPOINT, "--precision", "fp32",
            "--out", f"{stem}.json", "--probs", f"{stem}.csv", "--scored", f"{stem}_scored.json",
            "--binary-csv", f"{stem}_bin"]


def _same_files(tmp, a, b):
    for suffix in (".json", ".csv", "_scored.json"):
        assert (tmp / f"{a}{suffix}").read_bytes() == (tmp / f"{b}{suffix}").read_bytes(), suffix
    for video in LENGTHS:
        name = f"{video}_frames.csv"
        assert (tmp / f"{a}_bin" / name).read_bytes() == (tmp / f"{b}_bin" / name).read_bytes()


@pytest.fixture(scope="module")
def single_run(videos):
    tmp = videos.parent
    done = _single(*_predict_args(videos, "one"), cwd=tmp)
    assert done.returncode == 0, done.stderr[-2000:]
    return tmp


def test_two_processes_write_exactly_what_one_writes(videos, single_run):
    tmp = single_run
    done = _torchrun(*_predict_args(videos, "two"), cwd=tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    _same_files(tmp, "one", "two")
    assert not (tmp / "two.json.work").exists()  # the per-video results go once every output is written
    assert "rank 1: 2 of its 2 videos done" in done.stderr and "128 frames from 3 video(s)" in done.stdout


def test_a_killed_run_is_resumed_doing_only_the_videos_not_done(videos, single_run, tmp_path):
    """Rank 1 is killed (SIGKILL) when it reaches video 3, once videos 1 and 2 are stored; torchrun stops rank 0,
    which names what is not done; the earlier complete output stays; the rerun reuses 1 and 2 and ends with the
    single process's files."""
    tmp = single_run
    harness = tmp_path / "harness.py"
    harness.write_text(textwrap.dedent("""
        import os, signal, sys, time
        from pathlib import Path
        from diffclip import pipeline

        real = pipeline.run_source

        def run_source(predictor, source, *args, **kwargs):
            if source.video_id == "3":  # wait until videos 1 and 2 are stored, then die mid-run
                deadline = time.time() + 120
                while len(list(Path("killed.json.work").rglob("*.npz"))) < 2 and time.time() < deadline:
                    time.sleep(0.2)
                os.kill(os.getpid(), signal.SIGKILL)
            return real(predictor, source, *args, **kwargs)

        pipeline.run_source = run_source
        from diffclip.cli import main
        sys.exit(main(sys.argv[1:]))
    """))
    (tmp / "killed.json").write_text("an earlier complete output\n")
    args = _predict_args(videos, "killed")
    died = _torchrun(*args, cwd=tmp, script=harness)
    assert died.returncode != 0
    assert "not done: 3 (a rerun does only these)" in died.stderr, died.stderr[-3000:]
    assert (tmp / "killed.json").read_text() == "an earlier complete output\n"
    assert len(list((tmp / "killed.json.work").rglob("*.npz"))) == 2
    again = _torchrun(*args, cwd=tmp)
    assert again.returncode == 0, again.stderr[-3000:]
    reused = sorted(re.findall(r"rank \d: (\S+) already done \(reused\)", again.stderr))
    assert reused == ["1", "2"]
    _same_files(tmp, "one", "killed")
    assert not (tmp / "killed.json.work").exists()


def test_errors_under_torchrun_writes_the_single_process_report(videos, tmp_path):
    args = ["errors", videos, "--checkpoint", CHECKPOINT, "--precision", "fp32", "--top", "2"]
    one = _single(*args, "--out", tmp_path / "one", cwd=tmp_path)
    two = _torchrun(*args, "--out", tmp_path / "two", cwd=tmp_path)
    assert one.returncode == 0 and two.returncode == 0, two.stderr[-3000:]
    assert (tmp_path / "one" / "errors.json").read_bytes() == (tmp_path / "two" / "errors.json").read_bytes()
    for path in (tmp_path / "one" / "images").rglob("*.png"):  # overlays too: rank 0 draws with every core
        assert path.read_bytes() == (tmp_path / "two" / path.relative_to(tmp_path / "one")).read_bytes(), path
    assert not (tmp_path / "two.work").exists()


def test_more_processes_than_videos_and_an_unwritable_output(videos, tmp_path):
    done = _torchrun("predict", videos / "3", "--checkpoint", CHECKPOINT, "--out", "e.json", cwd=tmp_path)
    assert done.returncode == 0 and "rank 1 of 2 has no video to do (1 videos over 2 processes)" in done.stderr
    assert json.loads((tmp_path / "e.json").read_text())["videos"][0]["video_id"] == "3"
    bad = _torchrun("predict", videos / "3", "--checkpoint", CHECKPOINT, "--out", "/proc/nope/e.json", cwd=tmp_path)
    assert bad.returncode != 0 and "--out /proc/nope/e.json: cannot write" in bad.stderr
    assert "predictor on" not in bad.stderr  # refused before any model was loaded


def test_shares_by_hand_and_what_keeps_results_apart(tmp_path):
    # largest first to the least loaded rank: 64 -> rank 0, 40 -> rank 1, then 24 to rank 1 (load 40 < 64); each
    # list in input order
    assert assign([40, 64, 24], 2) == [[1], [0, 2]]
    assert assign([40, 64, 24], 4) == [[1], [0], [2], []]
    assert assign([None, None, None], 2) == [[0, 2], [1]]
    # another checkpoint or precision is another folder: results of two models are never mixed
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text("{}")
    base = fingerprint(CHECKPOINT, {"precision": "fp32"})
    assert base != fingerprint(other, {"precision": "fp32"}) != fingerprint(CHECKPOINT, {"precision": "bf16"})
    assert base == fingerprint(CHECKPOINT, {"precision": "fp32"})
    assert WorkFolder(tmp_path, base).dir != WorkFolder(tmp_path, fingerprint(other, {"precision": "fp32"})).dir
    assert shard_from_env({}) == Shard()
    assert shard_from_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}).rank == 1
    with pytest.raises(ValueError, match="rank 2 of 2"):
        shard_from_env({"RANK": "2", "WORLD_SIZE": "2"})
