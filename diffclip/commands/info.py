"""``diffclip info CHECKPOINT``: print a checkpoint's configuration."""

from __future__ import annotations

import argparse
import json

HELP = "show a checkpoint's configuration, labels, thresholds and parameter count"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="checkpoint directory (model.safetensors + config.json)")


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import load_checkpoint

    model, config = load_checkpoint(args.checkpoint)
    n_params = sum(p.numel() for p in model.parameters())
    print(json.dumps({**config, "parameters": n_params}, indent=2))
    return 0
