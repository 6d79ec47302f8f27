"""A strip of pixels costs its aspect ratio once its short side is resized to the model's size (issue 27,
item 1): a 105-byte 8000 x 1 PNG became 1.5 GB. Frames and video frames longer than 16 times their width are
refused from their header or their array's shape, before any resize, with one sentence everywhere."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from diffclip.cli import main
from diffclip.images import MAX_ASPECT, check_pixels
from diffclip.inference import Predictor

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "demo" / "weights" / "diff"
SENTENCE = r"times longer than wide; images and video frames at most 16 times longer than wide are accepted"


def test_the_limit_by_hand():
    assert MAX_ASPECT == 16
    for w, h in ((16, 1), (1, 16), (1920, 1080), (224, 224), (4000, 250)):
        check_pixels(w, h, "fine")
    for w, h, ratio in ((17, 1, 17), (1, 17, 17), (8000, 1, 8000), (4001, 250, 16)):
        with pytest.raises(ValueError, match=rf"strip: {w} x {h} pixels, {ratio} {SENTENCE}"):
            check_pixels(w, h, "strip")


@pytest.fixture(scope="module")
def strips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("strips")
    out = {}
    for w in (16000, 65535):
        out[w] = d / f"strip{w}.png"
        Image.fromarray(np.full((1, w, 3), 100, np.uint8)).save(out[w], optimize=True)
    return out


def test_strip_files_are_tiny_and_refused_by_the_library_and_the_cli(strips, tmp_path, capsys):
    assert all(p.stat().st_size < 400 for p in strips.values())  # a few hundred bytes each
    predictor = Predictor(BUNDLED, device="cpu", precision="fp32")
    for w, path in strips.items():
        with pytest.raises(ValueError, match=rf"strip{w}.png: {w} x 1 pixels, {w} {SENTENCE}"):
            predictor([path])
        with pytest.raises(ValueError, match=SENTENCE):  # the same array handed over in memory
            predictor([np.full((1, w, 3), 100, np.uint8)])
        assert main(["predict", str(path), "--checkpoint", str(BUNDLED), "--out", str(tmp_path / "e.json")]) != 0
        assert f"{w} times longer than wide" in capsys.readouterr().err


@pytest.fixture(scope="module")
def strip_video(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("strip_video") / "strip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = 2048, 2, "yuv420p"
        for _ in range(3):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((2, 2048, 3), np.uint8), format="rgb24")))
        container.mux(stream.encode(None))
    return path


VIDEO_SENTENCE = "strip.mp4 (video frames): 2048 x 2 pixels, 1024 times longer than wide"


def test_a_strip_video_is_refused_by_the_cli_and_the_app_in_the_same_words(strip_video, app_url, tmp_path, capsys):
    """The app once called any refused video "not a readable video (corrupt file...)" while the CLI gave the
    real reason (issue 27, item 8)."""
    assert main(["predict", str(strip_video), "--checkpoint", str(BUNDLED), "--out", str(tmp_path / "e.json")]) != 0
    assert VIDEO_SENTENCE in capsys.readouterr().err
    with pytest.raises(Exception, match=VIDEO_SENTENCE.replace("(", r"\(").replace(")", r"\)")) as err:
        Client(app_url, verbose=False).predict(handle_file(str(strip_video)), 5, 20, api_name="/analyse_clip")
    assert "/tmp" not in str(err.value)


def test_every_frame_endpoint_refuses_a_strip_without_paths(app_url, strips):
    client = Client(app_url, verbose=False)
    strip = handle_file(str(strips[16000]))
    calls = {
        "/analyse_frames": ([strip],),
        "/predict_frame": (strip,),
        "/compare": (strip, "blood", 0.5),
    }
    for api, args in calls.items():
        with pytest.raises(Exception, match="16000 times longer than wide") as err:
            client.predict(*args, api_name=api)
        assert "/tmp" not in str(err.value), (api, str(err.value))


@pytest.mark.parametrize("reader", ["demo.truth.load_mask", "explain.error_analysis.overlays.crop_mask"])
def test_masks_are_checked_before_they_are_decoded(reader, strips, tmp_path):
    """Both lesion-mask readers refuse by the header: a 13000 x 13000 mask (169 megapixels, once accepted at
    +800 MB), one beyond Pillow's own bomb limit (once its raw message) and a strip."""
    import importlib

    from test_inference import _png_claiming

    module, name = reader.rsplit(".", 1)
    read = getattr(importlib.import_module(module), name)
    with pytest.raises(ValueError, match=r"big_mask.png: 13000 x 13000 pixels \(169 megapixels\).*at most 40"):
        read(_png_claiming(tmp_path / "big_mask.png", 13000, 13000), 224)
    with pytest.raises(ValueError, match=r"bomb_mask.png: more than \d+ megapixels.*at most 40 megapixels"):
        read(_png_claiming(tmp_path / "bomb_mask.png", 70000, 70000), 224)
    with pytest.raises(ValueError, match=rf"strip16000.png: 16000 x 1 pixels, 16000 {SENTENCE}"):
        read(strips[16000], 224)
    ok = tmp_path / "ok_mask.png"
    Image.fromarray(np.pad(np.ones((20, 20), np.uint8), 10)).save(ok)
    assert read(ok, 224).shape == (224, 224) and read(ok, 224).any()
