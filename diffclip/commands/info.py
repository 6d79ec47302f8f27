"""``diffclip info CHECKPOINT``: print a checkpoint's configuration."""

from __future__ import annotations

import argparse
import json

HELP = "show a checkpoint's configuration, labels, thresholds and parameter count"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="checkpoint directory (model.safetensors + config.json)")
    parser.add_argument("--device", default="auto", help="the device whose precision to report (default auto)")
    from ..device import PRECISIONS

    parser.add_argument("--precision", default="auto", choices=PRECISIONS)


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import load_checkpoint
    from ..device import autocast_dtype, precision_name, resolve_device

    model, config = load_checkpoint(args.checkpoint)
    n_params = sum(p.numel() for p in model.parameters())
    device = resolve_device(args.device)
    runs = {"device": str(device), "precision": precision_name(autocast_dtype(device, args.precision)),
            "requested": args.precision}
    print(json.dumps({**config, "parameters": n_params, "inference": runs}, indent=2))
    return 0
