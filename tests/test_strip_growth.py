"""Strips cost nothing (issue 27, item 1, acceptance): a ~100-byte 16000 x 1 and 65535 x 1 PNG and a 100,000 x 1
video are refused on every endpoint and by every CLI command that reads frames, and the process's peak memory
rises by under 50 MB (it once rose by 3 GB, or ended in MemoryError). Peaks are read from Linux's /proc."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from benchmarks._bad_inputs import strip_png, strip_video, strip_zip
from benchmarks.serving import peak_growth

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = str(REPO / "demo" / "weights" / "diff")
LIMIT_MB = 50
UPLOAD = "Upload a zip"


@pytest.fixture(scope="module")
def strips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("strip-growth")
    out = {f"png{w}": strip_png(d / f"strip{w}.png", w) for w in (16000, 65535)}
    out["video"] = strip_video(d / "strip.mkv")
    out.update({f"zip{w}": strip_zip(d / f"strips{w}.zip", w) for w in (16000, 65535)})
    return out


def test_the_files_are_tiny(strips):
    assert all(p.stat().st_size < 1000 for p in strips.values()), {k: p.stat().st_size for k, p in strips.items()}


def test_every_endpoint_refuses_them_without_growing(running_app, strips):
    client = Client(running_app.url, verbose=False)
    calls = []
    for w in (16000, 65535):
        f = handle_file(str(strips[f"png{w}"]))
        calls += [("/predict_frame", (f,)), ("/analyse_frames", ([f],)), ("/compare", (f, "blood", 0.5)),
                  ("/noise_lab", (None, f, 0.5, "blood")),
                  ("/errors_analyse", (UPLOAD, handle_file(str(strips[f"zip{w}"]))))]
    calls.append(("/analyse_clip", (handle_file(str(strips["video"])), 5, 20)))
    for api, args in calls:
        growth, _, answer = peak_growth(running_app.pid, lambda api=api, args=args: client.predict(*args, api_name=api))
        assert isinstance(answer, Exception) and "times longer than wide" in str(answer), (api, answer)
        assert growth < LIMIT_MB, (api, args, f"{growth:.0f} MB")


MEASURE = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    import diffclip.cli, explain.cli, explain.error_analysis.cli, diffclip.inference, torch  # imported before measuring
    from benchmarks.serving import status_kb

    Path("/proc/self/clear_refs").write_text("5")
    before = status_kb(os.getpid(), "VmRSS")
    code = diffclip.cli.main(sys.argv[1:])
    print(json.dumps({"code": code, "growth_mb": (status_kb(os.getpid(), "VmHWM") - before) / 1024}))
""")


def _cli_growth(args: list[str]) -> tuple[float, str]:
    done = subprocess.run([sys.executable, "-c", MEASURE, *args, "--checkpoint", CHECKPOINT], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] == 2, (args, done.stderr[-2000:])
    return result["growth_mb"], done.stderr


def test_every_cli_command_refuses_them_without_growing(strips, tmp_path):
    """Each command's growth on a strip, beyond its growth on a file it refuses at the same point for another
    reason (a file that is no image or video): what the CLI costs anyway (its model, torch's first use: about
    60-80 MB here) is not the strip's."""
    bad = {"png": tmp_path / "bad.png", "video": tmp_path / "bad.mkv"}
    for path in bad.values():
        path.write_bytes(b"not an image or a video\n")
    folders = {}
    for name, frame in (("strip", strips["png65535"]), ("bad", bad["png"])):
        folders[name] = tmp_path / name / "7"
        folders[name].mkdir(parents=True)
        (folders[name] / "frame_000000.png").write_bytes(frame.read_bytes())
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({"videos": [{"video_id": "7", "events": []}]}))
    out = ["--out", str(tmp_path / "out.json")]
    runs = {  # command: (with the strip, with the other refused file)
        "predict png": (["predict", str(strips["png65535"]), *out], ["predict", str(bad["png"]), *out]),
        "predict video": (["predict", str(strips["video"]), *out], ["predict", str(bad["video"]), *out]),
        "explain": (["explain", str(strips["png16000"]), "--label", "blood", "--out", str(tmp_path / "e.png")],
                    ["explain", str(bad["png"]), "--label", "blood", "--out", str(tmp_path / "e.png")]),
        "errors": (["errors", str(folders["strip"]), "--truth", str(truth), "--out", str(tmp_path / "r1")],
                   ["errors", str(folders["bad"]), "--truth", str(truth), "--out", str(tmp_path / "r2")]),
    }
    for name, (strip_args, other_args) in runs.items():
        growth, err = _cli_growth(strip_args)
        assert "times longer than wide" in err, (name, err[-2000:])
        baseline, _ = _cli_growth(other_args)
        assert growth - baseline < LIMIT_MB, (name, growth, baseline)
