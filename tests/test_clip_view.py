"""The Clip view says what it did: truth bands beside predictions, the clip's temporal mAP (challenge rule),
what part of the video was analysed, why a label is active, and legible overlay text."""

import json
from pathlib import Path

import numpy as np
import pytest

from diffclip.labels import LABELS

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "demo" / "examples" / "clip.mp4"
CLIP_TRUTH = ROOT / "demo" / "examples" / "clip_ground_truth.json"


@pytest.fixture(scope="module")
def micro(tmp_path_factory):
    """A tiny random model: the clip view's bookkeeping, not its predictions, is under test."""
    from diffclip.checkpoint import save_checkpoint
    from diffclip.factory import build_model
    from diffclip.inference import Predictor

    folder = tmp_path_factory.mktemp("micro") / "m"
    save_checkpoint(build_model("micro", "diff"), folder)
    return Predictor(folder, device="cpu", precision="fp32")


def _lane_pixel(png: Path, row: int, n_rows: int, frame: float, frames, extent) -> np.ndarray:
    """The colour at ``frame`` in the truth lane of timeline row ``row``, from the layout the figure states
    (rows between TOP_IN and BOTTOM_IN inches, matplotlib's hspace 0.12, the lane's data range)."""
    import cv2

    from diffclip.timeline import BOTTOM_IN, DPI, TOP_IN, TRUTH_BAND, YLIM, frame_x

    img = cv2.imread(str(png))[..., ::-1]
    top, bottom = TOP_IN * DPI, img.shape[0] - BOTTOM_IN * DPI
    h = (bottom - top) / (n_rows + (n_rows - 1) * 0.12)
    y_data = sum(TRUTH_BAND) / 2
    y = top + row * h * 1.12 + (YLIM[1] - y_data) / (YLIM[1] - YLIM[0]) * h
    return img[int(round(y)), int(round(frame_x(frame, frames, extent)))]


def test_example_clip_timeline_draws_its_truth_under_the_predictions(micro, tmp_path):
    from demo.tabs.clip.clip_view import analyse_clip

    result = analyse_clip(micro, CLIP, 5, 20, out_dir=tmp_path, truth_file=CLIP_TRUTH)
    truth = json.loads(CLIP_TRUTH.read_text())["videos"][0]["events"]
    assert result.truth is not None and result.truth.events == truth
    # mouth (first row) is true on frames 0-4 only; colon (fifth row) on 63-99, past the 20-frame cap
    png = result.files["timeline"]
    at = lambda row, frame: _lane_pixel(png, row, 17, frame, result.frames, 100)  # noqa: E731
    assert at(0, 2).max() < 60  # black band
    assert at(0, 30).min() > 200  # the lane, empty
    assert at(4, 80).max() < 130 and at(4, 30).min() > 200  # truth is drawn past the analysed part too
    # the tab pairs the example clip with its truth (one click fills both)
    src = (ROOT / "demo" / "tabs" / "clip" / "__init__.py").read_text()
    assert 'with_name("clip_ground_truth.json")' in src and "inputs=[video, truth_file]" in src


def _events(*spans):
    return [{"start": s, "end": e, "label": list(labs)} for s, e, labs in spans]


TRUTH = _events((0, 9, ["stomach"]), (10, 11, ["small intestine"]), (12, 15, ["small intestine", "ulcer"]),
                (16, 19, ["small intestine"]))
PRED = _events((0, 7, ["stomach"]), (8, 13, ["small intestine"]), (14, 17, ["small intestine", "ulcer"]),
               (18, 19, ["small intestine", "colon"]))


def test_clip_map_equals_a_hand_computed_value():
    from demo.tabs.clip.clip_truth import ClipTruth, score_clip

    s = score_clip(ClipTruth("t.json", "v", TRUTH), PRED, 0, 19)
    # by hand, tIoU 0.5: stomach (0-7) vs (0-9): 8/10 -> AP 1. small intestine: (8-13) overlaps 10-11 by
    # 2/6 and 12-15 by 2/8; (14-17) overlaps 12-15 and 16-19 by 2/6; (18-19) vs 16-19: 2/4 = 0.5, a match
    # at rank 3 -> AP = 1/3 * 1/3. ulcer (14-17) vs (12-15): 2/6 -> 0. colon predicted without truth -> 0.
    # The 13 other labels: no truth, no prediction -> 1 each.
    assert s.per_label[0.5]["stomach"] == 1.0
    assert s.per_label[0.5]["small intestine"] == pytest.approx(1 / 9)
    assert s.per_label[0.5]["ulcer"] == 0.0 and s.per_label[0.5]["colon"] == 0.0
    assert s.maps[0.5] == pytest.approx((14 + 1 / 9) / 17)
    assert s.maps[0.95] == pytest.approx(13 / 17)  # stomach's 0.8 overlap no longer counts
    assert s.truth_counts["small intestine"] == 3 and s.pred_counts["colon"] == 1


def test_clip_map_scores_only_the_analysed_frames():
    from demo.tabs.clip.clip_truth import ClipTruth, score_clip, score_summary

    pred = _events((0, 9, ["stomach"]), (10, 13, ["small intestine"]))
    s = score_clip(ClipTruth("t.json", "v", TRUTH), pred, 0, 13)
    # truth cut at frame 13: 16-19 left out, 12-15 cut to 12-13 (small intestine and ulcer)
    assert (s.left_out, s.cut) == (1, 1)
    # stomach 1; small intestine: (10-13) vs 10-11: 2/4 = 0.5, a match, recall 1/2 -> 0.5; ulcer 0; 14 free
    assert s.maps[0.5] == pytest.approx((1 + 0.5 + 14) / 17)
    text = score_summary(s)
    assert "0.91** at tIoU >= 0.5" in text and "1 event(s) left out, 1 cut" in text
    with pytest.raises(ValueError, match="t.json has no labelled events in the analysed frames 20-30"):
        score_clip(ClipTruth("t.json", "v", TRUTH), [], 20, 30)


def test_a_capped_analysis_says_what_it_covered(micro, tmp_path):
    from demo.tabs.clip.clip_notes import Coverage, coverage_note, rate_note
    from demo.tabs.clip.clip_view import analyse_clip, notes

    # 150 s at 10 frames/s, sampled at 5 frames/s, stopped by a cap of 300 frames: 60 s
    capped = Coverage(np.arange(0, 600, 2), np.arange(0, 600, 2) / 10, 10.0, 1500, 150.0, 5.0, 300)
    assert coverage_note(capped).startswith("**Analysed only 0.0-60.0 s of 150.0 s** (frames 0-599 of 1500): "
                                            "the cap of 300 frames stopped the analysis")
    whole = Coverage(np.arange(0, 1500, 2), np.arange(0, 1500, 2) / 10, 10.0, 1500, 150.0, 5.0, 1000)
    assert coverage_note(whole) == "Analysed 0.0-150.0 s of 150.0 s (frames 0-1499 of 1500; 750 sampled frames)."
    assert rate_note(whole) == "Sampled 5 frames/s (one every 0.20 s) of a 10 frames/s video."
    too_fast = Coverage(np.arange(100), np.arange(100) / 10, 10.0, 100, 10.0, 30.0, 200)
    assert "asked for 30 frames/s, but the video has only 10**: every frame was analysed" in rate_note(too_fast)
    # the same from a real analysis of the 10 s example clip, capped at 10 frames sampled at 5 frames/s
    text = notes(analyse_clip(micro, CLIP, 5, 10, out_dir=tmp_path))
    assert "**Analysed only 0.0-2.0 s of 10.0 s** (frames 0-19 of 100): the cap of 10 frames" in text
    assert "median filter over 7 sampled frames (1.4 s here)" in text


def test_a_label_active_only_through_smoothing_is_marked():
    from demo.tabs.clip.clip_notes import Coverage
    from demo.tabs.clip.clip_view import ClipResult, events_rows
    from diffclip.events import label_set_events
    from diffclip.postprocess import ACTIVE_OWN, ACTIVE_SMOOTHED, INACTIVE, activity_reasons, postprocess

    labels, thresholds = ["stomach", "small intestine", "ulcer"], np.array([0.5, 0.4, 0.5])
    probs = np.zeros((20, 3))
    probs[:, 0] = 0.9
    probs[:, 1] = [0.6] * 5 + [0.06] * 5 + [0.6] * 5 + [0.1] * 5  # a 5-frame gap, filled (<= 5)
    probs[5:10, 2] = 0.8  # an ulcer exactly over the gap: the label set changes there
    active = postprocess(probs, thresholds)
    reasons = activity_reasons(probs, thresholds, active)
    assert reasons[:, 1].tolist() == [ACTIVE_OWN] * 5 + [ACTIVE_SMOOTHED] * 5 + [ACTIVE_OWN] * 5 + [INACTIVE] * 5
    frames = np.arange(20) * 2
    events = label_set_events(active, frames, labels, extend=True)
    cov = Coverage(frames, frames / 10, 10.0, 40, 4.0, 5.0, 200)
    result = ClipResult("v", frames, frames / 10, [], probs, active, events, [], {}, coverage=cov)
    rows = events_rows(result, labels, thresholds)
    assert rows == [
        [0, 9, "0.0-1.0", 5, "stomach 0.90, small intestine 0.60", ""],
        [10, 19, "1.0-2.0", 5, "stomach 0.90, ulcer 0.80", "small intestine 0.06 < 0.40"],
        [20, 29, "2.0-3.0", 5, "stomach 0.90, small intestine 0.60", ""],
        [30, 38, "3.0-3.9", 5, "stomach 0.90", ""],  # the last event ends at the last sampled frame
    ]


def test_bad_truth_files_say_what_is_wrong_in_one_line(micro, tmp_path):
    from demo.tabs.clip.clip_truth import read_truth
    from demo.tabs.clip.clip_view import analyse_clip

    def write(name, content):
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return path

    one = {"videos": [{"video_id": "clip", "events": [{"start": 0, "end": 4, "label": ["mouth"]}]}]}
    cases = [
        (write("broken.json", '{"videos": ['), r"^broken.json: invalid JSON at line 1, column 13"),
        (write("list.json", []), r'^list.json: expected an object with a "videos" list$'),
        (write("label.json", {"videos": [{"video_id": "clip", "events": [{"start": 0, "end": 4, "label": ["tumour"]}]}]}),
         r"^label.json: video 'clip' event 0: unknown label\(s\) \['tumour'\]"),
        (write("order.json", {"videos": [{"video_id": "clip", "events": [{"start": 9, "end": 4, "label": []}]}]}),
         r"^order.json: video 'clip' event 0: start 9 is after end 4$"),
        (write("other.json", {"videos": [{**one["videos"][0], "video_id": "a"}, {"video_id": "b", "events": []}]}),
         r"^other.json has no video 'clip' \(it has 'a', 'b'\)$"),
        (write("long.json", {"videos": [{"video_id": "clip", "events": [{"start": 0, "end": 149, "label": ["colon"]}]}]}),
         r"^long.json: its events run to frame 149, but clip.mp4 has 100 frames \(0-99\): is it the truth of another"),
    ]
    for path, message in cases:
        with pytest.raises(ValueError, match=message):
            read_truth(path, "clip", 100, "clip.mp4")
    renamed = read_truth(write("renamed.json", {"videos": [{**one["videos"][0], "video_id": "v7"}]}), "clip", 100)
    assert renamed.notes == ["renamed.json is the truth of video 'v7', and this clip is 'clip': compared anyway, "
                             "as the file's only video"]
    # in the app, a bad truth file stops the analysis before any frame is decoded, naming the file only
    with pytest.raises(ValueError, match=r"^long.json: its events run to frame 149, but clip.mp4 has 100 frames"):
        analyse_clip(micro, CLIP, 5, 10, out_dir=tmp_path / "out", truth_file=tmp_path / "long.json")
    assert not (tmp_path / "out" / "frames").exists()


def test_overlay_text_is_drawn_once_with_its_outline_around_it():
    from demo.captions import draw_lines

    grey = np.full((60, 320, 3), 128, np.uint8)
    out = draw_lines(grey, ["small intestine"], size=16, stroke=2)  # (the dark box behind stays above 40)
    fill, outline = np.argwhere(out[..., 0] > 200), np.argwhere(out[..., 0] < 40)
    # the outline surrounds the letters by its stroke on every side; two passes that drift apart (OpenCV's
    # thick and thin putText) leave the outline's end 11 pixels past the fill's ("intestinee")
    assert abs(outline[:, 1].max() - fill[:, 1].max()) <= 3 and abs(outline[:, 1].min() - fill[:, 1].min()) <= 3
    assert abs(outline[:, 0].max() - fill[:, 0].max()) <= 3 and abs(outline[:, 0].min() - fill[:, 0].min()) <= 3


def test_timeline_clicks_and_marker_agree():
    from diffclip.timeline import DPI, WIDTH_IN, draw_marker, frame_x, sample_at

    frames = np.arange(0, 100, 4)
    for i in (0, 7, 24):
        assert sample_at(frame_x(frames[i], frames, 150), WIDTH_IN * DPI, frames, 150) == i
    assert sample_at(0, WIDTH_IN * DPI, frames) == 0 and sample_at(WIDTH_IN * DPI, WIDTH_IN * DPI, frames) == 24
    img = draw_marker(np.full((900, 1200, 3), 255, np.uint8), frames[7], frames, 150)
    columns = np.flatnonzero((img[450] != 255).any(axis=-1))
    assert abs(columns.mean() - frame_x(frames[7], frames, 150)) <= 1.0


def test_windows_and_gaps_have_one_documented_unit(capsys):
    from diffclip.cli import main
    from diffclip.postprocess import PostProcess

    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--median-window", "--min-length", "--max-gap"):
        assert option in text
    assert text.count("in sampled frames") == 3
    assert PostProcess().seconds(5.0) == {"median_window": 1.4, "min_length": 0.6, "max_gap": 1.0}
    assert len(LABELS) == 17


def test_each_sampled_frame_gets_the_out_of_distribution_check_and_the_notes_summarise_it(tmp_path):
    """Issue 29, point 4: a clip whose last frames are a portrait photo says how many sampled frames do not
    look like capsule frames, and which, with the Frames tab's banner; the gallery marks them."""
    import cv2
    from matplotlib import cbook

    from demo.resources import DEFAULT_CHECKPOINT
    from demo.tabs.clip.clip_view import analyse_clip, notes
    from diffclip.inference import Predictor
    from diffclip.mp4 import write_mp4

    size = (336, 336)
    examples = [cv2.resize(cv2.imread(str(p))[..., ::-1], size)
                for p in sorted((ROOT / "demo" / "examples" / "frames").glob("*.png"))
                if "_mask" not in p.name and "_distractors" not in p.name]
    capsule = examples[:3]
    photo = cv2.resize(cv2.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))[..., ::-1], size)
    clip = write_mp4(capsule + [photo] * 2, tmp_path / "mixed.mp4", fps=5, crf=10)
    predictor = Predictor(DEFAULT_CHECKPOINT, device="cpu")
    result = analyse_clip(predictor, clip, 5, 20, out_dir=tmp_path / "out")
    assert result.in_distribution == [True, True, True, False, False]
    said = notes(result)
    assert said.startswith('<div class="dc-warning dc-ood" role="alert"><b>2 of 5 sampled frames do not look like '
                           "capsule endoscopy frames.</b> The scores and events of those frames describe pictures "
                           "the model was not trained on: frames 3, 4.</div>")
    # a clip of capsule frames only: no banner. Not the example clip: the bundled diff model's check flags 4 of
    # its 10 sampled frames (esophagus and frames with three or four findings; README, "Out-of-distribution
    # warning")
    clean = analyse_clip(predictor, write_mp4(examples, tmp_path / "clean.mp4", fps=5, crf=10), 5, 20,
                         out_dir=tmp_path / "clean")
    assert len(clean.in_distribution) == 8 and all(clean.in_distribution) and "dc-ood" not in notes(clean)


def test_the_overlay_legend_says_what_the_video_draws():
    """Issue 29: the overlay video's tint had no legend. The legend's claims, checked against the drawing code:
    the blend, RdBu's ends at a frame's extreme values and white at 0 for a differential map."""
    import inspect

    from matplotlib import colormaps

    from demo.tabs.clip.clip_view import analyse_clip, overlay_legend
    from explain.overlay import overlay

    alpha = inspect.signature(analyse_clip).parameters["overlay_alpha"].default
    said = overlay_legend(True, alpha)
    assert f"blended at {alpha:.0%}" in said and "white at 0" in said and "its own scale" in said
    grey = np.full((3, 3, 3), 100, np.uint8)
    heat = np.array([[-2.0, 0.0, 1.0]])  # this frame's largest |value|: 2 -> the deepest blue
    out = overlay(grey, heat, alpha, diverging=True)[1]
    rdbu = (np.array(colormaps["RdBu_r"]([0.0, 0.5]))[:, :3] * 255).astype(np.uint8)
    expect = (100 * (1 - alpha) + rdbu.astype(np.float32) * alpha).round()
    assert np.abs(out[0].astype(int) - expect[0]).max() <= 1 and np.abs(out[1].astype(int) - expect[1]).max() <= 1
    assert out[0, 2] > out[0, 0]  # blue at the negative end
    assert "inferno" in overlay_legend(False) and "white at 0" not in overlay_legend(False)
