"""Bad inputs against the running app, as an outside sweep would send them (issue 27, item 7; loopback only,
one call at a time): image bombs in eight formats, empty, text, HTML and bad-checksum files, strips of
16000 x 1 and 65535 x 1 pixels, zips of strips and a 100,000 x 1 video, on every endpoint that takes them.
For each call: the answer, its time, the server's peak memory growth, and whether the answer carries a
server path or an exception class name (it must not).

    python benchmarks/fuzz.py [--json docs/fuzz.json]

The app is started by the script (`python app.py` on the bundled models, on a free port, with its own
temporary folder). Times are this machine's; growth is read from Linux's /proc."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._bad_inputs import strip_png, strip_video, strip_zip, write_cases  # noqa: E402
from benchmarks.serving import launch_app, peak_growth  # noqa: E402

CLASS_NAME = re.compile(r"\b[A-Z]\w*(Error|Exception|Warning)\b")
FRAME_ENDPOINTS = {
    "/predict_frame": lambda f: (f,),
    "/analyse_frames": lambda f: ([f],),
    "/compare": lambda f: (f, "blood", 0.5),
    "/noise_lab": lambda f: (None, f, 0.5, "blood"),
}


def inputs(folder: Path) -> dict[str, list[tuple[str, Path]]]:
    """endpoint kind -> (case name, file): frames for the frame endpoints, zips and the video for theirs."""
    frames = list(write_cases(folder / "cases").items())
    frames += [(f"strip{w}.png", strip_png(folder / f"strip{w}.png", w)) for w in (16000, 65535)]
    return {"frame": frames,
            "zip": [(f"strips{w}.zip", strip_zip(folder / f"strips{w}.zip", w)) for w in (16000, 65535)],
            "video": [("strip100000.mkv", strip_video(folder / "strip100000.mkv"))]}


def leaks(answer: str) -> list[str]:
    """What an answer must not carry: a server path, an exception class name, Gradio's preprocessing text."""
    found = []
    if "/tmp" in answer or "gradio" in answer.lower():
        found.append("path")
    if CLASS_NAME.search(answer):
        found.append("exception name")
    if "preprocess" in answer:
        found.append("Gradio's preprocessing message")
    return found


def sweep(url: str, pid: int, files: dict[str, list[tuple[str, Path]]]) -> list[dict]:
    """Every (endpoint, input) once; one result row each."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    calls = [(api, name, make(handle_file(str(path)))) for name, path in files["frame"]
             for api, make in FRAME_ENDPOINTS.items()]
    calls += [("/errors_analyse", name, ("Upload a zip", handle_file(str(path)))) for name, path in files["zip"]]
    calls += [("/analyse_clip", name, (handle_file(str(path)), 5, 20)) for name, path in files["video"]]
    rows = []
    for api, name, args in calls:
        growth, seconds, out = peak_growth(pid, lambda api=api, args=args: client.predict(*args, api_name=api))
        refused = isinstance(out, Exception)
        answer = str(out) if refused else "(analysed)"
        rows.append({"endpoint": api, "input": name, "refused": refused, "answer": answer[:300],
                     "seconds": round(seconds, 3), "growth_mb": round(growth, 1),
                     "leaks": leaks(answer) if refused else []})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="diffclip-fuzz-") as tmp:
        tmp = Path(tmp)
        files = inputs(tmp / "inputs")
        env = {**os.environ, "TMPDIR": str(tmp)}
        with launch_app(sys.executable, ROOT, tmp / "app.log", env=env) as app:
            rows = sweep(app.url, app.pid, files)
        traceback_lines = (tmp / "app.log").read_text().count("Traceback")
    for r in rows:
        print(f"{r['endpoint']:<16} {r['input']:<18} {'refused' if r['refused'] else 'analysed':<8} "
              f"{r['seconds']:6.2f} s {r['growth_mb']:7.1f} MB  {'LEAKS ' + ','.join(r['leaks']) if r['leaks'] else ''}"
              f"  {r['answer'][:90]}")
    worst = max(rows, key=lambda r: r["growth_mb"])
    slowest = max((r for r in rows if r["refused"]), key=lambda r: r["seconds"])
    summary = {"calls": len(rows), "leaking": sum(bool(r["leaks"]) for r in rows),
               "max_growth_mb": worst["growth_mb"], "max_growth_at": f"{worst['endpoint']} {worst['input']}",
               "slowest_refusal_s": slowest["seconds"], "slowest_refusal_at": f"{slowest['endpoint']} {slowest['input']}",
               "tracebacks_in_log": traceback_lines}
    print(json.dumps(summary, indent=2))
    if args.json:
        from diffclip.atomic import write_json

        write_json(args.json, {"command": "python benchmarks/fuzz.py --json docs/fuzz.json", "summary": summary,
                               "rows": rows})
    return 1 if summary["leaking"] or summary["tracebacks_in_log"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
