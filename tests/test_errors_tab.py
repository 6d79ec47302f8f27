"""The Errors tab: its view logic on a hand-made model pass over a hand-made set (counts at moved thresholds,
gallery order and pictures, tags, the Frames view's truth), the zip checks of an upload, and the running app
through gradio_client on the bundled held-out set."""

import csv
import io
import stat
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from demo.tabs.errors import errors_view as view
from demo.tabs.errors.errors_upload import extract_set
from diffclip.backbones import Preprocess
from diffclip.error_analysis.model_pass import ModelPass
from diffclip.error_analysis.tags import read_tags, tags_csv
from diffclip.labels import LABELS

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "demo" / "heldout"
POLYP = LABELS.index("polyp")
FRAMES = [0, 10, 20, 30, 40, 50, 60]
# polyp in video "7": frames 0, 10 and 30 have it; 60's truth is unknown (no CSV row)
TRUTH = [1, 1, 0, 1, 0, 0, 0]
PROBS = [0.9, 0.4, 0.7, 0.3, 0.6, 0.1, 0.95]
GREEN = (0, 255, 0)  # explain.display.OUTLINE


def _write_set(root: Path) -> None:
    """Video 7: 256 x 256 grey frames (the crop resizes them to 224), a mask for frame 20 only, and a label
    CSV without a row for frame 60."""
    (root / "7").mkdir(parents=True)
    (root / "Labels").mkdir()
    for n in FRAMES:
        Image.fromarray(np.full((256, 256, 3), 90, np.uint8)).save(root / "7" / f"frame_{n:06d}.PNG")
    mask = np.zeros((256, 256), np.uint8)
    mask[100:160, 100:160] = 255
    Image.fromarray(mask).save(root / "7" / "frame_000020_mask.png")
    with open(root / "Labels" / "7.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["index", *LABELS, "section", "frame"])
        for i, (n, t) in enumerate(zip(FRAMES[:-1], TRUTH[:-1], strict=True)):
            w.writerow([i, *[int(lab == "colon" or (lab == "polyp" and t)) for lab in LABELS], "colon", n])


@pytest.fixture
def state(tmp_path):
    """A hand-made pass: only polyp's probabilities vary; every label's threshold is 0.5."""
    data = tmp_path / "set"
    _write_set(data)
    n = len(FRAMES)
    probs = np.zeros((n, len(LABELS)), np.float32)
    probs[:, POLYP] = PROBS
    truth = np.zeros((n, len(LABELS)), bool)
    truth[:, POLYP] = TRUTH
    truth[:-1, LABELS.index("colon")] = True
    probs[:, LABELS.index("colon")] = 0.8
    known = np.array([True] * (n - 1) + [False])
    mp = ModelPass("k", LABELS, np.full(len(LABELS), 0.5, np.float32), np.array(["7"] * n), np.array(FRAMES),
                   probs, known, truth, {"7": []})
    folder = tmp_path / "session"
    folder.mkdir()
    return view.ErrorsState(mp, str(data), "hand-made", folder, mp.thresholds.copy())


def _row(state, label="polyp"):
    return next(r for r in view.table_rows(view.per_label(state)) if r[0] == label)


def test_counts_follow_the_thresholds_over_the_frames_with_truth(state):
    # p >= 0.5 says yes on frames 0, 20, 40 (60 has no truth): TP 1 (0), FP 2 (20, 40), FN 2 (10, 30)
    # AP: ranked 0.9 T, 0.7 F, 0.6 F, 0.4 T, 0.3 T -> (1 + 2/4 + 3/5) / 3 = 0.70
    assert _row(state) == ["polyp", 0.5, 3, 1, 2, 2, "0.33", "0.33", "0.33", "0.70"]
    thresholds = [0.5] * len(LABELS)
    thresholds[POLYP] = 0.65  # frame 40 (0.6) is no longer said
    view.set_thresholds(state, thresholds)
    assert _row(state)[1:6] == [0.65, 3, 1, 1, 2]
    thresholds[POLYP] = 0.35  # frame 10 (0.4) now is
    view.set_thresholds(state, thresholds)
    assert _row(state)[1:9] == [0.35, 3, 2, 2, 1, "0.50", "0.67", "0.57"]
    assert _row(state, "colon")[2:6] == [6, 6, 0, 0]
    assert _row(state, "ulcer")[2:] == [0, 0, 0, 0, "—", "—", "—", "—"]  # nothing to divide by: no number
    line = view.summary(state, view.per_label(state))
    assert "6 frames with truth in 1 video (1 without truth, left out)" in line
    assert "1 threshold moved from the checkpoint's" in line and "TP 8, FP 2, FN 1" in line


def test_frames_that_do_not_look_like_capsule_frames_are_named_in_the_summary_and_errors_json(state):
    from diffclip.error_analysis.document import flagged_frames

    assert view.ood_summary(state.mp) == "" and flagged_frames(state.mp) == {"frames": 0, "flagged": []}
    state.mp.flagged = np.array([False, True, False, False, False, False, True])
    assert flagged_frames(state.mp) == {"frames": 2, "flagged": [{"video_id": "7", "frame": 10},
                                                                 {"video_id": "7", "frame": 60}]}
    assert view.summary(state, view.per_label(state)).startswith(
        '<div class="dc-warning dc-ood" role="alert"><b>2 of 7 frames do not look like capsule endoscopy frames.</b> '
        "The scores of those frames, and the mistakes among them, describe pictures the model was not trained on: "
        "video/frame 7/10, 7/60.</div>\n\n**hand-made**")


def test_the_research_panel_lists_label_issues_and_weak_slices(state):
    """Issue 30: confident learning on the hand-made pass. polyp, frames 0-50 (60 has no truth): given
    1 1 0 1 0 0 at p .9 .4 .7 .3 .6 .1; t1 = (.9 + .4 + .3) / 3 = .533, t0 = (.3 + .4 + .9) / 3 = .533.
    Frame 20 (given 0, p .7 >= t1) and 30 (given 1, 1 - .3 >= t0) score .7; frames 10 and 40 score .6."""
    from demo.tabs.errors import errors_research

    picture, caption, issues, slices, frames = errors_research.research_views(state)
    assert picture.ndim == 3 and picture.dtype == np.uint8
    assert [(r[1], r[2], r[3], r[5]) for r in issues] == [(20, "polyp", "no", 0.7), (30, "polyp", "yes", 0.7),
                                                           (10, "polyp", "yes", 0.6), (40, "polyp", "no", 0.6)]
    assert "Likely label errors: 4" in caption and "equal-width bins" in caption
    # one video of six frames with truth: its cohort is the whole set, so no slice is worse than its label
    assert slices == [] and frames == []  # no predictor given: no pictures
    assert errors_research.research_views(None) == (None, "", [], [], [])
    # a row picked: that frame is selected as a likely label error and takes a "mislabel" tag
    errors_research.select_issue(state, 1)
    assert view.selected_line(state).startswith("**Selected:** likely label error of **polyp** (given) · video 7 · "
                                                "frame 30 · p=0.30")
    tagged = view.add_tag(state, "mislabel")
    assert (tagged["frame"], tagged["label"], tagged["kind"], tagged["cause"]) == (30, "polyp", "fn", "mislabel")
    with pytest.raises(ValueError, match="no longer listed"):
        errors_research.select_issue(state, 4)


def test_a_gallery_without_mistakes_says_so(state):
    view.set_thresholds(state, [0.0] * len(LABELS))  # every frame said: no false negative anywhere
    view.show_label(state, "polyp")
    assert state.shown["fn"] == []
    assert view.gallery_titles(state)[1] == "False negatives of polyp (least confident first) · none at this threshold"


def test_bad_thresholds_are_refused(state):
    with pytest.raises(ValueError, match="16 thresholds given for 17 labels"):
        view.set_thresholds(state, [0.5] * 16)
    with pytest.raises(ValueError, match=r"numbers in \[0, 1\]"):
        view.set_thresholds(state, [0.5] * 16 + [1.5])
    with pytest.raises(ValueError, match="unknown label 'tumour'"):
        view.counts_at(state, "tumour", 0.5)


def test_counts_at_a_threshold_leave_the_session_as_it_was(state):
    out = view.counts_at(state, "polyp", 0.0)
    assert (out["tp"], out["fp"], out["fn"], out["tn"]) == (3, 3, 0, 0)
    assert float(state.thresholds[POLYP]) == 0.5


def test_galleries_show_the_most_confident_fp_and_the_least_confident_fn(state):
    found = view.per_label(state)
    assert view.default_label(found) == "polyp"  # the only label with mistakes
    view.show_label(state, "polyp")
    assert state.shown == {"fp": [2, 4], "fn": [3, 1]}  # p 0.7 before 0.6; p 0.3 before 0.4
    crop = Preprocess().crop  # a stand-in predictor: only its crops are drawn
    fp, fn = view.galleries(state, SimpleNamespace(crops=lambda images: torch.stack([crop(i) for i in images])))
    assert [c for _, c in fp] == ["video 7 · frame 20 · p=0.70", "video 7 · frame 40 · p=0.60"]
    assert [c for _, c in fn] == ["video 7 · frame 30 · p=0.30", "video 7 · frame 10 · p=0.40"]
    assert view.gallery_titles(state) == ("False positives of polyp (most confident first) · 2 of 2 shown",
                                          "False negatives of polyp (least confident first) · 2 of 2 shown")
    pictures = {c: np.asarray(Image.open(p)) for p, c in fp + fn}
    assert all(Path(p).parent == state.folder / "thumbs" for p, _ in fp + fn)
    for c, picture in pictures.items():
        assert picture.shape == (224, 224, 3)  # the model's crop of a 256 x 256 frame
        green = np.all(picture == GREEN, axis=-1).sum()
        assert (green > 100) == ("frame 20" in c), c  # the outline only where the set has a mask


def test_thumbnails_show_the_attention_the_pass_read_when_asked(state):
    """Issue 30, point 6: gallery thumbnails can show the map, from the pass (no model run)."""
    view.show_label(state, "polyp")
    crop = Preprocess().crop
    stand_in = SimpleNamespace(crops=lambda images: torch.stack([crop(i) for i in images]),
                               model=SimpleNamespace(attention_semantics=SimpleNamespace(signed=True)))
    plain, _ = view.galleries(state, stand_in)
    state.mp.maps = np.zeros((len(FRAMES), 14, 14), np.float16)
    state.mp.maps[:, :, :7] = 1.0  # the left half positive: red there (RdBu), white on the right
    state.thumb_maps = True
    mapped, _ = view.galleries(state, stand_in)
    assert [Path(p).name for p, _ in mapped] == [Path(p).name.replace(".png", "_map.png") for p, _ in plain]
    picture = np.asarray(Image.open(mapped[1][0])).astype(int)  # frame 40: no mask, no outline
    grey = np.asarray(Image.open(plain[1][0])).astype(int)
    left, right = picture[100:120, 20:40].mean((0, 1)), picture[100:120, 180:200].mean((0, 1))
    # grey 90 halfway to RdBu_r's deep red (103, 0, 31) on the left: (96, 45, 60); to its white (247) on the right
    assert left[0] > left[2] + 25 and abs(right[0] - right[2]) < 10 and (right > grey[100:120, 180:200].mean()).all()


def test_selection_and_the_frames_view_truth(state):
    view.show_label(state, "polyp")
    assert view.select(state, "fp", 0)["frame"] == 20
    assert "false positive of **polyp** · video 7 · frame 20 · p=0.70" in view.selected_line(state)
    assert "true labels: colon" in view.selected_line(state)
    image, name, truth = view.open_frame(state, 224)
    assert Path(image).name == "frame_000020.PNG" and name == "video 7 frame 20"
    assert truth.labels == frozenset({"colon"})
    assert truth.mask.shape == (224, 224) and 0 < truth.mask.mean() < 0.2
    with pytest.raises(ValueError, match="no longer shown"):
        view.select(state, "fn", 5)
    thresholds = [0.5] * len(LABELS)
    thresholds[POLYP] = 0.75  # frame 20 (0.7) is no longer a false positive: its selection goes
    view.set_thresholds(state, thresholds)
    view.show_label(state, "polyp")
    assert state.selected is None and "No mistake selected" in view.selected_line(state)


def test_tags_round_trip_through_the_csv(state, tmp_path):
    view.show_label(state, "polyp")
    view.select(state, "fn", 1)  # frame 10, p 0.4
    view.add_tag(state, "mislabel", "  the polyp is\nbehind a fold ")
    view.select(state, "fp", 0)
    view.add_tag(state, "artefact")
    view.add_tag(state, "ambiguous", "second look")  # the same mistake again: replaces the first tag
    path = tmp_path / "tags.csv"
    path.write_text(tags_csv(state.tags.values()))
    back = sorted(read_tags(path), key=lambda t: t["frame"])
    assert back == [
        {"video_id": "7", "frame": 10, "label": "polyp", "kind": "fn", "probability": 0.4, "cause": "mislabel",
         "note": "the polyp is behind a fold"},
        {"video_id": "7", "frame": 20, "label": "polyp", "kind": "fp", "probability": 0.7, "cause": "ambiguous",
         "note": "second look"}]
    assert [r[:6] for r in view.tag_rows(state)] == [["7", 10, "polyp", "fn", 0.4, "mislabel"],
                                                     ["7", 20, "polyp", "fp", 0.7, "ambiguous"]]


@pytest.mark.parametrize("mistake, message", [
    (None, "select a mistake first"),
    ({"video_id": "7", "frame": 999, "label": "polyp", "kind": "fp"}, "frame 999 of video '7' is not in this"),
    ({"video_id": "8", "frame": 20, "label": "polyp", "kind": "fp"}, "video '8' is not in this"),
    ({"video_id": "7", "frame": 0, "label": "polyp", "kind": "fp"}, "frame 0 of video 7 is not a false positive"),
    ({"video_id": "7", "frame": 20, "label": "polyp", "kind": "fn"}, "is not a false negative of polyp"),
    ({"video_id": "7", "frame": 60, "label": "polyp", "kind": "fp"}, "not a false positive"),  # truth unknown
    ({"video_id": "7", "frame": 20, "label": "tumour", "kind": "fp"}, "unknown label 'tumour'"),
    ({"video_id": "7", "frame": 20, "label": "polyp", "kind": "tp"}, "kind must be one of fp, fn"),
])
def test_a_tag_on_no_mistake_is_refused(state, mistake, message):
    with pytest.raises(ValueError, match=message):
        view.add_tag(state, "artefact", "", mistake)
    assert state.tags == {}


def test_a_tag_with_a_cause_off_the_list_is_refused(state):
    m = {"video_id": "7", "frame": 20, "label": "polyp", "kind": "fp"}
    with pytest.raises(ValueError, match="cause must be one of artefact, mislabel"):
        view.add_tag(state, "bad luck", "", m)
    assert state.tags == {}


def test_the_report_zip_holds_the_sessions_thresholds_and_tags(state):
    import json

    from demo.tabs.errors.errors_export import report_zip
    from diffclip.inference import Predictor

    thresholds = [0.5] * len(LABELS)
    thresholds[POLYP] = 0.65
    view.set_thresholds(state, thresholds)
    view.add_tag(state, "artefact", "glare", {"video_id": "7", "frame": 20, "label": "polyp", "kind": "fp"})
    predictor = Predictor(ROOT / "demo" / "weights" / "diff", device="cpu", precision="fp32")
    path = report_zip(state, predictor, "diff", "hand-made set", top=1)
    assert path == state.folder / "errors-report.zip"
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        doc = json.loads(zf.read("errors.json"))
        tags = zf.read("tags.csv").decode()
        html = zf.read("report.html").decode()
    assert {"report.html", "errors.json", "tags.csv"} <= names and any(n.startswith("images/") for n in names)
    assert doc["checkpoint"] == "diff" and doc["data"] == "hand-made set" and str(state.folder) not in html
    assert doc["labels"]["polyp"]["threshold"] == pytest.approx(0.65) and doc["labels"]["polyp"]["fp"] == 1
    assert [(t["frame"], t["probability"]) for t in doc["top"]["polyp"]["fp"]] == [(20, 0.7)]  # the 1 most confident
    assert "7,20,polyp,fp,0.7,artefact,glare" in tags


def _zip(path: Path, members: dict[str, bytes], links: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


def _png() -> bytes:
    return Path(HELDOUT / "101" / "frame_000000.PNG").read_bytes()


def test_a_galar_style_zip_unpacks_to_its_root(tmp_path):
    zipped = _zip(tmp_path / "set.zip", {"myset/Labels/5.csv": b"index,frame\n", "myset/5/frame_000000.PNG": _png(),
                                         "__MACOSX/myset/._5": b"resource fork"})
    root = extract_set(zipped, tmp_path / "out")
    assert root == tmp_path / "out" / "myset"
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == \
        ["5/frame_000000.PNG", "Labels/5.csv"]
    assert not (tmp_path / "out" / "__MACOSX").exists()


@pytest.mark.parametrize("members, links, limits, message", [
    ({"../x.png": b"x", "5/frame_000000.PNG": b"x"}, (), {}, "'x.png' has '..' in its path, so it would be written "
                                                             "outside"),
    ({"/abs/frame_000000.PNG": b"x"}, (), {}, "'frame_000000.PNG' has an absolute path"),
    ({"C:/frame_000000.PNG": b"x"}, (), {}, "'frame_000000.PNG' has an absolute path"),
    ({"5\\..\\..\\frame_000000.PNG": b"x"}, (), {}, "has '..' in its path"),
    ({"5/frame_000000.PNG": b"x"}, ("5/frame_000001.PNG",), {}, "is a symbolic link"),
    ({f"5/frame_{i:06d}.PNG": b"x" for i in range(5)}, (), {"max_members": 3}, "holds 5 files; at most 3"),
    ({f"5/frame_{i:06d}.PNG": b"x" for i in range(5)}, (), {"max_frames": 4}, "holds 5 frames; at most 4"),
    ({"5/frame_000000.PNG": b"x" * 3_000_000}, (), {"max_bytes": 2_000_000}, "unpacks to 3 MB; at most 2 MB"),
    ({"Labels/5.csv": b"index,frame\n"}, (), {}, "holds no frame_XXXXXX.PNG files"),
    ({"5/frame_000000.PNG": b"x"}, (), {}, "has no Labels/ folder"),
])
def test_unsafe_or_oversized_zips_are_refused(tmp_path, members, links, limits, message):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ValueError, match=message) as err:
        extract_set(_zip(tmp_path / "up.zip", members, links), out, **limits)
    assert str(tmp_path) not in str(err.value)  # the upload's name, not where the server keeps it
    assert not (tmp_path / "x.png").exists() and not Path("/abs").exists()
    if "Labels" not in message:  # refused before anything is written
        assert not any(out.iterdir())


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    fake = tmp_path / "frames.zip"
    fake.write_bytes(_png())
    with pytest.raises(ValueError, match="frames.zip is not a zip file"):
        extract_set(fake, tmp_path / "out")


def test_the_bundled_held_out_set_is_two_labelled_videos():
    csvs = sorted(p.name for p in (HELDOUT / "Labels").iterdir())
    assert csvs == ["101.csv", "102.csv"]
    assert len(list((HELDOUT / "101").glob("frame_??????.PNG"))) == 100
    assert (HELDOUT / "101" / "frame_000000_mask.png").is_file()


# --- the running app -------------------------------------------------------------------------------------------


def _support(label: str) -> int:
    """Frames of the bundled set with ``label``, read from its CSVs (not through the code under test)."""
    total = 0
    for path in (HELDOUT / "Labels").glob("*.csv"):
        with open(path, newline="") as fh:
            total += sum(float(row[label]) >= 0.5 for row in csv.DictReader(fh))
    return total


def test_the_app_analyses_the_bundled_set_once_and_moves_counts_with_a_threshold(app_url):
    from gradio_client import Client

    from demo.tabs.errors import BUNDLED

    client = Client(app_url, verbose=False, download_files=False)
    table, summary, label, *_ = client.predict(BUNDLED, None, api_name="/errors_analyse")
    rows = {r[0]: r for r in table["data"]}
    assert list(rows) == list(LABELS)
    polyp = _support("polyp")
    assert rows["polyp"][2] == polyp == 15 and "200 frames with truth in 2 videos" in summary
    assert label in LABELS
    low = client.predict("polyp", 0.0, api_name="/errors_counts")
    assert (low["tp"], low["fp"], low["fn"]) == (polyp, 200 - polyp, 0)  # everything said: every negative is a FP
    at = client.predict("polyp", rows["polyp"][1], api_name="/errors_counts")
    assert [at["tp"], at["fp"], at["fn"]] == rows["polyp"][3:6]  # the table's row, at the checkpoint's threshold
    high = client.predict("polyp", 0.999, api_name="/errors_counts")
    assert high["tp"] + high["fn"] == polyp and high["fp"] < at["fp"] < low["fp"]
    other = Client(app_url, verbose=False, download_files=False)  # another session: the pass is reused
    began = time.monotonic()
    again, summary2, *_ = other.predict(BUNDLED, None, api_name="/errors_analyse")
    assert "model pass reused from this server's cache" in summary2
    assert time.monotonic() - began < 20 and again["data"] == table["data"]
    with pytest.raises(Exception, match="analyse a set first"):
        Client(app_url, verbose=False).predict("polyp", 0.5, api_name="/errors_counts")


def test_the_app_analyses_an_uploaded_zip_and_refuses_an_unsafe_one(app_url, tmp_path):
    from gradio_client import Client, handle_file

    from demo.tabs.errors import UPLOAD

    frames = [f"frame_{n:06d}.PNG" for n in range(20)]
    members = {f"myset/101/{f}": (HELDOUT / "101" / f).read_bytes() for f in frames}
    members["myset/Labels/101.csv"] = (HELDOUT / "Labels" / "101.csv").read_bytes()  # rows beyond 19: no frame
    from matplotlib import cbook  # frame 5 is a portrait photo: the banner names it (issue 29, point 4)

    photo = io.BytesIO()
    Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).save(photo, format="PNG")
    members["myset/101/frame_000005.PNG"] = photo.getvalue()
    with open(HELDOUT / "Labels" / "101.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if int(r["frame"]) < 20]
    client = Client(app_url, verbose=False, download_files=False)
    table, summary, *_ = client.predict(UPLOAD, handle_file(str(_zip(tmp_path / "mine.zip", members))),
                                        api_name="/errors_analyse")
    assert "**mine.zip** · 20 frames with truth in 1 video" in summary
    banner = summary.split("\n\n")[0]
    assert banner.startswith('<div class="dc-warning dc-ood" role="alert"><b>') and "101/5" in banner
    support = {r[0]: r[2] for r in table["data"]}
    assert support == {lab: sum(float(r[lab]) >= 0.5 for r in rows) for lab in LABELS}
    bad = _zip(tmp_path / "bad.zip", {"../evil/frame_000000.PNG": b"x"})
    with pytest.raises(Exception, match="bad.zip: the member 'frame_000000.PNG' has '..' in its path, so it would"):
        client.predict(UPLOAD, handle_file(str(bad)), api_name="/errors_analyse")
    with pytest.raises(Exception, match="upload a zip of a Galar-style set first"):
        client.predict(UPLOAD, None, api_name="/errors_analyse")
    kept = client.predict("polyp", 0.0, api_name="/errors_counts")  # a failed request leaves the last analysis
    assert kept["support"] == support["polyp"] and kept["tp"] + kept["fp"] == 20


def test_the_feature_map_picks_the_point_under_a_click_and_lists_similar_frames(state):
    """Issue 30, points 3 and 4: the map's points are found where they were drawn; a click picks the nearest
    (within 14 px) and selects it for the shown label with its outcome; similar frames come by cosine."""
    from demo.tabs.errors import errors_map

    assert errors_map.build_map(state) is None  # this pass kept no features
    rng = np.random.default_rng(0)
    state.mp.features = rng.normal(size=(7, 8)).astype(np.float16)
    state.label = "polyp"
    fmap = errors_map.build_map(state)
    assert fmap.rows.tolist() == [0, 1, 2, 3, 4, 5]  # the frames with known truth
    rgb = errors_map.picture(state, fmap, "outcome")
    assert rgb.ndim == 3 and fmap.pixels.shape == (6, 2)
    x, y = fmap.pixels[2]
    # the drawn point is where the pixel says: a saturated (not white, not grey) colour at its centre
    assert rgb[int(round(y)), int(round(x))].std() > 20
    assert errors_map.pick(fmap, x + 3, y - 3) == 2 and errors_map.pick(fmap, -100, -100) is None
    # frame 20: polyp not given, p .7 >= .5: a false positive
    assert errors_map.select_row(state, 2)["kind"] == "fp" and errors_map.select_row(state, 0)["kind"] == "tp"
    names, _ = errors_map.categories(state, fmap, "outcome")
    assert names == ["TP", "FN", "FP", "FN", "FP", "TN"]  # PROBS .9 .4 .7 .3 .6 .1 against TRUTH 1 1 0 1 0 0
    assert errors_map.categories(state, fmap, "section")[0] == ["colon"] * 6
    near = errors_map.similar_rows(state, 0, k=3)
    unit = state.mp.features.astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    expected = np.argsort(-(unit @ unit[0]))[1:4]
    assert [r for r, _ in near] == expected.tolist()
    assert errors_map.describe(state, 2).startswith("video 7 · frame 20 · truth: colon · model: colon, polyp")
