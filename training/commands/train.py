"""``diffclip train``: train a model from a YAML config (single process or under torchrun)."""

from __future__ import annotations

import argparse
import sys

HELP = "train a classifier from a YAML config (training/configs/*.yaml); works under torchrun"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML config, e.g. training/configs/demo-diff.yaml")
    parser.add_argument("--resume", action="store_true", help="continue from out_dir/state.pt")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="override config keys")


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..loop import INTERRUPTED_EXIT, Interrupted, train

    cfg = load_config(args.config, args.overrides)
    try:
        out = train(cfg, resume=args.resume)
    except Interrupted as exc:
        print(f"interrupted: {exc}; the state is saved, continue with --resume")
        return INTERRUPTED_EXIT
    except FloatingPointError as exc:
        print(f"diffclip train: error: {exc}", file=sys.stderr)
        return 1
    print(f"done: {out}")
    return 0
