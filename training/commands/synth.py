"""``diffclip synth``: write synthetic capsule videos in Galar's format."""

from __future__ import annotations

import argparse

HELP = "generate synthetic capsule videos (frames, masks, label CSVs, ground-truth JSON) in Galar's format"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..synthetic.plan import SynthConfig

    c = SynthConfig()  # the defaults, defined once
    parser.add_argument("--out", required=True, help="output directory (a Galar-style root)")
    parser.add_argument("--videos", type=int, default=2, help="number of videos (default 2)")
    parser.add_argument("--frames", type=int, default=c.frames, help=f"frames per video (default {c.frames})")
    parser.add_argument("--seed", type=int, default=c.seed, help="random seed; the same seed gives identical files")
    parser.add_argument("--size", type=int, default=c.size, help=f"frame size in pixels (default {c.size})")
    parser.add_argument(
        "--rare-share", type=float, default=c.rare_share,
        help=f"raise every landmark and lesion to at least this share of frames (default {c.rare_share}: "
             "Galar's frequencies)",
    )
    parser.add_argument(
        "--lookalikes", type=float, default=c.lookalikes,
        help="add look-alike distractors (red glare, dark clumps, pink bubbles), each kind on about this share of "
             f"frames (default {c.lookalikes:g}: none)",
    )
    parser.add_argument("--mp4", action="store_true", help="also write an H.264 MP4 per video under videos/")
    parser.add_argument("--fps", type=float, default=c.fps, help=f"frame rate of the MP4s (default {c.fps:g})")
    parser.add_argument("--workers", type=int, default=None, help="render processes (default: all cores)")
    parser.add_argument("--first-id", type=int, default=1, help="id of the first video (default 1)")


def run(args: argparse.Namespace) -> int:
    from ..synthetic import generate

    result = generate(
        args.out, videos=args.videos, frames=args.frames, seed=args.seed, size=args.size,
        rare_share=args.rare_share, mp4=args.mp4, fps=args.fps, workers=args.workers, first_id=args.first_id,
        lookalikes=args.lookalikes,
    )
    print(f"wrote {len(result.plans)} videos x {args.frames} frames to {result.root}")
    print(f"ground truth: {result.ground_truth}")
    for path in result.videos:
        print(f"video: {path}")
    return 0
