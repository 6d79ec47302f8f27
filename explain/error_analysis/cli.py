"""``diffclip errors``: error analysis of a labelled set, written as a report folder (errors.json, an
overlay per top mistake under images/, an offline report.html and, with --tags, tags.csv)."""

from __future__ import annotations

import argparse

from ..defaults import DEFAULT_METHOD

HELP = "error analysis of a labelled set: counts, mistakes with explanations, event errors, report.html"

DEFAULT_TOP = 8
#: What a run writes in its report folder (anything else there, such as the model pass's cache, is kept).
REPORT_ENTRIES = ("errors.json", "report.html", "tags.csv", "images")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # defaults come from the modules that define them, not retyped here
    from diffclip.commands.predict import add_run_arguments
    from diffclip.video import Sampling

    sampling = Sampling()
    parser.add_argument("data", metavar="DATA",
                        help="a Galar-style root (frame folders and Labels/*.csv), or frames/videos with --truth")
    parser.add_argument("--checkpoint", required=True, help="checkpoint directory (its thresholds are used)")
    parser.add_argument("--out", required=True, help="report folder to write (created if needed)")
    parser.add_argument("--top", type=int, default=DEFAULT_TOP,
                        help=f"most confident false positives and negatives shown per label (default {DEFAULT_TOP})")
    parser.add_argument("--stride", type=int, default=sampling.stride,
                        help=f"keep every K-th frame (default {sampling.stride})")
    parser.add_argument("--truth", help="RARE-VISION events JSON: the truth of frames or videos without label CSVs")
    parser.add_argument("--method", default=DEFAULT_METHOD,
                        help=f"attribution drawn for each mistake, a name of explain.methods (default {DEFAULT_METHOD}: "
                             "the cheapest measured faithful for every bundled model)")
    parser.add_argument("--tags", help="tags CSV (video_id, frame, label, kind, probability, cause, note) to include")
    add_run_arguments(parser)


def check_out_dir(out: str):
    """The report folder, checked before any work: not a file, and its files can be written."""
    from pathlib import Path

    from diffclip.atomic import refuse_link, writable_target

    folder = Path(out)
    refuse_link(folder, "--out")
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder for the report")
    for name in ("errors.json", "report.html"):
        writable_target(folder / name, "--out")
    return folder


def summary_lines(doc: dict, report) -> list[str]:
    """What the command prints: the frames, TP/FP/FN of each label with support or errors, the report."""
    lines = [f"{doc['frames']} frames with truth ({doc['frames_without_truth']} without), model pass "
             f"{'read from the cache' if doc['pass']['cached'] else 'run'}"]
    for lab, c in doc["labels"].items():
        if c["support"] or c["fp"]:
            lines.append(f"  {lab:<18} t={c['threshold']:.2f}  TP {c['tp']:>5}  FP {c['fp']:>5}  FN {c['fn']:>5}")
    lines.append(f"report -> {report}")
    return lines


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from diffclip.error_analysis.document import errors_document
    from diffclip.error_analysis.labelled_set import load_labelled
    from diffclip.error_analysis.model_pass import run_pass
    from diffclip.error_analysis.tags import read_tags
    from diffclip.pipeline import run_source
    from diffclip.postprocess import DEFAULT_POSTPROCESS
    from diffclip.sharding import (
        Shard,
        WorkFolder,
        cores_per_rank,
        fingerprint,
        rank_predictor,
        rank_workers,
        run_sharded,
        shard_from_env,
    )
    from diffclip.staged_folder import staged_folder

    from ..methods import get_explainer
    from .report_page import export_report

    # everything a user can mistype fails now, before the model pass
    out = check_out_dir(args.out)
    if args.top < 0:
        raise ValueError(f"--top must be 0 or more, got {args.top}")
    method = get_explainer(args.method).name
    tags = read_tags(args.tags) if args.tags else None
    data = load_labelled(args.data, truth=args.truth, stride=args.stride)
    shard = shard_from_env()
    predictor = rank_predictor(args.checkpoint, args.device, args.batch_size, args.precision, shard)
    results, work = None, None
    work_root = Path(args.work_dir) if args.work_dir else out.with_name(out.name + ".work")
    if shard.world > 1 or work_root.is_dir():  # under torchrun, or resuming one: the pass shared by video
        work = WorkFolder(work_root, fingerprint(args.checkpoint, {
            "command": "errors", "device": predictor.device.type, "precision": predictor.precision,
            "batch_size": predictor.batch_size, "stride": args.stride, "data": str(Path(args.data).resolve())}))
        workers = rank_workers(args.workers, predictor, shard)
        results = run_sharded(predictor, data.sources, DEFAULT_POSTPROCESS, work, shard, run=lambda s: run_source(
            predictor, s, DEFAULT_POSTPROCESS, workers=workers, extras=True))
        if results is None:  # another rank: rank 0 writes the report
            return 0
        # the other ranks are done: the report's explanations get the machine's cores, as in a single process
        # (torchrun sets OMP_NUM_THREADS=1), so that its maps equal a single process's
        if predictor.device.type == "cpu":
            torch.set_num_threads(cores_per_rank(Shard(local_world=1)))
    # the report folder is replaced whole when everything is written, or not at all: an interruption at any
    # point leaves the previous report as it was (its cache is carried over by hard links)
    with staged_folder(out, fresh=REPORT_ENTRIES) as stage:
        mp = run_pass(predictor, data, cache_dir=stage / "cache", progress=True, workers=args.workers,
                      results=results)
        doc = errors_document(mp, data.truth_events, str(args.checkpoint), str(args.data), k=args.top)
        export_report(stage, doc, mp, data, predictor, method, tags=tags)
    if work is not None:  # the report is written: the per-video results are no longer needed
        work.remove()
    report = out / "report.html"
    for source in data.sources:
        for warning in source.warnings:
            print(f"warning: {warning}")
    print("\n".join(summary_lines(doc, report)))
    return 0
