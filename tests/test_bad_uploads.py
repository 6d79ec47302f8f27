"""Every upload reaches our checks before anything decodes it (issue 27, item 2): image bombs in eight formats,
an empty file, text and HTML named .png and a bad-checksum PNG once failed inside gr.Image's preprocessing on
/predict_frame and /compare, and the client got the server's upload path and Pillow's exception text."""

from __future__ import annotations

import re

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from benchmarks._bad_inputs import CASES, SIDE, write_cases

CLASS_NAME = re.compile(r"\b[A-Z]\w*(Error|Exception|Warning)\b")
ENDPOINTS = {
    "/predict_frame": lambda f: (f,),
    "/compare": lambda f: (f, "blood", 0.5),
    "/analyse_frames": lambda f: ([f],),
    "/noise_lab": lambda f: (None, f, 0.5, "blood"),
}


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return write_cases(tmp_path_factory.mktemp("bad"))


def test_the_cases_are_what_they_claim(cases):
    """Each bomb's header states 20000 x 20000 to Pillow (which refuses it as a bomb itself), in few bytes."""
    assert len(CASES) == 12
    for name, path in cases.items():
        assert path.stat().st_size < 1000, name
        if name.startswith("bomb."):
            with pytest.raises(Image.DecompressionBombError, match=f"{SIDE * SIDE} pixels"):
                Image.open(path)


def _answer(client: Client, api: str, path) -> str:
    try:
        return "accepted: " + str(client.predict(*ENDPOINTS[api](handle_file(str(path))), api_name=api))[:200]
    except Exception as exc:  # the client raises the app's message
        return str(exc)


@pytest.mark.parametrize("api", list(ENDPOINTS))
def test_no_answer_carries_a_path_or_an_exception_name(running_app, cases, api):
    client = Client(running_app.url, verbose=False)
    logged = len(running_app.log.read_text())
    for name, path in cases.items():
        answer = _answer(client, api, path)
        if name == "badcrc.png":  # Pillow reads past a bad checksum: analysed (the client's own copies of the
            assert answer.startswith("accepted"), (api, answer)  # result images are the only paths)
            continue
        assert "/tmp" not in answer and "gradio" not in answer.lower(), (api, name, answer)
        assert not CLASS_NAME.search(answer), (api, name, answer)
        assert "preprocess" not in answer, (api, name, answer)
        if "not a file type this input takes" in answer:  # the upload's filter: a .tga is no image type to it
            assert api == "/analyse_frames" and answer == f"{name}: not a file type this input takes (image, .csv)"
        elif name.startswith("bomb."):
            # from Pillow's own guard, or a PNG's size read from its IHDR chunk by the fast reader
            sized = f"{name}: more than 179 megapixels" in answer or f"{name}: 20000 x 20000 pixels" in answer
            assert sized and "at most 40 megapixels" in answer, (api, answer)
        else:
            assert f"{name} is not an image file that Pillow can read" in answer, (api, name, answer)
    log = running_app.log.read_text()[logged:]
    assert "Traceback" not in log and "/tmp/gradio" not in log, log[-3000:]  # one line per refusal


def test_a_float_tiff_gets_the_same_answer_everywhere(app_url, tmp_path):
    """/predict_frame once analysed a float TIFF as a black frame (gr.Image converted it) while
    /analyse_frames refused it (issue 27, item 8)."""
    path = tmp_path / "float.tif"
    Image.fromarray(np.full((32, 32), 0.5, np.float32), mode="F").save(path)
    client = Client(app_url, verbose=False)
    for api in ("/predict_frame", "/analyse_frames", "/compare"):
        assert "float.tif: floating-point PIL images are not supported" in _answer(client, api, path), api
