"""Frames/s of `diffclip predict` on a synthetic frame folder (decoding included) against the model
alone on the same frames, for the ViT-B/16 differential model in bf16 on a GPU.

    python benchmarks/gpu_throughput.py --frames 20000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import frame_folder  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--backbone", default="biomedclip")
    parser.add_argument("--attention", default="diff")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    from diffclip.checkpoint import save_checkpoint
    from diffclip.factory import build_model
    from diffclip.inference import Predictor
    from diffclip.pipeline import default_workers, predict_sources
    from diffclip.video import folder_source

    work = Path(args.workdir or tempfile.mkdtemp(prefix="diffclip-gpu-"))
    t0 = time.perf_counter()
    folder = frame_folder(work, args.frames)
    print(f"frame folder of {args.frames} frames ready in {time.perf_counter() - t0:.1f} s")
    ckpt = save_checkpoint(build_model(args.backbone, args.attention).eval(), work / "ckpt")
    predictor = Predictor(ckpt, device="auto", batch_size=args.batch_size, precision="auto")
    workers = default_workers(predictor) if args.workers is None else args.workers
    print(f"device {predictor.device} ({torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'}), "
          f"precision {predictor.precision}, batch {args.batch_size}, {workers} decoding workers")

    # model alone: random uint8 frames already in memory, same batch size
    x = torch.randint(0, 255, (args.batch_size, 3, 224, 224), dtype=torch.uint8)
    for _ in range(3):
        predictor.run(x)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    n_batches = max(4, args.frames // args.batch_size // 4)
    start = time.perf_counter()
    for _ in range(n_batches):
        predictor.run(x)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    model_fps = n_batches * args.batch_size / (time.perf_counter() - start)

    source = folder_source(folder)
    (result,), stats = predict_sources(predictor, [source], progress=False, workers=workers)
    print(f"model alone: {model_fps:.0f} frames/s")
    print(f"pipeline (listing, PNG decoding, crops, model, events): {stats.frames} frames in {stats.seconds:.1f} s = "
          f"{stats.fps:.0f} frames/s; ratio to the model alone {stats.fps / model_fps:.2f}")
    print(f"paper's test set (161,025 frames) at this rate: {161025 / stats.fps:.0f} s (paper: 517 s); "
          f"target >= 2,000 frames/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
