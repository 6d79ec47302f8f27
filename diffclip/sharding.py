"""Inference split over processes by whole video (issue 33; docs/design.md, "Many GPUs or machines").

Under ``torchrun`` (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``) each rank takes a share of
the videos, balanced by frame count (largest first, to the least loaded rank), runs each video whole (the median
filter, gap filling and events need whole, ordered frame sequences; a frame-level sampler that pads the last
shard would duplicate frames) and writes its per-video result atomically to a work folder beside the output.
Rank 0 then waits for every video's file and merges them into exactly the files a single process writes. The
ranks share nothing but that folder (on shared storage across machines): no collective call can hang, and
torchrun ends the run when a rank fails. A rerun reuses every finished video. The folder is named by a
fingerprint of the checkpoint's bytes and the settings that change a frame's numbers (precision, batch size,
sampling, what is kept), so results of another model or setting are never mixed in.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_path
from .inference import Predictor
from .pipeline import VideoResult, default_workers, run_source, video_result
from .postprocess import PostProcess
from .video import FrameSource

log = logging.getLogger(__name__)

_EXTRAS = ("flagged", "brightness", "features", "maps")


@dataclass(frozen=True)
class Shard:
    """This process's place in a torchrun launch (rank 0 of 1 without one)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def shard_from_env(env: dict | None = None) -> Shard:
    """The launch torchrun describes in the environment; one process without it."""
    env = os.environ if env is None else env
    try:
        world = int(env.get("WORLD_SIZE", 1))
        rank = int(env.get("RANK", 0))
        local_world = int(env.get("LOCAL_WORLD_SIZE", world))
        local_rank = int(env.get("LOCAL_RANK", rank))
    except ValueError as exc:
        raise ValueError(f"torchrun's RANK/WORLD_SIZE/LOCAL_RANK/LOCAL_WORLD_SIZE must be integers ({exc})") from None
    if not 0 <= rank < world or not 0 <= local_rank < local_world:
        raise ValueError(f"rank {rank} of {world} (local {local_rank} of {local_world}) is not a valid launch")
    return Shard(rank, world, local_rank, local_world)


def rank_device(device: torch.device, shard: Shard) -> torch.device:
    """One GPU per process: CUDA rank r of a machine takes cuda:LOCAL_RANK; other devices stay as they are."""
    if device.type == "cuda" and shard.local_world > 1 and device.index is None:
        if shard.local_rank >= torch.cuda.device_count():
            raise ValueError(f"local rank {shard.local_rank} has no GPU: this machine has {torch.cuda.device_count()}; "
                             "run at most one process per GPU (--nproc_per_node)")
        return torch.device("cuda", shard.local_rank)
    return device


def cores_per_rank(shard: Shard) -> int:
    """The CPU cores one process of this machine may use."""
    return max(1, (os.cpu_count() or 1) // shard.local_world)


def rank_predictor(checkpoint: str | Path, device: str, batch_size: int, precision: str, shard: Shard) -> Predictor:
    """This process's predictor: on a CPU under torchrun with the machine's cores shared between its processes,
    on CUDA with its own GPU (:func:`rank_device`)."""
    from .device import resolve_device

    base = resolve_device(device)
    if shard.world > 1 and base.type == "cpu":
        torch.set_num_threads(cores_per_rank(shard))
    return Predictor(checkpoint, device=rank_device(base, shard), batch_size=batch_size, precision=precision)


def rank_workers(requested: int | None, predictor: Predictor, shard: Shard) -> int:
    """Decoding processes of this rank: none on a CPU (the model keeps its cores busy), else one per spare core
    of its share of the machine (at most 16)."""
    return requested if requested is not None else default_workers(predictor, cores_per_rank(shard))


def assign(sizes: Sequence[int | None], world: int) -> list[list[int]]:
    """Video indices per rank: largest first, each to the least loaded rank (ties: the lower rank), every
    rank's list in the input order. Unknown sizes count as 1."""
    loads = [0] * world
    shares: list[list[int]] = [[] for _ in range(world)]
    for i in sorted(range(len(sizes)), key=lambda i: (-(sizes[i] or 1), i)):
        r = min(range(world), key=lambda r: (loads[r], r))
        loads[r] += sizes[i] or 1
        shares[r].append(i)
    return [sorted(s) for s in shares]


def fingerprint(checkpoint: str | Path, settings: dict) -> str:
    """16 hex digits of SHA-256 over the checkpoint's files and ``settings``: the work folder's name."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for name in ("config.json", "model.safetensors", "ood.safetensors"):
        path = Path(checkpoint) / name
        if path.is_file():
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    h.update(block)
    return h.hexdigest()[:16]


def _safe(video_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", video_id) + "-" + hashlib.sha1(video_id.encode()).hexdigest()[:8]


def _source_stamp(source: FrameSource) -> list:
    """What identifies a video's input: its path, size and modification time (a folder: its own)."""
    if source.path is None or not Path(source.path).exists():
        return [source.video_id]
    st = Path(source.path).stat()
    return [str(source.path), st.st_size, st.st_mtime_ns]


class WorkFolder:
    """Per-video results of one run's settings: ``<root>/<fingerprint>/<video>.npz``."""

    def __init__(self, root: str | Path, key: str) -> None:
        self.root = Path(root)
        self.dir = self.root / key

    def path(self, source: FrameSource) -> Path:
        return self.dir / f"{_safe(source.video_id)}.npz"

    def done(self, source: FrameSource) -> bool:
        path = self.path(source)
        if not path.is_file():
            return False
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["meta"]))["source"] == _source_stamp(source)

    def save(self, source: FrameSource, result: VideoResult) -> None:
        """Write one video's frames, times, probabilities and kept extras atomically."""
        self.dir.mkdir(parents=True, exist_ok=True)
        meta = {"video_id": source.video_id, "source": _source_stamp(source), "warnings": list(source.warnings)}
        arrays = {"frames": np.asarray(result.frames), "times": result.times, "probs": result.probs,
                  "meta": np.array(json.dumps(meta))}
        arrays |= {k: getattr(result, k) for k in _EXTRAS if getattr(result, k) is not None}
        with atomic_path(self.path(source)) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)

    def load(self, source: FrameSource, predictor: Predictor, post: PostProcess) -> VideoResult:
        """A stored video as :func:`~diffclip.pipeline.run_source` returned it (events made again from its
        probabilities, as a single process makes them); its decoding warnings go back on ``source``."""
        with np.load(self.path(source), allow_pickle=False) as z:
            result = video_result(predictor, source.video_id, z["frames"], z["times"], z["probs"], post)
            for k in _EXTRAS:
                setattr(result, k, z[k] if k in z.files else None)
            warnings = json.loads(str(z["meta"]))["warnings"]
        source.warnings[:] = warnings
        return result

    def remove(self) -> None:
        """Remove the folder after a successful merge (other settings' folders beside it stay until then too)."""
        shutil.rmtree(self.root, ignore_errors=True)


def run_sharded(predictor: Predictor, sources: Sequence[FrameSource], post: PostProcess, work: WorkFolder,
                shard: Shard, run: Callable[[FrameSource], VideoResult] | None = None,
                poll_seconds: float = 1.0) -> list[VideoResult] | None:
    """This rank's videos (reusing finished ones), then on rank 0 every video's result in the input order;
    None on the other ranks. ``run`` predicts one video (default: :func:`run_source` with ``post``)."""
    run = run or (lambda s: run_source(predictor, s, post))
    share = assign([s.estimate for s in sources], shard.world)[shard.rank]
    if not share:
        log.info("rank %d of %d has no video to do (%d videos over %d processes)", shard.rank, shard.world,
                 len(sources), shard.world)
    try:
        for done, i in enumerate(share, 1):
            source = sources[i]
            if work.done(source):
                log.info("rank %d: %s already done (reused)", shard.rank, source.video_id)
                continue
            work.save(source, run(source))
            log.info("rank %d: %d of its %d videos done; %d of %d over all ranks", shard.rank, done, len(share),
                     sum(work.path(s).is_file() for s in sources), len(sources))
        if not shard.main:
            return None
        waiting = [s for s in sources if not work.done(s)]
        if waiting:
            log.info("rank 0 waits for %d videos of the other ranks", len(waiting))
        while waiting:
            time.sleep(poll_seconds)
            waiting = [s for s in waiting if not work.done(s)]
    except (KeyboardInterrupt, SystemExit):  # Ctrl-C, or torchrun stopping this rank after another one failed
        names = ", ".join(s.video_id for s in sources if not work.path(s).is_file()) or "none"
        log.error("rank %d stopped before every video was done; not done: %s (a rerun does only these)",
                  shard.rank, names)
        raise
    return [work.load(s, predictor, post) for s in sources]


def write_probs_csv(path: str | Path, results: Sequence[VideoResult], labels: Sequence[str]) -> None:
    """The per-frame probabilities CSV a single process streams, written from merged results."""
    import csv

    from .pipeline import probability_rows

    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["video_id", "frame", *labels])
        for r in results:
            writer.writerows(probability_rows(r.video_id, r.frames, r.probs))
