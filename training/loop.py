"""The training loop: the paper's recipe, exact resume, and torchrun DDP.

Everything random is derived from the seed and the position in training (sampler order from
(seed, epoch); augmentation and mixup from (seed, global step)), and the torch RNG (dropout) is saved
with the state, so a run stopped mid-epoch and resumed ends with the same weights as one that never
stopped.
"""

from __future__ import annotations

import csv
import logging
import math
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml
from timm.utils import ModelEmaV3
from tqdm.auto import tqdm

from diffclip.atomic import atomic_path
from diffclip.checkpoint import save_checkpoint
from diffclip.device import autocast, autocast_dtype, precision_name, resolve_device
from diffclip.factory import build_model
from diffclip.model import DiffCLIPClassifier
from diffclip.staged_folder import staged_folder

from . import distributed as dist_utils
from .config import TrainConfig
from .data import FrameSet, build_frame_sets, raw_batches
from .fit_ood import fit_checkpoints, settings_for_training
from .losses import AsymmetricFocalLoss, TextPromptLoss, pos_weight_from_targets
from .metrics import frame_metrics, search_thresholds
from .mixup import mixup
from .sampler import EpochSampler, sqrt_frequency_weights

log = logging.getLogger(__name__)

STATE_NAME = "state.pt"
METRICS_NAME = "metrics.csv"
INTERRUPTED_EXIT = 143


class Interrupted(Exception):
    """Training stopped on SIGTERM/SIGINT after saving its state."""


def parameter_groups(model: DiffCLIPClassifier, lr: float, backbone_scale: float, extra: list | None = None):
    """Two AdamW groups: head, lambda parameters and the text term at ``lr``; the rest of the backbone at
    ``lr * backbone_scale``."""
    head, backbone = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        is_lambda = name.rsplit(".", 1)[-1].startswith("lambda")
        (head if name.startswith("head.") or is_lambda else backbone).append(p)
    head += list(extra or [])
    return [
        {"params": head, "lr": lr, "name": "head"},
        {"params": backbone, "lr": lr * backbone_scale, "name": "backbone"},
    ]


def make_ema(model: torch.nn.Module, cfg: TrainConfig) -> ModelEmaV3:
    """The weight average. Without warm-up, the paper's: it starts from the weights before the first step and
    moves with the constant decay from the first update, averaging parameters while buffers stay the model's
    (docs/design.md, "The paper's recipe"); with warm-up (the demo configs), timm's: a copy at the first step,
    then a decay that warms up, buffers averaged too."""
    return ModelEmaV3(model, decay=cfg.ema_decay, use_warmup=cfg.ema_warmup, exclude_buffers=not cfg.ema_warmup)


def update_ema(ema: ModelEmaV3, model: torch.nn.Module, step: int, cfg: TrainConfig) -> None:
    """One update after optimiser step ``step`` (1-based); without warm-up no step is passed, so timm applies
    the constant decay instead of copying at the first step."""
    ema.update(model, step=step if cfg.ema_warmup else None)


@dataclass
class TrainState:
    epoch: int = 0
    batch: int = 0  # next batch within the epoch
    step: int = 0  # global optimiser steps done
    best: float = -math.inf
    stale: int = 0  # epochs since the best val mAP (early stopping)
    history: list[dict] = field(default_factory=list)


def _text_features(cfg: TrainConfig, labels) -> torch.Tensor:
    """Frozen BiomedCLIP text embeddings of the label prompts (needs the hub weights and transformers)."""
    import open_clip

    from diffclip.backbones import BIOMEDCLIP_HUB_ID

    clip, _ = open_clip.create_model_from_pretrained(BIOMEDCLIP_HUB_ID)
    tokenizer = open_clip.get_tokenizer(BIOMEDCLIP_HUB_ID)
    with torch.no_grad():
        return clip.encode_text(tokenizer([cfg.text_prompt.format(label=lab) for lab in labels])).float()


class Trainer:
    """One training run (see :func:`train`)."""

    def __init__(self, cfg: TrainConfig, resume: bool = False) -> None:
        self.cfg = cfg
        self.out = Path(cfg.out_dir)
        base_device = resolve_device(cfg.device)
        self.rank, self.world = dist_utils.init_distributed(base_device)
        self.device = dist_utils.local_device(base_device)
        self.main = self.rank == 0
        torch.manual_seed(cfg.seed + self.rank)
        model = build_model(cfg.backbone, cfg.attention, weights=cfg.weights, dropout=cfg.dropout)
        self.train_set, self.val_set = build_frame_sets(cfg, model.config.preprocess)
        if self.world > 1:
            dist_utils.globalise_batchnorm(model)
        self.model = model.to(self.device)
        self.amp_dtype = autocast_dtype(self.device, cfg.amp)
        self.scaler = torch.amp.GradScaler(enabled=self.amp_dtype == torch.float16)

        targets = self.train_set.targets.numpy()
        pos_weight = pos_weight_from_targets(targets, cfg.pos_weight_max) if cfg.pos_weight else None
        self.criterion = AsymmetricFocalLoss(
            cfg.gamma_pos, cfg.gamma_neg, cfg.clip, cfg.label_smoothing, pos_weight=pos_weight,
        ).to(self.device)
        self.text_loss = None
        if cfg.text_weight > 0:
            self.text_loss = TextPromptLoss(_text_features(cfg, model.labels), pos_weight).to(self.device)
        extra = list(self.text_loss.parameters()) if self.text_loss is not None else []
        self.clipped = [*self.model.parameters(), *extra]
        self.optimizer = torch.optim.AdamW(
            parameter_groups(self.model, cfg.lr, cfg.backbone_lr_scale, extra), lr=cfg.lr, weight_decay=cfg.weight_decay
        )
        weights = sqrt_frequency_weights(targets) if cfg.sampler == "sqrt" else None
        self.sampler = EpochSampler(len(self.train_set), weights, cfg.samples_per_epoch, cfg.seed, self.rank, self.world)
        self.steps_per_epoch = self.sampler.num_batches(cfg.batch_size)
        if self.steps_per_epoch < 1:
            raise ValueError(
                f"{self.sampler.num_samples} samples per epoch is less than one global batch of "
                f"{cfg.batch_size * self.world}; lower batch_size"
            )
        self.total_steps = cfg.epochs * self.steps_per_epoch
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer, max_lr=[g["lr"] for g in self.optimizer.param_groups], total_steps=self.total_steps,
            pct_start=cfg.pct_start, anneal_strategy="cos", div_factor=cfg.div_factor,
            final_div_factor=cfg.final_div_factor,
        )
        self.ema = make_ema(self.model, cfg) if cfg.ema else None
        self.ddp = self.model
        if self.world > 1:
            self.ddp = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        self.state = TrainState()
        self._stop = False
        if resume:
            self._load_state()
        if self.main:
            log.info("training on %s in %s, %d process(es)", self.device, precision_name(self.amp_dtype), self.world)
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))

    # ------------------------------------------------------------------ state
    def _state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "text_loss": self.text_loss.state_dict() if self.text_loss is not None else None,
            "scaler": self.scaler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "progress": {"epoch": self.state.epoch, "batch": self.state.batch, "step": self.state.step,
                         "best": self.state.best, "stale": self.state.stale, "world_size": self.world},
            "history": self.state.history,
            "config": self.cfg.to_dict(),
        }

    def save_state(self) -> None:
        """Write the resume state atomically (rank 0 only)."""
        if self.main:
            with atomic_path(self.out / STATE_NAME) as tmp:
                torch.save(self._state_dict(), tmp)

    def _load_state(self) -> None:
        path = self.out / STATE_NAME
        if not path.is_file():
            raise FileNotFoundError(f"cannot resume: {path} does not exist (no earlier run in {self.out})")
        # weights_only: tensors, dicts and numbers only, never arbitrary pickled objects
        st = torch.load(path, map_location="cpu", weights_only=True)
        if st["progress"]["world_size"] != self.world:
            raise ValueError(f"{path} was written with {st['progress']['world_size']} processes, now {self.world}")
        self.model.load_state_dict(st["model"])
        self.optimizer.load_state_dict(st["optimizer"])
        self.scheduler.load_state_dict(st["scheduler"])
        if self.ema is not None:
            self.ema.load_state_dict(st["ema"])
        if self.text_loss is not None:
            self.text_loss.load_state_dict(st["text_loss"])
        self.scaler.load_state_dict(st["scaler"])
        torch.set_rng_state(st["torch_rng"])
        if st["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(st["cuda_rng"])
        p = st["progress"]
        self.state = TrainState(epoch=p["epoch"], batch=p["batch"], step=p["step"], best=p["best"],
                                stale=p.get("stale", 0), history=list(st["history"]))  # states before "stale": 0
        log.info("resumed from %s at epoch %d, batch %d (step %d)", path, p["epoch"], p["batch"], p["step"])

    # ------------------------------------------------------------------ steps
    def _train_step(self, indices: list[int], raw: torch.Tensor) -> float:
        cfg = self.cfg
        step = self.state.step
        # Item i of this rank's batch is item rank + i * world of the global batch.
        seeds = [(cfg.seed * 1_000_003 + step) * 4_099 + self.rank + i * self.world for i in range(len(indices))]
        x = self.train_set.batch(indices, augment_seeds=seeds if cfg.augment else None, raw=raw)
        y = self.train_set.targets[indices]
        if cfg.mixup:
            x, y, _ = mixup(x, y, np.random.default_rng([cfg.seed, step]), cfg.mixup_alpha, cfg.mixup_min_lambda)
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        self.ddp.train()
        with autocast(self.device, self.amp_dtype):
            if self.text_loss is None:
                loss = self.criterion(self.ddp(x), y)
            else:
                logits, feats = self.ddp(x, return_features=True)
                loss = self.criterion(logits, y) + cfg.text_weight * self.text_loss(feats, y)
        if not torch.isfinite(loss):
            # docs/design.md, "Where we differ": the paper skips such batches silently
            raise FloatingPointError(f"non-finite loss {loss.item()} at step {self.state.step + 1}; the last saved "
                                     f"state is in {self.out / 'state.pt'} (lower lr or use amp=fp32)")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if cfg.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            # the text-prompt temperature is clipped with the rest, as the paper's (a model parameter there)
            torch.nn.utils.clip_grad_norm_(self.clipped, cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.state.step += 1
        if self.ema is not None:
            update_ema(self.ema, self.model, self.state.step, cfg)
        return float(loss.detach())

    @torch.no_grad()
    def predict_logits(self, frames: FrameSet) -> torch.Tensor:
        """Logits of the evaluated (EMA) model on every frame of ``frames``, on the CPU."""
        model = self.eval_model.eval()
        out = []
        for s in range(0, len(frames), self.cfg.eval_batch_size):
            idx = list(range(s, min(s + self.cfg.eval_batch_size, len(frames))))
            with autocast(self.device, self.amp_dtype):
                out.append(model(frames.batch(idx).to(self.device)).float().cpu())
        return torch.cat(out)

    @property
    def eval_model(self) -> DiffCLIPClassifier:
        return self.ema.module if self.ema is not None else self.model

    # ------------------------------------------------------------------ epochs
    def _on_signal(self, signum, _frame) -> None:
        log.warning("received signal %d: stopping after this step and saving the state", signum)
        self._stop = True

    def _evaluate(self, epoch: int, train_loss: float, seconds: float) -> dict:
        logits = self.predict_logits(self.val_set)
        probs = torch.sigmoid(logits).numpy()
        targets = self.val_set.targets.numpy()
        val_loss = float(self.criterion.cpu()(logits, self.val_set.targets))
        self.criterion.to(self.device)
        thresholds = search_thresholds(probs, targets)
        metrics = frame_metrics(probs, targets, thresholds, self.model.labels)
        row = {
            "epoch": epoch + 1, "step": self.state.step, "train_loss": train_loss, "val_loss": val_loss,
            "val_map_supported": metrics["map_supported"], "val_map_all": metrics["map_all"],
            "val_mauc": metrics["mauc_supported"], "val_macro_f1": metrics["macro_f1_supported"],
            "lr": self.optimizer.param_groups[0]["lr"], "seconds": seconds,
        }
        return {"row": row, "metrics": metrics, "thresholds": thresholds, "probs": probs, "targets": targets}

    def _write_outputs(self, result: dict) -> None:
        row = result["row"]
        self.state.history.append(row)
        with atomic_path(self.out / METRICS_NAME) as tmp:
            with open(tmp, "w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(row))
                writer.writeheader()
                writer.writerows(self.state.history)
        from .plots import plot_training_curves

        plot_training_curves(self.state.history, self.out / "curves.png", title=self.cfg.name)
        meta = {
            "thresholds": result["thresholds"].tolist(),
            "metrics": {"epoch": row["epoch"], **{k: v for k, v in result["metrics"].items()}},
            "training": {
                "run": self.cfg.name, "data": self.cfg.data, "data_root": self.cfg.data_root,
                "synthetic": self.cfg.data == "synthetic", "epochs_done": row["epoch"], "steps": self.state.step,
                "config": self.cfg.to_dict(), "weights": "ema" if self.ema is not None else "raw",
                "command": f"diffclip train --config training/configs/{self.cfg.name}.yaml",
            },
        }
        _save_dir(self.eval_model, self.out / "last", meta)
        if self.cfg.epoch_plots:
            from .plots import plot_epoch_curves

            plot_epoch_curves(result["probs"], result["targets"], result["metrics"], self.model.labels,
                              self.out / "curves", f"val_ep{row['epoch']}")
        if row["val_map_supported"] > self.state.best:
            self.state.best = row["val_map_supported"]
            self.state.stale = 0
            _save_dir(self.eval_model, self.out / "best", meta)
        else:  # as the paper's: a tie is not an improvement
            self.state.stale += 1

    def fit(self) -> Path:
        cfg = self.cfg
        previous = signal.signal(signal.SIGTERM, self._on_signal)
        previous_int = signal.signal(signal.SIGINT, self._on_signal)
        try:
            while self.state.epoch < cfg.epochs:
                epoch = self.state.epoch
                start = time.time()
                losses = []
                batches = raw_batches(self.train_set, self.sampler.batches(epoch, cfg.batch_size, self.state.batch),
                                      cfg.workers)
                bar = tqdm(batches, total=self.steps_per_epoch, initial=self.state.batch, disable=not self.main,
                           desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", leave=False)
                for indices, raw in bar:
                    losses.append(self._train_step(indices, raw))
                    self.state.batch += 1
                    bar.set_postfix(loss=f"{losses[-1]:.4f}")
                    if self._stop:
                        self.save_state()
                        raise Interrupted(f"stopped at epoch {epoch + 1}, batch {self.state.batch}")
                    if cfg.save_every_steps and self.state.step % cfg.save_every_steps == 0:
                        self.save_state()
                bar.close()
                self.state.epoch += 1
                self.state.batch = 0
                if self.main:
                    result = self._evaluate(epoch, float(np.mean(losses)) if losses else float("nan"),
                                            time.time() - start)
                    self._write_outputs(result)
                    r = result["row"]
                    log.info("epoch %d/%d  train loss %.4f  val loss %.4f  val mAP %.3f (labels with support) "
                             "%.3f (all 17)  %.0fs", r["epoch"], cfg.epochs, r["train_loss"], r["val_loss"],
                             r["val_map_supported"], r["val_map_all"], r["seconds"])
                self.save_state()
                dist_utils.barrier()
                if cfg.early_stop_patience and dist_utils.broadcast_int(self.state.stale) >= cfg.early_stop_patience:
                    log.info("early stop after epoch %d: %d epochs without a better val mAP", self.state.epoch,
                             cfg.early_stop_patience)
                    break
        finally:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)
        if self.main and cfg.export_dir:
            export = Path(cfg.export_dir)
            with staged_folder(export, empty=True) as tmp:
                shutil.copytree(self.out / "best", tmp, dirs_exist_ok=True)
                if cfg.data == "synthetic":  # the out-of-distribution statistics need frames like the training ones
                    fit_checkpoints([tmp], settings_for_training(cfg.to_dict()))
            log.info("exported the best checkpoint to %s", export)
        return self.out


def _save_dir(model: DiffCLIPClassifier, dst: Path, meta: dict) -> None:
    with staged_folder(dst, empty=True) as tmp:  # a checkpoint folder is never half-written
        save_checkpoint(model, tmp, **meta)


def train(cfg: TrainConfig, resume: bool = False) -> Path:
    """Train with ``cfg``; with ``resume`` continue from ``out_dir/state.pt``. Returns the run directory.
    Raises :class:`Interrupted` after saving the state when stopped by SIGTERM or SIGINT."""
    try:
        return Trainer(cfg, resume=resume).fit()
    finally:
        dist_utils.cleanup()
