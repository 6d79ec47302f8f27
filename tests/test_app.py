"""The Gradio app, launched for real on the bundled models and driven with gradio_client."""

import json
import re
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from diffclip.labels import LABELS
from diffclip.submission import validate_document

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "demo" / "examples" / "frames" / "blood.png"
CLIP = ROOT / "demo" / "examples" / "clip.mp4"


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_frame_returns_17_scores_and_maps(client):
    out = client.predict(handle_file(str(EXAMPLE)), api_name="/predict_frame")
    assert list(out["scores"]) == list(LABELS)
    assert all(0.0 <= p <= 1.0 for p in out["scores"].values())
    assert out["variant"] == "diff" and set(out["maps"]) == {"a1", "a2", "diff"}
    height, width, channels = out["maps"]["diff"]  # the 224 x 224 overlay with its colour bar on the right
    assert height >= 224 and width >= 224 + 60 and channels == 3
    state_outputs = client.predict([handle_file(str(EXAMPLE))], api_name="/analyse_frames")
    gallery, scores_html = state_outputs[0], state_outputs[1]
    assert len(gallery) == 1 and scores_html.count('class="dc-row"') == 17


def test_clip_returns_timeline_and_valid_json(client):
    timeline, table, files, overlay, gallery, _ = client.predict(handle_file(str(CLIP)), 5, 40,
                                                                  api_name="/analyse_clip")
    assert Path(timeline).stat().st_size > 20_000
    names = sorted(Path(f).name for f in files)
    assert names == ["clip_events.json", "clip_overlay.mp4", "clip_probs.csv"]
    doc = json.loads(Path(next(f for f in files if f.endswith(".json"))).read_text())
    validate_document(doc)
    assert doc["videos"][0]["video_id"] == "clip" and table["data"]
    import av

    with av.open(overlay) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    assert len(gallery) == 40


def test_bad_inputs_give_plain_errors_and_the_server_keeps_serving(client, tmp_path):
    fake_png = tmp_path / "fake.png"
    fake_png.write_bytes(b"not really a png")
    with pytest.raises(Exception, match="fake.png is not an image file") as err:
        client.predict([handle_file(str(fake_png))], api_name="/analyse_frames")
    assert "/" not in str(err.value)  # the file's name, not where the server keeps it
    fresh = Client(client.src, verbose=False)  # a new session: nothing analysed yet
    with pytest.raises(Exception, match="analyse a frame first"):
        fresh.predict("blood", "Grad-CAM (token grid)", 0.5, 32, api_name="/attribution")
    bad_video = tmp_path / "broken.mp4"
    bad_video.write_bytes(b"\x00" * 4096)
    with pytest.raises(Exception, match="broken.mp4 is not a readable video"):
        client.predict(handle_file(str(bad_video)), 5, 20, api_name="/analyse_clip")
    big = tmp_path / "huge.png"
    big.write_bytes(b"\x89PNG" + b"\x00" * (51 * 1024 * 1024))
    with pytest.raises(Exception, match="(?i)size|large"):
        client.predict([handle_file(str(big))], api_name="/analyse_frames")
    # a 16000 x 16000 PNG header in a few hundred bytes: refused from its header, quickly, without paths
    import time

    from test_inference import _png_claiming

    bomb = _png_claiming(tmp_path / "bomb.png", 16000, 16000)
    start = time.perf_counter()
    with pytest.raises(Exception, match=r"bomb.png: (more than \d+ megapixels|16000 x 16000 pixels \(256 megapixels\)); images and "
                       r"video frames of at most 40") as err:
        client.predict([handle_file(str(bomb))], api_name="/analyse_frames")
    assert time.perf_counter() - start < 10 and "/" not in str(err.value)
    # still serving
    out = client.predict(handle_file(str(EXAMPLE)), api_name="/predict_frame")
    assert len(out["scores"]) == 17


def test_compare_view_numbers(client):
    *_, table, numbers = client.predict(handle_file(str(EXAMPLE)), "blood", 0.5, api_name="/compare")
    assert "attention in lesion mask" in table and "pointing game" in table and "entropy" in table
    assert numbers["in_distribution"] is True and "dc-ood" not in table
    assert set(numbers["ood"]) == {"vanilla", "diff"} and numbers["label"] == "blood"
    for model in ("vanilla", "diff"):  # the table shows the JSON's numbers
        assert f"{numbers['models'][model]['layer']['lesion_mass']:.3f}" in table
    assert "**On this frame (layer 6, head mean):**" in table
    from matplotlib import cbook  # a portrait photo gets the Frames tab's banner (issue 29, point 4)

    photo = handle_file(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    *_, table, numbers = client.predict(photo, "blood", 0.5, api_name="/compare")
    assert numbers["in_distribution"] is False
    assert table.startswith('<div class="dc-warning dc-ood" role="alert"><b>This does not look like a capsule')


def test_compare_takes_any_two_of_the_bundled_three(client):
    """Issue 31, point 5: the app serves the bundled vanilla, diff and diff_v2 models, and /compare draws any
    two of them (each model's numbers under its own name, its own map kind)."""
    from itertools import combinations

    kinds = {"vanilla": "a1", "diff": "a1 − λ·a2", "diff_v2": "a1 − λ·a2"}
    for left, right in combinations(kinds, 2):
        *maps, table, numbers = client.predict(handle_file(str(EXAMPLE)), "blood", 0.5, 6, "mean", left, right,
                                               api_name="/compare")
        assert list(numbers["models"]) == [left, right] and set(numbers["ood"]) == {left, right}
        assert [numbers["models"][m]["map"] for m in (left, right)] == [kinds[left], kinds[right]]
        for model in (left, right):
            assert f"{numbers['models'][model]['layer']['lesion_mass']:.3f}" in table


def test_compare_words_name_the_model_that_does_better_on_this_frame():
    from demo.compare_view import on_this_frame

    def model(lesion, hit, entropy):
        return {"layer": {"lesion_mass": lesion, "pointing_game": hit, "entropy": entropy}}

    numbers = {"models": {"standard": model(0.042, True, 0.990), "differential": model(0.022, False, 0.946)}}
    assert on_this_frame(numbers, "layer 6, head mean") == (
        "**On this frame (layer 6, head mean):** The standard model puts more of its attention inside the lesion "
        "(0.042 against 0.022); only the standard model's peak hits it; the differential model's map is less "
        "spread (entropy 0.946 against 0.990).")
    numbers = {"models": {"standard": {"layer": {"entropy": 0.5}}, "differential": {"layer": {"entropy": 0.5}}}}
    assert on_this_frame(numbers, "rollout") == "**On this frame (rollout):** Both maps are equally spread."


def test_requirements_match_pyproject():
    block = re.search(r"^dependencies = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text(), re.S | re.M).group(1)
    deps = re.findall(r'"([^"]+)"', block)
    lines = [ln for ln in (ROOT / "requirements.txt").read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines == deps
    header = (ROOT / "README.md").read_text().split("---")[1]
    assert "sdk: gradio" in header and "app_file: app.py" in header


def test_the_api_lists_exactly_the_readme_endpoints(client):
    """The running app once listed about 30 auto-named events (/on_attribution_6, /render_attention_8, ...)
    beside the documented endpoints (issue 28, point 6)."""
    from demo.ui import ENDPOINTS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `/(\w+)` \|", readme, flags=re.M))
    listed = {name.lstrip("/") for name in client.view_api(print_info=False, return_format="dict")["named_endpoints"]}
    assert listed == documented == set(ENDPOINTS)
