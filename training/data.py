"""Training data: build train/validation frame sets from a config, decoded once into memory when
they fit, with cheap deterministic augmentation on batches."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from diffclip.backbones import Preprocess
from diffclip.images import load_crop

from .config import TrainConfig
from .galar_splits import FrameRecord, GalarIndex, read_split, scan_galar, split_by_video

log = logging.getLogger(__name__)


def load_frame(path: Path, preprocess: Preprocess) -> torch.Tensor:
    """A frame as a (3, S, S) uint8 tensor after the model's resize and centre crop (no normalisation)."""
    return load_crop(path, preprocess.image_size, preprocess.interpolation)


@dataclass
class FrameSet:
    """Frames with their targets; ``images`` holds them decoded in memory when cached."""

    records: list[FrameRecord]
    targets: torch.Tensor  # (N, L) float
    preprocess: Preprocess
    images: torch.Tensor | None = None  # (N, 3, S, S) uint8

    def __len__(self) -> int:
        return len(self.records)

    @classmethod
    def from_index(cls, index: GalarIndex, preprocess: Preprocess, cache: bool, desc: str) -> FrameSet:
        if len(index) == 0:
            raise ValueError(f"no frames for the {desc} set")
        targets = torch.from_numpy(index.targets().astype(np.float32))
        images = None
        if cache:
            images = torch.stack([load_frame(r.path, preprocess)
                                  for r in tqdm(index.records, desc=f"load {desc}", unit="frame", leave=False)])
        return cls(index.records, targets, preprocess, images)

    def raw(self, indices: list[int]) -> torch.Tensor:
        if self.images is not None:
            return self.images[indices]
        return torch.stack([load_frame(self.records[i].path, self.preprocess) for i in indices])

    def batch(self, indices: list[int], augment_seeds: list[int] | None = None,
              raw: torch.Tensor | None = None) -> torch.Tensor:
        """Normalised float batch. With ``augment_seeds`` (one per item), random flips and quarter turns
        (a capsule frame has no "up"), each drawn from its item's seed so that any batch, on any rank,
        can be reproduced exactly."""
        x = (self.raw(indices) if raw is None else raw).float().div_(255.0)
        if augment_seeds is not None:
            out = []
            for xi, seed in zip(x, augment_seeds, strict=True):
                g = torch.Generator().manual_seed(seed)
                flip_h, flip_v, turns = torch.randint(0, 2, (2,), generator=g).tolist() + [
                    int(torch.randint(0, 4, (1,), generator=g))]
                if flip_h:
                    xi = xi.flip(-1)
                if flip_v:
                    xi = xi.flip(-2)
                out.append(torch.rot90(xi, turns, dims=(-2, -1)))
            x = torch.stack(out)
        return self.preprocess.normalize(x)


def ensure_synthetic(cfg: TrainConfig) -> Path:
    """Generate the synthetic training set unless the same settings were generated before."""
    import json

    from .synthetic import generate

    root = Path(cfg.data_root)
    marker = root / "synth.json"
    wanted = {"frames": cfg.synth_frames, "seed": cfg.synth_seed, "rare_share": cfg.synth_rare_share,
              "size": cfg.synth_size, "lookalikes": cfg.synth_lookalikes}
    if marker.is_file():
        saved = json.loads(marker.read_text())
        made = {"lookalikes": 0.0, **saved["config"]}  # sets generated before look-alikes existed had none
        if {k: made.get(k) for k in wanted} == wanted and len(saved["videos"]) == cfg.synth_videos:
            return root
        raise ValueError(
            f"{root} holds synthetic data made with other settings ({saved['config']}); "
            "choose another data_root or delete it"
        )
    log.info("generating %d synthetic videos x %d frames in %s", cfg.synth_videos, cfg.synth_frames, root)
    generate(root, videos=cfg.synth_videos, frames=cfg.synth_frames, seed=cfg.synth_seed,
             rare_share=cfg.synth_rare_share, size=cfg.synth_size, lookalikes=cfg.synth_lookalikes)
    return root


def build_frame_sets(cfg: TrainConfig, preprocess: Preprocess) -> tuple[FrameSet, FrameSet]:
    """Train and validation sets for ``cfg`` (split by whole videos)."""
    root = ensure_synthetic(cfg) if cfg.data == "synthetic" else Path(cfg.data_root)
    if cfg.train_split and cfg.val_split:
        train_idx, val_idx = read_split(cfg.train_split, root), read_split(cfg.val_split, root)
    else:
        train_idx, val_idx = split_by_video(scan_galar(root, every=cfg.every, reader=cfg.galar_reader), cfg.val_fraction, cfg.split_seed)
    if cfg.max_train_frames and len(train_idx) > cfg.max_train_frames:
        keep = np.random.default_rng(cfg.seed).choice(len(train_idx), cfg.max_train_frames, replace=False)
        train_idx = GalarIndex([train_idx.records[i] for i in sorted(keep)])
    log.info("train: %d frames from %d videos; val: %d frames from %d videos",
             len(train_idx), len(train_idx.video_ids), len(val_idx), len(val_idx.video_ids))
    return (FrameSet.from_index(train_idx, preprocess, cfg.cache_images, "train"),
            FrameSet.from_index(val_idx, preprocess, cfg.cache_images, "val"))


class RawFrames(torch.utils.data.Dataset):
    """Item i of a FrameSet as a uint8 crop, for DataLoader worker processes (uncached sets)."""

    def __init__(self, frames: FrameSet) -> None:
        self.records, self.preprocess = frames.records, frames.preprocess

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> torch.Tensor:
        return load_frame(self.records[i].path, self.preprocess)


def raw_batches(frames: FrameSet, batches, workers: int):
    """(indices, uint8 batch) for each list of indices in ``batches``: from memory when the set is
    cached or ``workers`` is 0, else decoded by ``workers`` processes, in order."""
    batches = list(batches)
    if frames.images is not None or workers <= 0:
        for idx in batches:
            yield idx, frames.raw(idx)
        return
    # Its own generator: the loader must not draw from the global RNG, which drives dropout and is
    # part of the resume state.
    loader = torch.utils.data.DataLoader(RawFrames(frames), batch_sampler=batches, num_workers=workers,
                                         collate_fn=torch.stack, generator=torch.Generator().manual_seed(0))
    yield from zip(batches, loader, strict=True)
