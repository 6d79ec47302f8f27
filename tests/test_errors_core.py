"""diffclip.error_analysis: counts, ranked mistakes, section confusion and event errors on hand-made cases (expected
values worked out by hand from the definitions), labelled sets from CSVs and events JSON, and the cached pass."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from diffclip.error_analysis.event_errors import label_event_errors, video_event_errors
from diffclip.error_analysis.frame_metrics import label_counts, ranked_mistakes, section_confusion
from diffclip.error_analysis.labelled_set import load_labelled
from diffclip.error_analysis.tags import read_tags, tag, tags_csv
from diffclip.labels import LABELS, SECTIONS
from diffclip.scoring import average_precision, first_matches


def test_first_matches_takes_the_first_free_truth_segment_in_file_order():
    truth = [(0, 9), (5, 14)]
    # (0, 9) vs (0, 9): 1.0; vs (5, 14): 5/15. The second prediction finds (0, 9) taken and (5, 14) at 10/10.
    assert first_matches([(0, 9), (5, 14), (0, 9)], truth, 0.5) == [0, 1, None]
    # (2, 11) overlaps (0, 9) by 8 of 12 (0.667) and (5, 14) by 7 of 15 (0.467): the first wins
    assert first_matches([(2, 11)], truth, 0.5) == [0]
    assert first_matches([(2, 11)], truth, 0.7) == [None]
    # AP from the matches: hit, miss, hit over 2 truths = 1 * 1/2 + 2/3 * 1/2
    assert average_precision([(0, 9), (40, 45), (5, 14)], truth, 0.5) == pytest.approx(0.5 + 1 / 3)


def test_label_counts_by_hand():
    truth = np.array([1, 0, 1, 0, 1, 0], bool)
    probs = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1])
    c = label_counts(truth, probs, 0.65)
    # said yes: 0.9, 0.8, 0.7 -> TP 2 (rows 0, 2), FP 1 (row 1); FN row 4; TN rows 3, 5
    assert (c["tp"], c["fp"], c["fn"], c["tn"], c["support"]) == (2, 1, 1, 2, 3)
    assert c["precision"] == pytest.approx(2 / 3) and c["recall"] == pytest.approx(2 / 3)
    assert c["f1"] == pytest.approx(2 / 3)
    # AP = sum over positives in rank order of precision at that rank / 3: ranks 1, 3, 5 -> 1, 2/3, 3/5
    assert c["ap"] == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    # p == threshold counts as yes, as the predictor's `active` does
    assert label_counts(truth, probs, 0.7)["tp"] == 2
    none = label_counts(np.zeros(3, bool), np.array([0.1, 0.2, 0.3]), 0.5)
    assert none["precision"] is None and none["recall"] is None and none["ap"] is None and none["tn"] == 3


def test_ranked_mistakes_are_the_most_confident_beyond_the_threshold():
    truth = np.array([0, 0, 1, 1, 0, 1, 0], bool)
    probs = np.array([0.55, 0.95, 0.10, 0.45, 0.40, 0.90, 0.95])
    fp, fn = ranked_mistakes(truth, probs, 0.5, k=5)
    assert fp.tolist() == [1, 6, 0]  # 0.95, 0.95 (ties keep frame order), 0.55; 0.40 is below the threshold
    assert fn.tolist() == [2, 3]  # 0.10 then 0.45; 0.90 was found
    fp, fn = ranked_mistakes(truth, probs, 0.5, k=1)
    assert fp.tolist() == [1] and fn.tolist() == [2]


def test_section_confusion_rows_are_truth_columns_the_highest_rated_section():
    n = len(LABELS)
    truth = np.zeros((4, n), bool)
    probs = np.zeros((4, n))
    s = {name: LABELS.index(name) for name in SECTIONS}
    truth[0, s["stomach"]] = truth[1, s["stomach"]] = truth[2, s["colon"]] = True  # row 3: no section
    probs[0, s["stomach"]], probs[0, s["colon"]] = 0.9, 0.2
    probs[1, s["stomach"]], probs[1, s["small intestine"]] = 0.3, 0.6
    probs[2, s["colon"]] = 0.8
    c = section_confusion(truth, probs, LABELS)
    m = np.array(c["matrix"])
    assert m[SECTIONS.index("stomach"), SECTIONS.index("stomach")] == 1
    assert m[SECTIONS.index("stomach"), SECTIONS.index("small intestine")] == 1
    assert m[SECTIONS.index("colon"), SECTIONS.index("colon")] == 1
    assert m.sum() == 3 and c["frames"] == 3 and c["without_one_section"] == 1


def test_event_errors_by_hand():
    truth = [(0, 9), (20, 29)]
    pred = [(0, 9), (15, 24), (40, 45), (1, 8)]
    e = label_event_errors(pred, truth, 0.5)
    # (0, 9) matches exactly (not a boundary error); (15, 24) vs (20, 29): 5 / 15 = 0.333, unmatched but
    # overlapping; (40, 45) overlaps nothing; (1, 8) overlaps (0, 9) by 8/10 but it is already taken
    assert e["matched"] == 1 and e["spurious"] == [[40, 45]]
    assert e["boundary"] == [{"pred": [15, 24], "truth": [20, 29], "tiou": 0.3333, "matched": False},
                             {"pred": [1, 8], "truth": [0, 9], "tiou": 0.8, "matched": False}]
    assert e["missed"] == [{"truth": [20, 29], "best_tiou": 0.3333}]
    # label-set events explode into per-label segments, as the challenge does
    v = video_event_errors([{"start": 0, "end": 9, "label": ["blood", "colon"]}],
                           [{"start": 0, "end": 4, "label": ["blood"]}], LABELS)
    assert set(v) == {"blood", "colon"}
    assert v["blood"]["boundary"][0]["tiou"] == 0.5 and v["blood"]["boundary"][0]["matched"]
    assert v["blood"]["ap"] == {"0.5": 1.0, "0.95": 0.0} and v["colon"]["missed"][0]["best_tiou"] == 0.0


def _frames(folder, numbers):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        Image.new("RGB", (32, 32), (120, 60, 40)).save(folder / f"frame_{n:06d}.PNG")


def test_truth_from_a_label_csv_and_from_events(tmp_path):
    root = tmp_path / "galar"
    _frames(root / "7", range(4))
    (root / "Labels").mkdir()
    header = ",".join(["frame", *LABELS])
    rows = [",".join([str(f), *("1" if lab in on else "0" for lab in LABELS)])
            for f, on in ((0, {"stomach"}), (1, {"stomach", "blood"}), (2, {"stomach", "blood"}))]
    (root / "Labels" / "7.csv").write_text("\n".join([header, *rows]) + "\n")
    data = load_labelled(root)
    video = data.video("7")
    known, on = video.truth([0, 1, 2, 3], LABELS)
    assert known.tolist() == [True, True, True, False]  # frame 3 has no row
    assert on[1, LABELS.index("blood")] and not on[0, LABELS.index("blood")]
    assert video.events == [{"start": 0, "end": 0, "label": ["stomach"]},
                            {"start": 1, "end": 2, "label": ["stomach", "blood"]}]

    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({"videos": [{"video_id": "7", "events": [
        {"start": 1, "end": 2, "label": ["blood"]}]}]}))
    known, on = load_labelled(root / "7", truth).video("7").truth([0, 1, 2, 3], LABELS)
    assert known.all() and on[:, LABELS.index("blood")].tolist() == [False, True, True, False]
    truth.write_text(json.dumps({"videos": [{"video_id": "8", "events": []}]}))
    with pytest.raises(ValueError, match="has no video '7'"):
        load_labelled(root / "7", truth)
    with pytest.raises(FileNotFoundError, match="no Labels/ folder.*--truth"):
        load_labelled(root / "7")


def test_tags_round_trip_and_refuse_bad_values(tmp_path):
    tags = [tag("1", 5, "blood", "fp", 0.912345, "artefact", "a bubble\nover the lesion"),
            tag("1", 2, "ulcer", "fn", 0.1, "mislabel")]
    path = tmp_path / "tags.csv"
    path.write_text(tags_csv(tags))
    back = read_tags(path)
    assert sorted(back, key=lambda t: t["frame"]) == sorted(tags, key=lambda t: t["frame"])
    by_frame = {t["frame"]: t for t in back}
    assert by_frame[5]["note"] == "a bubble over the lesion" and by_frame[5]["probability"] == 0.91234
    with pytest.raises(ValueError, match="cause must be one of"):
        tag("1", 5, "blood", "fp", 0.9, "bad luck")
    path.write_text(tags_csv(tags).replace("mislabel", "nope"))
    with pytest.raises(ValueError, match=r"tags.csv:\d: cause must be one of"):
        read_tags(path)


def test_the_model_pass_is_cached_by_content(tiny_checkpoint, tmp_path):
    from diffclip.error_analysis.model_pass import run_pass
    from diffclip.inference import Predictor

    root = tmp_path / "set"
    _frames(root / "1", range(6))
    (root / "Labels").mkdir()
    (root / "Labels" / "1.csv").write_text(
        "frame," + ",".join(LABELS) + "\n" + "".join(f"{f}," + ",".join("0" * len(LABELS)) + "\n" for f in range(6)))
    predictor = Predictor(tiny_checkpoint, precision="fp32")
    first = run_pass(predictor, load_labelled(root), cache_dir=tmp_path / "cache", progress=False)
    again = run_pass(predictor, load_labelled(root), cache_dir=tmp_path / "cache", progress=False)
    assert not first.cached and again.cached and again.key == first.key
    np.testing.assert_array_equal(again.probs, first.probs)
    # another picture in one frame is another pass
    from PIL import Image

    Image.new("RGB", (32, 32), (10, 200, 40)).save(root / "1" / "frame_000003.PNG")
    changed = run_pass(predictor, load_labelled(root), cache_dir=tmp_path / "cache", progress=False)
    assert not changed.cached and changed.key != first.key
    assert not np.allclose(changed.probs[3], first.probs[3]) and np.allclose(changed.probs[0], first.probs[0])


def test_a_video_file_with_an_events_json_and_its_frames_decoded_on_demand():
    from diffclip.error_analysis.labelled_set import frame_images

    examples = Path(__file__).resolve().parents[1] / "demo" / "examples"
    data = load_labelled(examples / "clip.mp4", examples / "clip_ground_truth.json")
    video = data.video("clip")
    truth = json.loads((examples / "clip_ground_truth.json").read_text())["videos"][0]["events"]
    assert video.events == truth and video.source.kind == "video" and video.mask_path(3) is None
    first = truth[0]  # the mouth run at the start of the clip
    known, on = video.truth([first["start"], first["end"], first["end"] + 1], LABELS)
    assert known.all() and on[:2, LABELS.index("mouth")].all() and not on[2, LABELS.index("mouth")]
    images = frame_images(video, [50, 3])
    assert sorted(images) == [3, 50] and all(img.ndim == 3 and img.shape[2] == 3 for img in images.values())
