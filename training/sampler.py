"""Square-root inverse-frequency sampling, resumable mid-epoch and shardable across ranks."""

from __future__ import annotations

import numpy as np
import torch


def sqrt_frequency_weights(targets: np.ndarray) -> np.ndarray:
    """Frame weights for imbalanced multi-label data, as the paper's code computes them: label j weighs
    ``1 / sqrt((P_j + 1) / N)`` over N frames with P_j positives, a frame takes the weight of its rarest
    (heaviest) label, and a frame without labels weighs 1."""
    t = np.asarray(targets) > 0.5
    label_w = 1.0 / np.sqrt((t.sum(axis=0) + 1.0) / t.shape[0])
    frame_w = np.where(t, label_w[None, :], 0.0).max(axis=1, initial=0.0)
    return np.where(t.any(axis=1), frame_w, 1.0)


class EpochSampler:
    """Draws each epoch's sample order from a generator seeded by (seed, epoch), so any epoch and any
    position in it can be reproduced after a restart. With ``weights`` it samples with replacement
    (``torch.multinomial``); without, it permutes. Under DDP every rank draws the same global order
    and takes every ``world_size``-th index, so the ranks' batches together form exactly the global
    batch a single process would see."""

    def __init__(
        self,
        num_items: int,
        weights: np.ndarray | None = None,
        num_samples: int | None = None,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if num_items < 1:
            raise ValueError("cannot sample from an empty dataset")
        self.num_items = num_items
        self.weights = None if weights is None else torch.as_tensor(np.asarray(weights), dtype=torch.float64)
        self.num_samples = num_samples or num_items
        self.seed, self.rank, self.world_size = seed, rank, world_size

    def global_order(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        if self.weights is None:
            order = torch.randperm(self.num_items, generator=g)
            reps = -(-self.num_samples // self.num_items)
            return torch.cat([order] * reps)[: self.num_samples] if reps > 1 else order[: self.num_samples]
        return torch.multinomial(self.weights, self.num_samples, replacement=True, generator=g)

    def batches(self, epoch: int, batch_size: int, start: int = 0):
        """This rank's batches (lists of indices) of ``epoch`` from batch ``start`` on; a global batch
        is ``batch_size * world_size`` items and the last incomplete one is dropped."""
        order = self.global_order(epoch)
        global_batch = batch_size * self.world_size
        for b in range(start, self.num_batches(batch_size)):
            chunk = order[b * global_batch : (b + 1) * global_batch]
            yield chunk[self.rank :: self.world_size].tolist()

    def num_batches(self, batch_size: int) -> int:
        return self.num_samples // (batch_size * self.world_size)
