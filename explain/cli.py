"""``diffclip explain``: panels (frame, a1, a2, diff, method map) for frames in bulk."""

from __future__ import annotations

import argparse

HELP = "explain frames: attention maps, rollout, gradient-weighted attention or Captum attributions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .methods import EXPLAINERS, Options

    default = Options()  # defaults defined once
    parser.add_argument("frames", nargs="+", metavar="FRAME", help="image files")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--label", required=True, help='label to explain, e.g. "blood"')
    parser.add_argument("--method", default="attention", choices=list(EXPLAINERS))
    parser.add_argument("--out", required=True, help="panel PNG (the frame name is added when there are several)")
    parser.add_argument("--npy", help="also save the method's map as .npy (same naming)")
    parser.add_argument("--layer", type=int, default=default.layer, help="layer for the attention panels (default: last)")
    parser.add_argument("--head", type=int, default=default.head, help="head (default: mean over heads)")
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--steps", type=int, default=default.steps, help=f"Integrated Gradients and each NoiseTunnel copy: the most points on the path; "
                             f"fewer once the attributions add up ({default.steps})")
    parser.add_argument("--samples", type=int, default=default.samples, help=f"NoiseTunnel samples ({default.samples})")
    parser.add_argument("--window", type=int, default=default.window, help=f"Occlusion window, pixels ({default.window})")
    parser.add_argument("--device", default="auto")


def _named(path: str, stem: str, several: bool):
    from pathlib import Path

    p = Path(path)
    return p.with_name(f"{p.stem}_{stem}{p.suffix}") if several else p


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np
    from tqdm.auto import tqdm

    from diffclip.atomic import atomic_path, writable_target
    from diffclip.inference import Predictor

    from .analysis import analyse, panel
    from .methods import explain

    several = len(args.frames) > 1
    for frame in args.frames:  # every output checked before the model loads: a mistyped --out fails now
        writable_target(_named(args.out, Path(frame).stem, several), "--out")
        if args.npy:
            writable_target(_named(args.npy, Path(frame).stem, several), "--npy")
    predictor = Predictor(args.checkpoint, device=args.device, precision="fp32")
    if args.label not in predictor.labels:
        raise ValueError(f"unknown label {args.label!r}; choose one of {', '.join(predictor.labels)}")
    for frame in tqdm(args.frames, desc=f"explain ({args.method})", unit="frame", disable=not several):
        analysis = analyse(predictor, frame)
        extra = explain(analysis, predictor, args.method, args.label, layer=args.layer, head=args.head,
                        steps=args.steps, samples=args.samples, window=args.window)
        fig = panel(analysis, args.layer, args.head, extra, args.alpha, label=args.label)
        out = _named(args.out, Path(frame).stem, several)
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        if args.npy:
            np.save(_named(args.npy, Path(frame).stem, several), extra.map)
        print(f"{frame}: p({args.label}) = {analysis.probs[predictor.labels.index(args.label)]:.3f} -> {out}")
    return 0
