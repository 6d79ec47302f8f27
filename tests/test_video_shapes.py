"""Videos of any shape (issue 26), each generated here and run through the app's /analyse_clip and through
`diffclip predict`: one frame, no decodable frame, a variable frame rate (Matroska), AVI with MJPEG, and an MP4
whose display matrix turns it 90 degrees."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import av
import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from benchmarks._video_shapes import VFR_MS, frame_pattern, make_shapes
from demo.tabs.clip.clip_notes import clip_notes
from demo.tabs.clip.clip_preview import make_preview
from demo.tabs.clip.clip_view import analyse_clip
from diffclip.cli import main
from diffclip.inference import Predictor
from diffclip.video import video_source
from diffclip.video_facts import read_video_facts

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "demo" / "weights" / "diff"


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    return make_shapes(tmp_path_factory.mktemp("shapes"))


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def _predict(tmp_path: Path, video: Path) -> tuple[int, list[list[str]], dict | None]:
    out, probs = tmp_path / f"{video.stem}.json", tmp_path / f"{video.stem}.csv"
    code = main(["predict", str(video), "--checkpoint", str(BUNDLED), "--out", str(out), "--probs", str(probs),
                 "--workers", "1"])
    rows = list(csv.reader(open(probs)))[1:] if probs.exists() else []
    return code, rows, json.loads(out.read_text()) if out.exists() else None


def _analysed(client: Client, video: Path, fps: float = 5, cap: int = 60):
    return client.predict(handle_file(str(video)), fps, cap, api_name="/analyse_clip")


def test_one_frame_video_is_analysed_by_the_app_and_the_cli(client, videos, tmp_path):
    out = _analysed(client, videos["one"])
    gallery, slider = out[-2], out[-1]
    assert len(gallery) == 1 and slider["value"] == 0 and slider["maximum"] == 1  # not maximum == minimum
    code, rows, doc = _predict(tmp_path, videos["one"])
    assert code == 0 and len(rows) == 1 and doc["videos"][0]["video_id"] == "one"


def test_video_without_frames_is_refused_with_a_sentence(client, videos, tmp_path, capsys):
    with pytest.raises(Exception, match=r"empty\.mp4 (has no frames|is not a readable video)"):
        _analysed(client, videos["empty"])
    code, _, _ = _predict(tmp_path, videos["empty"])
    assert code != 0 and "empty.mp4" in capsys.readouterr().err


def test_variable_frame_rate_is_placed_by_its_timestamps(client, videos, tmp_path):
    facts = read_video_facts(videos["vfr"])
    assert facts.variable and facts.frames == 30 and facts.duration == pytest.approx(11.3, abs=0.05)
    assert facts.seconds(4) == pytest.approx(1.0) and facts.seconds(29) == pytest.approx(11.28)
    predictor = Predictor(BUNDLED, device="cpu", precision="fp32")
    result = analyse_clip(predictor, videos["vfr"], 30, 100, out_dir=tmp_path / "app")  # 30/s: every frame
    cov = result.coverage
    assert np.allclose(result.times, np.array(VFR_MS) / 1000) and list(result.frames) == list(range(30))
    assert cov.frame_count == 30 and cov.last_frame == 29 and not cov.capped and not result.warnings
    assert cov.seconds(30) == pytest.approx(11.3, abs=0.05)  # the file's seconds, not 30 frames / 25 per s
    text = clip_notes(cov)
    assert "Variable frame rate" in text and "30 frames over 11.3 s" in text and "ended early" not in text
    assert "Sampled 25" not in text
    # the events table's times are the file's: an event from frame 4 starts at 1.0 s
    assert cov.seconds(4) == pytest.approx(1.0)
    out = _analysed(client, videos["vfr"], fps=30)
    assert len(out[-2]) == 30
    code, rows, _ = _predict(tmp_path, videos["vfr"])
    assert code == 0 and [int(r[1]) for r in rows] == list(range(30))


def test_avi_gets_a_playable_preview_and_is_analysed(client, videos, tmp_path):
    shown = make_preview(videos["avi"], tmp_path)
    assert shown.path is not None and shown.path.suffix == ".mp4" and "re-encoded" in shown.note
    with av.open(str(shown.path)) as c:
        # 12 frames at 25/s last 0.48 s: 5 frames at the preview's 10 frames/s
        assert c.streams.video[0].codec_context.name == "h264" and c.streams.video[0].frames == 5
    mp4 = make_preview(videos["rotated"], tmp_path)
    assert mp4.path == videos["rotated"] and mp4.note == ""  # browsers play it (and honour its rotation)
    assert len(_analysed(client, videos["avi"], fps=30)[-2]) == 12
    code, rows, _ = _predict(tmp_path, videos["avi"])
    assert code == 0 and len(rows) == 12


def test_rotation_metadata_is_honoured(client, videos, tmp_path):
    frame = next(iter(video_source(videos["rotated"]))).image
    # 96 x 64 landscape turned 90 degrees counter-clockwise: 64 wide, 96 high, the bright half at the bottom
    assert frame.shape == (96, 64, 3)
    assert frame[60:80, 20:44].mean() > frame[16:36, 20:44].mean() + 40
    out = _analysed(client, videos["rotated"], fps=30)
    crop = np.asarray(Image.open(out[-2][0]["image"]).convert("RGB"))
    h = crop.shape[0]
    assert crop[int(h * 0.6):int(h * 0.8), h // 3:2 * h // 3].mean() > crop[int(h * 0.2):int(h * 0.4), h // 3:2 * h // 3].mean() + 40
    # the CLI sees the same upright frames: the same probabilities as a video already stored upright
    upright = tmp_path / "upright.mp4"
    with av.open(str(upright), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 96, "yuv420p"
        for _ in range(6):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.rot90(frame_pattern()).copy(), format="rgb24")))
        container.mux(stream.encode(None))
    code, rows, _ = _predict(tmp_path, videos["rotated"])
    code2, rows_upright, _ = _predict(tmp_path, upright)
    assert code == code2 == 0
    a = np.array([[float(v) for v in r[2:]] for r in rows])
    b = np.array([[float(v) for v in r[2:]] for r in rows_upright])
    assert np.abs(a - b).max() < 0.03 and np.abs(a - b).mean() < 0.01  # H.264 coded each its own way
