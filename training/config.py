"""Training configuration: a flat dataclass, read from YAML and overridden with ``key=value``."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass
class TrainConfig:
    """Every knob of a training run. The loss, sampler, mixup, EMA and optimiser defaults are the paper's
    recipe (docs/design.md, "The paper's recipe"); training/configs/galar-biomedclip.yaml sets the rest of
    it (5 epochs, every 5th frame file, 15% of the videos for validation, fp16 AMP)."""

    name: str = "run"
    out_dir: str = "runs/run"
    export_dir: str | None = None  # copy the best checkpoint here at the end
    seed: int = 0
    device: str = "auto"
    # model
    backbone: str = "biomedclip"
    attention: str = "diff"
    weights: str | None = None  # None, "biomedclip" or a checkpoint directory
    dropout: float = 0.4
    # data
    data: str = "synthetic"  # "synthetic" or "galar"
    data_root: str = "data/synthetic"
    synth_videos: int = 8
    synth_frames: int = 500
    synth_seed: int = 0
    synth_rare_share: float = 0.02
    synth_size: int = 224
    synth_lookalikes: float = 0.0  # look-alike distractors (training.synthetic.lookalikes); 0: none
    train_split: str | None = None  # Galar split CSVs (path column); else a seeded split by video
    val_split: str | None = None
    val_fraction: float = 0.2
    split_seed: int = 0
    every: int = 1
    galar_reader: str = "ours"  # "paper": its frame column and every n-th file on disk (diffclip.galar)
    max_train_frames: int | None = None
    cache_images: bool = True
    workers: int = 0
    augment: bool = True
    # optimisation
    epochs: int = 5
    batch_size: int = 128
    lr: float = 3e-4
    backbone_lr_scale: float = 0.3
    weight_decay: float = 5e-4
    pct_start: float = 0.15
    div_factor: float = 10.0  # OneCycle starts at lr / 10 and ends at lr / 10 / 100, as the paper's code
    final_div_factor: float = 100.0
    grad_clip: float = 1.0
    amp: str = "auto"
    # imbalance
    sampler: str = "sqrt"  # "sqrt" or "uniform"
    samples_per_epoch: int | None = None
    gamma_pos: float = 1.0
    gamma_neg: float = 4.0
    clip: float = 0.05
    label_smoothing: float = 0.05
    pos_weight: bool = True
    pos_weight_max: float = 100.0
    mixup: bool = True
    mixup_alpha: float = 0.3
    mixup_min_lambda: float = 0.5
    ema: bool = True
    ema_decay: float = 0.999
    ema_warmup: bool = False
    text_weight: float = 0.4
    text_prompt: str = "a video capsule endoscopy image showing {label}"
    early_stop_patience: int = 0  # stop after this many epochs without a better val mAP (the paper: 15); 0 off
    # bookkeeping
    epoch_plots: bool = False  # per-epoch per-label PR, ROC and bar plots in <out_dir>/curves (as the paper's)
    eval_batch_size: int = 64
    save_every_steps: int = 200
    log_every_steps: int = 10

    def __post_init__(self) -> None:
        if self.data not in ("synthetic", "galar"):
            raise ValueError(f"data must be 'synthetic' or 'galar', got {self.data!r}")
        if self.galar_reader not in ("ours", "paper"):
            raise ValueError(f"galar_reader must be 'ours' or 'paper', got {self.galar_reader!r}")
        if self.sampler not in ("sqrt", "uniform"):
            raise ValueError(f"sampler must be 'sqrt' or 'uniform', got {self.sampler!r}")
        if self.early_stop_patience < 0:
            raise ValueError(f"early_stop_patience must be >= 0 (0: off), got {self.early_stop_patience}")
        for name in ("epochs", "batch_size", "eval_batch_size", "every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _coerce(name: str, value):
    """Check and convert a YAML value to the field's declared type."""
    # every field is a single value; refusing lists and mappings first also keeps a YAML alias bomb from
    # being expanded by str() or repr() below
    if isinstance(value, (list, dict)):
        raise ValueError(f"config key '{name}' must be a single value, got a {type(value).__name__}")
    hints = typing.get_type_hints(TrainConfig)
    tp = hints[name]
    args = typing.get_args(tp)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), tp) if isinstance(tp, types.UnionType) or args else tp
    if value is None:
        if optional:
            return None
        raise ValueError(f"config key '{name}' cannot be null")
    if base is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"config key '{name}' must be true or false, got {value!r}")
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"config key '{name}' must be an integer, got {value!r}")
        return value
    if base is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"config key '{name}' must be a number, got {value!r}")
        return float(value)
    return str(value)


def safe_yaml(text: str, where: str, lines: bool = True):
    """``yaml.safe_load`` (plain values only: a tag such as ``!!python/object`` is never constructed), with
    any YAML error turned into a one-line ValueError that starts with ``where`` (and the line)."""
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"{where}:{mark.line + 1}" if lines and mark is not None else where
        problem = exc.problem or exc.context or "invalid YAML"
        if isinstance(exc, yaml.constructor.ConstructorError):
            raise ValueError(f"{at}: YAML tag not allowed ({problem}); only plain values are read") from None
        raise ValueError(f"{at}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{where}: invalid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:  # the composer recurses once per nesting level
        raise ValueError(f"{where}: YAML nested too deeply to read") from None


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config and apply ``key=value`` overrides (values parsed as YAML)."""
    values: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not UTF-8 YAML ({exc.reason} at byte {exc.start})") from None
        loaded = safe_yaml(text, str(path)) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping of keys to values")
        values.update(loaded)
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like key=value")
        key, raw = item.split("=", 1)
        values[key.strip()] = safe_yaml(raw, f"override {item!r}", lines=False) if raw.strip() else None
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - set(fields), key=str)  # YAML keys may be numbers too
    if unknown:
        raise ValueError(f"unknown config keys {unknown}; known keys: {', '.join(fields)}")
    coerced = {k: _coerce(k, v) for k, v in values.items()}
    return TrainConfig(**coerced)
