"""torchrun support: process-group set-up, rank helpers and a BatchNorm that sees the global batch."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
import torch.nn as nn


def init_distributed(device: torch.device) -> tuple[int, int]:
    """Join the process group when launched by torchrun (gloo on CPU, nccl on CUDA); return
    (rank, world_size), (0, 1) for a plain single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def local_device(device: torch.device) -> torch.device:
    """Under torchrun on CUDA, each rank takes the GPU of its LOCAL_RANK."""
    if device.type == "cuda" and "LOCAL_RANK" in os.environ:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def broadcast_int(value: int) -> int:
    """Rank 0's ``value`` on every rank (itself without a process group)."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    t = torch.tensor([value], dtype=torch.long, device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.broadcast(t, src=0)
    return int(t.item())


def cleanup() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


class GlobalBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d whose training statistics are those of the global batch across ranks, computed
    with a differentiable all-reduce. torch's SyncBatchNorm only runs on GPUs; this one runs on gloo
    too, so that DDP on CPU computes what a single process with the global batch computes.

    Statistics are computed and kept in fp32 whatever the input's dtype (as torch's own BatchNorm does
    under autocast), and the output has the input's dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized()):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        in_dtype = x.dtype
        x = x.float()
        n_local = torch.tensor([x.shape[0]], dtype=x.dtype, device=x.device)
        stats = torch.cat([x.sum(0), (x * x).sum(0), n_local])
        stats = all_reduce(stats)
        c = x.shape[1]
        total = stats[-1]
        mean = stats[:c] / total
        var = stats[c : 2 * c] / total - mean * mean
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                unbiased = var * total / (total - 1)
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(unbiased, self.momentum)
        out = (x - mean) / torch.sqrt(var + self.eps)
        out = out * self.weight.float() + self.bias.float() if self.affine else out
        return out.to(in_dtype)


def globalise_batchnorm(module: nn.Module) -> nn.Module:
    """Swap every BatchNorm1d in ``module`` for :class:`GlobalBatchNorm1d`, keeping its state."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm1d:
            new = GlobalBatchNorm1d(child.num_features, child.eps, child.momentum, child.affine,
                                    child.track_running_stats)
            new.load_state_dict(child.state_dict())
            setattr(module, name, new.to(next(child.parameters()).device))
        else:
            globalise_batchnorm(child)
    return module
