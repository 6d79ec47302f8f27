"""Peak memory of `diffclip predict` on a 20,000-frame folder against a 1,000-frame folder (streaming
keeps them within 300 MB); then the pipeline's frames/s against the model alone (pipeline_speed.py).

    python benchmarks/pipeline_memory.py [--checkpoint demo/weights/diff] [--frames 1000 20000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import frame_folder  # noqa: E402

CHILD = """
import json, resource, sys
from diffclip.cli import main
rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def peak_memory_mb(folder: Path, checkpoint: str, out: Path) -> float:
    run = subprocess.run([sys.executable, "-c", CHILD, "predict", str(folder), "--checkpoint", checkpoint,
                          "--out", str(out / f"{folder.name}.json"), "--probs", str(out / f"{folder.name}.csv")],
                         capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])["peak_mb"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="demo/weights/diff")
    parser.add_argument("--frames", type=int, nargs=2, default=[1000, 20000])
    parser.add_argument("--speed-frames", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="diffclip-bench-"))
    small, large = (frame_folder(work, n) for n in args.frames)
    mem_small = peak_memory_mb(small, args.checkpoint, work)
    mem_large = peak_memory_mb(large, args.checkpoint, work)
    print(f"peak RSS: {args.frames[0]} frames {mem_small:.0f} MB, {args.frames[1]} frames {mem_large:.0f} MB, "
          f"difference {mem_large - mem_small:+.0f} MB (target: within 300 MB)")

    from benchmarks import pipeline_speed

    sys.argv = [sys.argv[0], "--checkpoint", args.checkpoint, "--frames", str(args.speed_frames),
                "--repeats", str(args.repeats), "--workdir", str(work)]
    return pipeline_speed.main()


if __name__ == "__main__":
    raise SystemExit(main())
