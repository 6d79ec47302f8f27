"""``diffclip predict``: events for whole videos, frame folders or images."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "predict per-frame labels and RARE-VISION events for videos, frame folders or images"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # defaults come from the dataclasses and constants that define them, not retyped here
    from ..postprocess import PostProcess
    from ..video import Sampling

    post, sampling = PostProcess(), Sampling()
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="video files, frame folders, folders of those (Galar/challenge roots) or images")
    parser.add_argument("--checkpoint", required=True, help="checkpoint directory")
    parser.add_argument("--out", required=True, help="RARE-VISION events JSON to write")
    parser.add_argument("--probs", help="per-frame probabilities CSV (video_id, frame, 17 labels)")
    parser.add_argument("--plot", help="timeline PNG (one per video: the video id is added when there are several)")
    parser.add_argument("--binary-csv", metavar="DIR",
                        help="per-video CSVs of the post-processed 0/1 predictions in the paper's format "
                             "(index, 17 label columns): DIR/<video_id>_frames.csv")
    parser.add_argument("--scored", help="per-label events with mean scores (JSON), for `evaluate --ranked`")
    parser.add_argument("--stride", type=int, default=sampling.stride,
                        help=f"keep every K-th frame (default {sampling.stride})")
    parser.add_argument("--fps", type=float, default=None, help="video files: sample about this many frames per second")
    parser.add_argument("--max-frames", type=int, default=None, help="at most this many frames per video")
    add_run_arguments(parser)
    # one unit for all three, shared with the app's Clip tab: sampled frames (diffclip.postprocess)
    unit = "in sampled frames (rows kept after --stride/--fps), not seconds or video frame numbers"
    parser.add_argument("--median-window", type=int, default=post.median_window,
                        help=f"median filter width, odd, {unit} (default {post.median_window})")
    parser.add_argument("--min-length", type=int, default=post.min_length,
                        help=f"drop events shorter than this, {unit} (default {post.min_length})")
    parser.add_argument("--max-gap", type=int, default=post.max_gap,
                        help=f"fill gaps of at most this many, {unit} (default {post.max_gap})")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """How the model runs over many frames (batch size, device, precision, decoding processes): shared by the
    commands that stream frames through the pipeline."""
    from ..device import PRECISIONS
    from ..inference import DEFAULT_BATCH_SIZE

    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--work-dir", help="per-video results of a torchrun run, kept until the outputs are written "
                                           "(default: beside --out, OUT.work); a rerun reuses the finished videos")
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="auto: bf16 on CPUs with AMX/AVX512-BF16 and on CUDA, fp32 elsewhere (default auto)")
    parser.add_argument("--workers", type=int, default=None,
                        help="decoding processes for frame folders (default: 0 on CPU, one per spare core up to 16 with a GPU)")


def timeline_path(plot: str, video_id: str, several: bool):
    from pathlib import Path

    p = Path(plot)
    return p.with_name(f"{p.stem}_{video_id}{p.suffix or '.png'}") if several else p


def run(args: argparse.Namespace) -> int:
    import time

    from tqdm.auto import tqdm

    from ..atomic import writable_target, write_json
    from ..events import events_document
    from ..frame_csv import frame_csv_name, write_frame_csv
    from ..pipeline import RunStats, predict_sources, run_source
    from ..postprocess import PostProcess
    from ..sharding import (
        WorkFolder,
        fingerprint,
        rank_predictor,
        rank_workers,
        run_sharded,
        shard_from_env,
        write_probs_csv,
    )
    from ..timeline import save_timeline
    from ..video import Sampling, discover_sources

    # every output is checked before any frame is read: a mistyped --out fails now, not after the video
    for option in ("out", "probs", "plot", "scored"):
        if getattr(args, option):
            writable_target(getattr(args, option), f"--{option}")
    if args.binary_csv:
        if Path(args.binary_csv).exists() and not Path(args.binary_csv).is_dir():
            raise ValueError(f"--binary-csv {args.binary_csv} is a file; give a folder")
        writable_target(Path(args.binary_csv) / frame_csv_name("check"), "--binary-csv")
    sampling = Sampling(stride=args.stride, fps=args.fps, max_frames=args.max_frames)
    post = PostProcess(args.median_window, args.min_length, args.max_gap)
    sources = discover_sources(args.inputs, sampling)
    shard = shard_from_env()
    predictor = rank_predictor(args.checkpoint, args.device, args.batch_size, args.precision, shard)
    work_root = Path(args.work_dir) if args.work_dir else Path(f"{args.out}.work")
    if shard.world > 1 or work_root.is_dir():  # under torchrun, or resuming one
        key = fingerprint(args.checkpoint, {"command": "predict", "device": predictor.device.type,
                                            "precision": predictor.precision, "batch_size": predictor.batch_size,
                                            "stride": args.stride, "fps": args.fps, "max_frames": args.max_frames})
        work = WorkFolder(work_root, key)
        start = time.perf_counter()
        workers = rank_workers(args.workers, predictor, shard)

        def run_one(source):
            with tqdm(total=source.estimate, unit="frame", position=shard.local_rank, leave=False,
                      desc=f"rank {shard.rank}/{shard.world} {source.video_id}") as bar:
                return run_source(predictor, source, post, bar=bar, workers=workers)

        results = run_sharded(predictor, sources, post, work, shard, run=run_one)
        if results is None:  # another rank: rank 0 writes the outputs
            return 0
        stats = RunStats(sum(len(r.frames) for r in results), time.perf_counter() - start)
        if args.probs:
            write_probs_csv(args.probs, results, predictor.labels)
    else:
        work = None
        results, stats = predict_sources(predictor, sources, post, probs_csv=args.probs, workers=args.workers)
    write_json(args.out, events_document({r.video_id: r.events for r in results}), indent=1)
    if args.scored:
        write_json(args.scored, {"videos": [{"video_id": r.video_id, "events": r.scored_events} for r in results]}, indent=1)
    if args.binary_csv:
        for r in results:
            write_frame_csv(Path(args.binary_csv) / frame_csv_name(r.video_id), r.frames, r.active, predictor.labels)
    if args.plot:
        for r in results:
            # a video's own timestamps give the seconds axis (variable frame rates too), as in the app
            save_timeline(timeline_path(args.plot, r.video_id, len(results) > 1), r.frames, r.probs,
                          predictor.thresholds, r.active, predictor.labels, title=f"video {r.video_id}",
                          clock=(r.frames, r.times))
    for source in sources:
        for warning in source.warnings:
            print(f"warning: {warning}")
    if work is not None:  # every output written: the per-video results are no longer needed
        work.remove()
    n_events = sum(len(r.events) for r in results)
    print(f"{stats.frames} frames from {len(results)} video(s) in {stats.seconds:.1f} s: "
          f"{stats.fps:.1f} frames/s on {predictor.device} in {predictor.precision}")
    print(f"{n_events} events -> {args.out}")
    return 0
