"""The one model pass of an error analysis: per-frame probabilities of a labelled set, cached by content
(the checkpoint's weights, the frames' bytes, the precision), so that thresholds, tags and reports never
run the model again (docs/design.md, "Error analysis")."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..inference import Predictor
from ..pipeline import VideoResult, predict_sources, video_result
from ..postprocess import DEFAULT_POSTPROCESS, PostProcess
from .labelled_set import LabelledSet

log = logging.getLogger(__name__)


@dataclass
class ModelPass:
    """Every sampled frame of a labelled set: its video and number, the model's probabilities, whether its
    truth is known and its true labels; and each video's predicted events (post-processed as
    ``diffclip predict`` does)."""

    key: str
    labels: tuple[str, ...]
    thresholds: np.ndarray  # (L,) the checkpoint's
    video_ids: np.ndarray  # (N,) str
    frames: np.ndarray  # (N,) int64
    probs: np.ndarray  # (N, L) float32
    known: np.ndarray  # (N,) bool
    truth: np.ndarray  # (N, L) bool
    events: dict[str, list[dict]]  # video id -> predicted label-set events
    cached: bool = False
    #: (N,) True where the frame does not look like a capsule frame (diffclip.ood); all False without statistics
    flagged: np.ndarray | None = None
    brightness: np.ndarray | None = None  #: (N,) mean pixel of the crop in [0, 1]
    features: np.ndarray | None = None  #: (N, D) float16 pooled features (the map and similar frames)
    maps: np.ndarray | None = None  #: (N, gh, gw) float16 attention, when the pass was asked to read it

    def __len__(self) -> int:
        return len(self.frames)

    def where(self, video_id: str, frame: int) -> int:
        """The row of frame ``frame`` of ``video_id``."""
        hit = np.flatnonzero((self.video_ids == video_id) & (self.frames == frame))
        if not len(hit):
            raise KeyError(f"frame {frame} of video {video_id!r} is not in this analysis")
        return int(hit[0])


def model_digest(predictor: Predictor) -> str:
    """A digest of the model's weights (every tensor of its state dict, in key order)."""
    import torch

    h = hashlib.blake2b(digest_size=16)
    for name, tensor in sorted(predictor.model.state_dict().items()):
        h.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}".encode())
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def pass_key(predictor: Predictor, data: LabelledSet) -> str:
    """What the probabilities depend on: the weights, the frames' bytes and the precision."""
    text = f"{model_digest(predictor)} {data.fingerprint()} {predictor.precision}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


_MEMORY: OrderedDict[str, dict[str, np.ndarray]] = OrderedDict()
PASS_ARRAYS = ("video_ids", "frames", "probs", "flagged", "brightness", "features")  # what every pass keeps
_MEMORY_LOCK = threading.Lock()
MEMORY_ENTRIES = 4  # passes kept in memory by a process (the app's sessions share them)


def run_pass(predictor: Predictor, data: LabelledSet, cache_dir: str | Path | None = None,
             post: PostProcess = DEFAULT_POSTPROCESS, progress: bool = True, workers: int | None = None,
             key: str | None = None, readout: Callable | None = None,
             results: Sequence[VideoResult] | None = None) -> ModelPass:
    """Probabilities for every sampled frame of ``data``: from this process's memory or ``cache_dir``
    when the same weights have seen the same frames at the same precision, else from one streamed pass
    through the pipeline (a progress bar on the terminal, or in the app through Gradio's tqdm tracking).
    With ``readout`` (see :func:`diffclip.pipeline.run_source`) the pass also keeps each frame's attention
    as it reads it, so that pictures of it need no model later; a cached pass without it runs again.
    ``results``: the pass already made (with extras) by processes that shared the videos (diffclip.sharding)."""
    key = key or pass_key(predictor, data)
    wanted = PASS_ARRAYS + (("maps",) if readout is not None else ())
    cached = True
    with _MEMORY_LOCK:
        hit = _MEMORY.get(key)
        if hit is not None and set(wanted) <= set(hit):
            _MEMORY.move_to_end(key)
        else:
            hit = None
    path = Path(cache_dir) / f"pass-{key}.npz" if cache_dir is not None else None
    if hit is None and path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            # a pass cached before everything wanted was kept (flags, features, maps) runs again
            hit = {k: z[k] for k in z.files} if set(wanted) <= set(z.files) else None
        if hit is not None:
            log.info("model pass read from %s", path)
    if hit is None:
        cached = False
        if results is None:
            results, stats = predict_sources(predictor, data.sources, post, progress=progress, workers=workers,
                                             extras=True, readout=readout)
            log.info("model pass: %d frames in %.1f s", stats.frames, stats.seconds)
        hit = {"video_ids": np.concatenate([np.full(len(r.frames), r.video_id, dtype=object)
                                            for r in results]).astype(str),
               "frames": np.concatenate([r.frames for r in results]).astype(np.int64),
               "probs": np.concatenate([r.probs for r in results]).astype(np.float32),
               "flagged": np.concatenate([r.flagged for r in results]).astype(bool),
               "brightness": np.concatenate([r.brightness for r in results]).astype(np.float32),
               "features": np.concatenate([r.features for r in results]).astype(np.float16)}
        if readout is not None:
            hit["maps"] = np.concatenate([r.maps for r in results]).astype(np.float16)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, **hit)
    with _MEMORY_LOCK:
        _MEMORY[key] = hit
        _MEMORY.move_to_end(key)
        while len(_MEMORY) > MEMORY_ENTRIES:
            _MEMORY.popitem(last=False)
    return _assemble(predictor, data, key, hit, post=post, cached=cached)


def _assemble(predictor: Predictor, data: LabelledSet, key: str, arrays: dict[str, np.ndarray], post: PostProcess,
              cached: bool) -> ModelPass:
    video_ids, frames, probs = arrays["video_ids"], arrays["frames"], arrays["probs"]
    labels = tuple(predictor.labels)
    if labels != tuple(data.labels):
        raise ValueError(f"the checkpoint's labels differ from the data's: {labels} vs {tuple(data.labels)}")
    known = np.zeros(len(frames), bool)
    truth = np.zeros(probs.shape, bool)
    events = {}
    for video in data.videos:
        rows = np.flatnonzero(video_ids == video.video_id)
        known[rows], truth[rows] = video.truth(frames[rows], labels)
        times = np.full(len(rows), np.nan)
        events[video.video_id] = video_result(predictor, video.video_id, frames[rows], times, probs[rows], post).events
    return ModelPass(key, labels, np.asarray(predictor.thresholds, np.float32).copy(), video_ids, frames, probs,
                     known, truth, events, cached, arrays["flagged"], arrays["brightness"], arrays["features"],
                     arrays.get("maps"))
