"""Serve the DiffCLIP-VCE demo app on the bundled differential-attention model.

The Hugging Face Spaces app_file: `python app.py` serves http://127.0.0.1:7860. UI code lives in demo/."""

from __future__ import annotations

import argparse
import logging
import sys

from demo.resources import COMPARE_CHECKPOINT, DEFAULT_CHECKPOINT, EXTRA_CHECKPOINTS, MAX_FILE_SIZE
from diffclip.device import PRECISIONS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="main model (default: bundled diff)")
    parser.add_argument("--compare-checkpoint", default=str(COMPARE_CHECKPOINT),
                        help="model for the Compare view (default: bundled vanilla; 'none' to disable)")
    parser.add_argument("--extra-checkpoint", action="append", default=None, metavar="DIR",
                        help="a further model the Compare tab can compare (repeatable; default: the bundled "
                             "diff_v2 when present; 'none' for none)")
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="auto (bf16 on CUDA and on CPUs with AMX/AVX512-BF16, else fp32), fp32, bf16 or fp16; "
                             "the model card says which one runs")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="create a public Gradio link")
    parser.add_argument("--concurrency", type=int, default=2,
                        help="model-bound requests processed at once, all endpoints together")
    parser.add_argument("--queue-size", type=int, default=16,
                        help="requests waiting at most; more are answered 'busy, try again'")
    parser.add_argument("--session-ttl", type=float, default=3600.0,
                        help="seconds a session's analyses and files are kept after their last use")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from demo.sessions import FOLDERS
    from diffclip.process_files import exit_cleanly_on_signals

    # one folder for everything this process writes, Gradio's uploads included, removed on exit and on
    # SIGTERM (which otherwise skips atexit); folders of servers killed outright are removed here
    exit_cleanly_on_signals()
    FOLDERS.start(gradio_files=True)
    from demo.models import ModelBank
    from demo.scores import CSS
    from demo.ui import build_demo

    compare = None if args.compare_checkpoint.lower() == "none" else args.compare_checkpoint
    try:
        extra = [str(p) for p in EXTRA_CHECKPOINTS] if args.extra_checkpoint is None else \
            [p for p in args.extra_checkpoint if p.lower() != "none"]
        bank = ModelBank(args.checkpoint, compare, args.device, args.precision, extra)
        demo = build_demo(bank, args.concurrency, args.session_ttl)
    except (FileNotFoundError, ValueError) as exc:
        print(f"app.py: error: {exc}", file=sys.stderr)
        return 2
    demo.queue(default_concurrency_limit=args.concurrency, max_size=args.queue_size)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, max_file_size=MAX_FILE_SIZE,
                css=CSS, show_error=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
