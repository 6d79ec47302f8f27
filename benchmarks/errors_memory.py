"""Peak memory of `diffclip errors` on a 20,000-frame labelled folder against a 1,000-frame one: the model
pass streams (as `diffclip predict` does, benchmarks/pipeline_memory.py) and keeps 17 probabilities per frame,
so the two should differ by little.

    python benchmarks/errors_memory.py [--checkpoint demo/weights/diff] [--frames 1000 20000] [--json F]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import frame_folder  # noqa: E402
from benchmarks.pipeline_memory import CHILD  # noqa: E402


def labelled_root(work: Path, frames: int, unique: int = 64, seed: int = 5) -> Path:
    """A Galar-style root with one video of ``frames`` frames (``unique`` rendered frames repeated through hard
    links) and its label CSV: each frame carries the labels its rendered frame was drawn with."""
    from diffclip.labels import LABELS
    from training.synthetic.plan import SynthConfig, plan_video

    root = work / f"errors_{frames}"
    folder = frame_folder(root, frames, unique=unique, seed=seed)
    plan = plan_video("bench", SynthConfig(frames=max(unique, 15), seed=seed, rare_share=0.05))
    labels = root / "Labels"
    labels.mkdir(exist_ok=True)
    rows = ["frame," + ",".join(LABELS)]
    rows += [f"{i}," + ",".join(str(int(v)) for v in plan.labels[i % unique]) for i in range(frames)]
    (labels / f"{folder.name}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def peak(root: Path, checkpoint: str, out: Path, top: int) -> dict:
    """Peak RSS and seconds of one `diffclip errors` run in a fresh process."""
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", CHILD, "errors", str(root), "--checkpoint", checkpoint,
                          "--out", str(out), "--top", str(top)], capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(f"diffclip errors failed:\n{run.stderr[-2000:]}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    return {"peak_mb": round(result["peak_mb"]), "seconds": round(time.perf_counter() - start, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="demo/weights/diff")
    parser.add_argument("--frames", type=int, nargs=2, default=[1000, 20000])
    parser.add_argument("--top", type=int, default=4)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="diffclip-errors-bench-"))
    figures = {}
    for n in args.frames:
        figures[n] = peak(labelled_root(work, n), args.checkpoint, work / f"report_{n}", args.top)
        print(f"{n} frames: peak RSS {figures[n]['peak_mb']} MB in {figures[n]['seconds']} s", flush=True)
    small, large = (figures[n]["peak_mb"] for n in args.frames)
    print(f"peak RSS difference {args.frames[1]} - {args.frames[0]} frames: {large - small:+d} MB "
          "(target: within 300 MB, as for diffclip predict)")
    if args.json:
        Path(args.json).write_text(json.dumps({"checkpoint": args.checkpoint, "top": args.top,
                                               "runs": {str(n): f for n, f in figures.items()},
                                               "difference_mb": large - small}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
