"""`diffclip predict` over several videos in one process against `torchrun --nproc_per_node N` processes
(diffclip.sharding), alternating whole runs on the same machine; headline: the median ratio of frames/s (N
processes / one), each run's frames/s being the command's own figure (model pass and merge, not the start-up),
beside the wall-clock ratio (start-up included). Identical outputs are checked on every pair of runs.

    python benchmarks/sharded_predict.py [--videos 4] [--frames 300] [--nproc 2] [--repeats 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import frame_folder  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FPS = re.compile(r"(\d+) frames from (\d+) video\(s\) in ([\d.]+) s: ([\d.]+) frames/s on (\S+) in (\S+)")


def run(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """(the command's frames/s, wall seconds, its summary line)."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:6])} ... failed:\n{done.stderr[-2000:]}")
    m = FPS.search(done.stdout)
    if m is None:
        raise RuntimeError(f"no frames/s line in:\n{done.stdout[-1000:]}")
    return float(m.group(4)), wall, m.group(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(REPO / "demo" / "weights" / "diff"))
    parser.add_argument("--videos", type=int, default=4, help="frame folders (videos) of --frames each")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--nproc", type=int, default=2, help="processes of the sharded run")
    parser.add_argument("--repeats", type=int, default=3, help="alternating pairs of runs")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        videos = []
        for v in range(args.videos):  # frames rendered once, linked into each video's folder
            folder = frame_folder(root, args.frames, seed=5)
            dst = root / f"v{v}"
            dst.mkdir()
            for f in folder.iterdir():
                os.link(f, dst / f.name)
            videos.append(str(dst))
        common = ["predict", *videos, "--checkpoint", args.checkpoint, "--precision", args.precision]
        one_cmd = [sys.executable, "-m", "diffclip.cli", *common]
        many_cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                    str(args.nproc), "-m", "diffclip.cli", *common]
        rows = []
        for r in range(args.repeats):
            order = [("one", one_cmd), ("many", many_cmd)][:: 1 if r % 2 == 0 else -1]
            got = {}
            for name, cmd in order:
                got[name] = run([*cmd, "--out", f"{name}.json", "--probs", f"{name}.csv"], root)
            same = all((root / f"one{s}").read_bytes() == (root / f"many{s}").read_bytes() for s in (".json", ".csv"))
            rows.append({"one_fps": got["one"][0], "many_fps": got["many"][0], "one_wall": got["one"][1],
                         "many_wall": got["many"][1], "identical_outputs": same, "one": got["one"][2],
                         "many": got["many"][2]})
            print(f"run {r + 1}: 1 process {got['one'][0]:.1f} frames/s ({got['one'][1]:.1f} s wall), "
                  f"{args.nproc} processes {got['many'][0]:.1f} frames/s ({got['many'][1]:.1f} s wall); "
                  f"outputs {'identical' if same else 'DIFFER'}")
    ratios = [r["many_fps"] / r["one_fps"] for r in rows]
    walls = [r["one_wall"] / r["many_wall"] for r in rows]
    result = {
        "command": "python benchmarks/sharded_predict.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "videos": args.videos, "frames_per_video": args.frames, "nproc": args.nproc, "cpus": os.cpu_count(),
        "precision": args.precision, "runs": rows,
        "ratio_fps_median": statistics.median(ratios), "ratio_fps_range": [min(ratios), max(ratios)],
        "ratio_wall_median": statistics.median(walls),
        "identical_outputs": all(r["identical_outputs"] for r in rows),
        "one_fps_median": statistics.median(r["one_fps"] for r in rows),
    }
    print(f"{args.nproc} processes / 1 process, frames/s: median {result['ratio_fps_median']:.2f} "
          f"(range {min(ratios):.2f}-{max(ratios):.2f}); wall clock, start-up included: "
          f"{result['ratio_wall_median']:.2f}; outputs identical in every pair: {result['identical_outputs']}")
    if args.json:
        from diffclip.atomic import write_json

        write_json(args.json, result, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
