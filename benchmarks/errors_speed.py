"""The error analysis report against an earlier commit, in one run: ``diffclip errors`` as a user types it, and the
Errors tab's report export (the model pass done, the export alone timed), each alternating between this tree and
a ``git worktree`` of ``--before`` on the same checkpoint and frames.

    python benchmarks/errors_speed.py [--before 505c665] [--repeats 2] [--json docs/errors-speed.json]

505c665 is the last commit before issue 34 was filed. Each tree runs its own code (its folder first on the import
path, checked) with this tree's checkpoint and frames (``demo/weights/diff``, ``demo/heldout``) and its own
default explanation method (``--method`` gives both the same), in the precision "auto" picks here. Reported: every time, their medians and the
ratio before / now, under ``errors_command`` and ``tab_export``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = REPO / "demo" / "weights" / "diff"
DATA = REPO / "demo" / "heldout"

# run inside a tree: its own `diffclip` command, its subcommands read from its own pyproject.toml (the installed
# entry points are this tree's, and would send the earlier tree's `diffclip errors` to this tree's module)
LAUNCH = """
import importlib.metadata as md, sys, tomllib
from pathlib import Path
import diffclip
assert Path(diffclip.__file__).resolve().is_relative_to(Path.cwd().resolve()), diffclip.__file__
own = tomllib.loads(Path("pyproject.toml").read_text())["project"]["entry-points"]["diffclip.commands"]
installed = md.entry_points
def entry_points(**kw):
    if kw.get("group") == "diffclip.commands":
        return md.EntryPoints(md.EntryPoint(name=k, value=v, group=kw["group"]) for k, v in own.items())
    return installed(**kw)
md.entry_points = entry_points
from diffclip.cli import main
sys.exit(main(sys.argv[1:]))
"""

# run inside a tree: the tab's analysis (untimed), then its report export (timed); the module names of both layouts
EXPORT = """
import json, sys, tempfile, time
from pathlib import Path
import diffclip
assert Path(diffclip.__file__).resolve().is_relative_to(Path.cwd().resolve()), diffclip.__file__
try:
    from demo.tabs.errors.errors_export import report_zip
    from demo.tabs.errors.errors_view import analyse_set
except ImportError:
    from demo.errors_export import report_zip
    from demo.errors_view import analyse_set
from diffclip.inference import Predictor
predictor = Predictor(sys.argv[1])
state = analyse_set(predictor, sys.argv[2], "heldout", Path(tempfile.mkdtemp()), progress=False)
start = time.perf_counter()
report_zip(state, predictor, "diff", "heldout", *sys.argv[3:4])
print(json.dumps(time.perf_counter() - start))
"""


def _env(tree: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(tree)}


def command_seconds(tree: Path, out: Path, method: str | None = None) -> float:
    """Wall-clock seconds of ``diffclip errors demo/heldout --checkpoint demo/weights/diff --out OUT`` run from
    ``tree`` with its own code (and ``--method``, when given)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", LAUNCH, "errors", str(DATA), "--checkpoint", str(CHECKPOINT),
                    "--out", str(out)] + (["--method", method] if method else []), cwd=tree, env=_env(tree),
                   check=True, capture_output=True)
    return time.perf_counter() - start


def export_seconds(tree: Path, method: str | None = None) -> float:
    """Seconds of the Errors tab's report export in ``tree`` (its analysis of the frames done first, untimed)."""
    done = subprocess.run([sys.executable, "-c", EXPORT, str(CHECKPOINT), str(DATA)] + ([method] if method else []),
                          cwd=tree, env=_env(tree), check=True, capture_output=True, text=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="505c665", help="the earlier commit (default: before issue 34)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--method", help="the explanation method of both trees (default: each tree's own default)")
    parser.add_argument("--json", help="write the figures here (e.g. docs/errors-speed.json)")
    args = parser.parse_args(argv)
    times: dict[str, dict[str, list[float]]] = {k: {"now": [], "before": []} for k in ("errors_command", "tab_export")}
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), args.before], cwd=REPO, check=True,
                       capture_output=True)
        try:
            trees = {"now": REPO, "before": old}
            for r in range(args.repeats):
                order = ("now", "before") if r % 2 == 0 else ("before", "now")  # alternate which goes first
                for which in order:
                    seconds = command_seconds(trees[which], Path(tmp) / f"report-{which}-{r}", args.method)
                    times["errors_command"][which].append(seconds)
                    print(f"diffclip errors, {which:6s}: {seconds:6.1f} s", flush=True)
                for which in order:
                    seconds = export_seconds(trees[which], args.method)
                    times["tab_export"][which].append(seconds)
                    print(f"tab export,      {which:6s}: {seconds:6.1f} s", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=REPO, capture_output=True)
    result = {"command": "python benchmarks/errors_speed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "before": args.before, "repeats": args.repeats, "method": args.method or "each tree's default"}
    for what, t in times.items():
        now, before = statistics.median(t["now"]), statistics.median(t["before"])
        result[what] = {"now_s": t["now"], "before_s": t["before"], "speed_up": before / now}
        print(f"{what}: before {before:.1f} s, now {now:.1f} s: {before / now:.2f}x (target >= 4x)")
    if args.json:
        sys.path.insert(0, str(REPO))
        from diffclip.atomic import write_json

        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
