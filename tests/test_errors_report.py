"""`diffclip errors`: the report folder (errors.json, overlays, an offline report.html, tags), its cache,
and its messages on bad input. The model is the bundled tiny diff checkpoint on a small synthetic set."""

from __future__ import annotations

import json
import shutil
from collections import OrderedDict
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diffclip.cli import main
from diffclip.error_analysis import model_pass
from diffclip.error_analysis.document import errors_document
from diffclip.error_analysis.model_pass import ModelPass
from diffclip.error_analysis.tags import read_tags, tags_csv
from diffclip.labels import LABELS
from explain.error_analysis.overlays import crop_mask, image_name
from explain.error_analysis.report_page import write_report
from training.synthetic import generate

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = str(REPO / "demo" / "weights" / "diff")
GREEN = (0, 255, 0)


class Page(HTMLParser):
    """The parts of report.html the tests read: every src attribute, and the rows of each table by id."""

    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "src" in a:
            self.srcs.append(a["src"])
        if tag == "table":
            self._table = a.get("id", "")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def labelled_set(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("errors-set") / "set"
    # 96 px frames: the model's crop resizes them, and their masks with them
    generate(root, videos=1, frames=20, seed=11, size=96, rare_share=0.05, progress=False, workers=1)
    return root


@pytest.fixture(scope="module")
def first_run(labelled_set, tmp_path_factory):
    out = tmp_path_factory.mktemp("errors-report") / "report"
    code = main(["errors", str(labelled_set), "--checkpoint", CHECKPOINT, "--out", str(out), "--top", "2",
                 "--precision", "fp32"])
    assert code == 0
    return out, json.loads((out / "errors.json").read_text())


def top_items(doc: dict):
    for label, kinds in doc["top"].items():
        for kind in ("fp", "fn"):
            for rank, item in enumerate(kinds[kind], start=1):
                yield label, kind, rank, item


def test_cli_writes_the_report_folder_with_an_image_per_top_mistake(first_run, labelled_set):
    out, doc = first_run
    assert (out / "report.html").is_file()
    assert doc["frames"] == 20 and doc["frames_without_truth"] == 0 and doc["pass"]["cached"] is False
    from demo.frames_view import attribution_choices
    from explain.methods import EXPLAINERS

    # the app's default attribution, first in its menu
    assert EXPLAINERS[doc["overlays"]["method"]].title == attribution_choices()[0] == "Saliency"
    items = list(top_items(doc))
    assert items, "the bundled model makes some mistakes on this set"
    assert all(len(k["fp"]) <= 2 and len(k["fn"]) <= 2 for k in doc["top"].values())
    outlined = set()
    for label, kind, rank, item in items:
        assert item["image"] == image_name(label, kind, rank, item["video_id"], item["frame"])
        picture = np.asarray(Image.open(out / item["image"]).convert("RGB"))
        # crop 224 + margins, then two 224 px maps each with its 110 px colour bar
        assert picture.shape == (232, 232 + 2 * 334, 3)
        # the lesion outline is drawn on the crop exactly when the frame's mask holds a lesion
        lesion = np.asarray(Image.open(labelled_set / item["video_id"] / f"frame_{item['frame']:06d}_mask.png")).any()
        crop = picture[:, :232]
        assert bool(np.all(crop == GREEN, axis=-1).any()) == bool(lesion), item
        outlined.add(bool(lesion))
    assert outlined == {True, False}  # this set's mistakes include frames with and without lesions
    drawn = {p.relative_to(out).as_posix() for p in (out / "images").rglob("*.png")}
    assert drawn == {item["image"] for *_, item in items}


def test_report_is_offline_and_its_table_matches_errors_json(first_run):
    out, doc = first_run
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    assert "The frames are synthetic (made by training.synthetic, seed 11)" in unescape(text)
    page = parse(out / "report.html")
    images = {item["image"] for *_, item in top_items(doc)}
    assert images <= set(page.srcs)  # every overlay is shown
    for src in page.srcs:
        if src.startswith("data:"):
            assert src.startswith("data:image/png;base64,")
            continue
        assert not Path(src).is_absolute() and ".." not in Path(src).parts
        assert (out / src).is_file(), src
    # the precision-recall, reliability and feature-map figures
    assert sum(s.startswith("data:") for s in page.srcs) == 3
    # issue 30: calibration, likely label errors and weak slices, in errors.json and on the page
    assert set(doc["calibration"]) == {*LABELS, "macro", "binning"} and "equal-width" in doc["calibration"]["binning"]
    if doc["label_issues"]:
        listed = page.tables["label-issues-table"][1:]
        assert [(r[0], int(r[1]), r[2]) for r in listed] == \
            [(d["video_id"], d["frame"], d["label"]) for d in doc["label_issues"][:50]]
    assert len(doc["embedding"]["points"]) == doc["frames"] and doc["embedding"]["method"].startswith("t-SNE")
    for label, kinds in doc["mistakes"].items():  # every mistake listed; top holds the first --top of them
        counts = doc["labels"][label]
        assert len(kinds["fp"]) == counts["fp"] and len(kinds["fn"]) == counts["fn"]
        for kind in ("fp", "fn"):
            assert [(m["video_id"], m["frame"]) for m in kinds[kind][:2]] == \
                [(m["video_id"], m["frame"]) for m in doc["top"][label][kind]]
    worse = [d for d in doc["slices"] if d["excess"] > 0]
    if worse:
        assert len(page.tables["slices-table"]) - 1 == min(30, len(worse))
    header, *rows = page.tables["labels"]
    assert header[:7] == ["label", "threshold", "support", "TP", "FP", "FN", "TN"]
    assert [r[0] for r in rows] == list(LABELS)
    for r in rows:
        c = doc["labels"][r[0]]
        assert [int(v) for v in r[2:7]] == [c["support"], c["tp"], c["fp"], c["fn"], c["tn"]]
        assert r[10] == ("—" if c["ap"] is None else f"{c['ap']:.3f}")
    matrix = page.tables["sections-matrix"]
    assert [row[0] for row in matrix[1:]] == ["mouth", "esophagus", "stomach", "small intestine", "colon"]
    assert [[int(v) for v in row[1:]] for row in matrix[1:]] == doc["sections"]["matrix"]


def test_rerun_reads_the_cache_and_includes_tags(first_run, tmp_path, monkeypatch, capsys):
    out, doc = first_run
    again = tmp_path / "report"
    shutil.copytree(out, again)
    # a fresh process: nothing in memory, and the model must not run (its pass is in again/cache)
    monkeypatch.setattr(model_pass, "_MEMORY", OrderedDict())

    def no_model(*args, **kwargs):
        raise AssertionError("the model pass ran although it was cached")

    monkeypatch.setattr(model_pass, "predict_sources", no_model)
    label, kind, _, item = next(top_items(doc))
    tags = tmp_path / "tags.csv"
    tags.write_text(tags_csv([{"video_id": item["video_id"], "frame": item["frame"], "label": label, "kind": kind,
                               "probability": item["probability"], "cause": "mislabel",
                               "note": "<b>edge</b> & blur"}]), encoding="utf-8")
    assert main(["errors", doc["data"], "--checkpoint", CHECKPOINT, "--out", str(again), "--top", "1",
                 "--method", "rollout", "--tags", str(tags), "--precision", "fp32"]) == 0
    printed = capsys.readouterr().out
    assert "model pass read from the cache" in printed and f"report -> {again / 'report.html'}" in printed
    redo = json.loads((again / "errors.json").read_text())
    assert redo["pass"] == {"key": doc["pass"]["key"], "cached": True}
    assert redo["labels"] == doc["labels"]
    assert redo["overlays"]["method"] == "rollout"
    assert all(len(k["fp"]) <= 1 and len(k["fn"]) <= 1 for k in redo["top"].values())
    # the second-ranked overlays of the first run are gone: the folder shows one analysis
    assert not list((again / "images").rglob("f?-02-*.png"))
    assert read_tags(again / "tags.csv") == read_tags(tags)
    html = (again / "report.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;edge&lt;/b&gt; &amp; blur" in html and "<b>edge</b>" not in html
    assert parse(again / "report.html").tables["tags-table"][1][5] == "mislabel"


def test_bad_tags_fail_before_the_model_with_the_line(labelled_set, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(model_pass, "run_pass", lambda *a, **k: pytest.fail("the model pass started"))
    tags = tmp_path / "tags.csv"
    tags.write_text("video_id,frame,label,kind,probability,cause,note\n1,3,blood,fp,0.9,artefact,\n"
                    "1,4,blood,fn,0.1,bad luck,hm\n", encoding="utf-8")
    code = main(["errors", str(labelled_set), "--checkpoint", CHECKPOINT, "--out", str(tmp_path / "r"),
                 "--tags", str(tags)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.splitlines() == [err]
    assert "tags.csv:3:" in err and "'bad luck'" in err and "artefact" in err


def test_bad_inputs_give_one_clear_line(labelled_set, tmp_path, capsys):
    frames_only = tmp_path / "frames"
    shutil.copytree(labelled_set / "1", frames_only / "1")
    cases = [
        (["errors", str(frames_only), "--checkpoint", CHECKPOINT, "--out", str(tmp_path / "a")],
         ["has no Labels/ folder", "--truth"]),
        (["errors", str(labelled_set), "--checkpoint", str(tmp_path / "nowhere"), "--out", str(tmp_path / "b")],
         ["checkpoint", "nowhere", "does not exist"]),
        (["errors", str(labelled_set), "--checkpoint", CHECKPOINT, "--out", str(tmp_path / "b"), "--method", "magic"],
         ["unknown explanation method 'magic'", "gradattn"]),
    ]
    (tmp_path / "file").write_text("x")
    cases.append((["errors", str(labelled_set), "--checkpoint", CHECKPOINT, "--out", str(tmp_path / "file")],
                  ["is a file", "folder"]))
    for argv, expected in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("diffclip errors: error:") and len(err.splitlines()) == 1, err
        for part in expected:
            assert part in err, (part, err)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_mask_is_cropped_like_the_model_input(tmp_path):
    # 112 x 224 (H x W) mask, lesion code 11 in rows 20..39, columns 100..119; to 56 px: halved (nearest
    # takes source pixel 2i + 1), then the centre 56 of 112 columns (from column 28)
    codes = np.zeros((112, 224), np.uint8)
    codes[20:40, 100:120] = 11
    Image.fromarray(codes).save(tmp_path / "m.png")
    expected = np.zeros((56, 56), bool)
    expected[10:20, 22:32] = True
    assert np.array_equal(crop_mask(tmp_path / "m.png", 56), expected)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="bad.png: the mask is not a readable image"):
        crop_mask(tmp_path / "bad.png", 56)


def test_image_names_are_safe():
    assert image_name("small intestine", "fn", 3, "ukdd_navi_00051", 49) == \
        "images/small-intestine/fn-03-ukdd_navi_00051-000049.png"
    assert image_name("z-line", "fp", 12, "../x y", 7) == "images/z-line/fp-12-x-y-000007.png"


def hand_pass(labels=LABELS) -> ModelPass:
    """Four frames of one video: colon on frames 0-1 (rated 0.9, 0.2), small intestine on 2-3; nothing
    else true; every other label rated 0.1 except blood, rated 0.8 on frame 3."""
    n, L = 4, len(labels)
    truth = np.zeros((n, L), bool)
    probs = np.full((n, L), 0.1, np.float32)
    colon, si, blood = labels.index("colon"), labels.index("small intestine"), labels.index("blood")
    truth[:2, colon] = truth[2:, si] = True
    probs[:, colon] = [0.9, 0.2, 0.1, 0.1]
    probs[:, si] = [0.1, 0.6, 0.7, 0.7]
    probs[3, blood] = 0.8
    return ModelPass("k" * 32, tuple(labels), np.full(L, 0.5, np.float32), np.array(["v1"] * n), np.arange(n),
                     probs, np.ones(n, bool), truth, {"v1": []})


def test_report_from_a_hand_made_pass(tmp_path):
    mp = hand_pass()
    thresholds = np.full(len(LABELS), 0.5)
    thresholds[LABELS.index("blood")] = 0.85
    doc = errors_document(mp, {"v1": []}, "<script>alert(1)</script>", str(tmp_path), thresholds=thresholds, k=2)
    path = write_report(tmp_path, doc, mp)
    text = path.read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "differ from the checkpoint's for blood 0.85 (checkpoint 0.50)" in unescape(text)
    assert "synthetic" not in text  # no synth.json beside this data
    rows = {r[0]: r for r in parse(path).tables["labels"][1:]}
    # colon: frame 0 found (TP), frame 1 missed (FN); the frames without colon rated 0.1 (TN)
    assert rows["colon"][2:11] == ["2", "1", "0", "1", "2", "1.000", "0.500", "0.667", "1.000"]
    # small intestine: frame 1 is a false positive at 0.6
    assert rows["small intestine"][2:7] == ["2", "2", "1", "0", "1"]
    # blood at 0.85: nothing predicted, no positives: precision, recall, F1 and AP are blank
    assert rows["blood"][1:] == ["0.85", "0", "0", "0", "0", "4", "—", "—", "—", "—"]
    matrix = parse(path).tables["sections-matrix"]
    assert [int(v) for v in matrix[4][1:]] == [0, 0, 0, 2, 0]  # small intestine frames, rated highest there
    assert [int(v) for v in matrix[5][1:]] == [0, 0, 0, 1, 1]  # colon frame 1 rated higher on small intestine
    assert "2 false negatives" not in text and "1 false negative" in text and "1 false positive" in text
    assert "frame 1 · p = 0.200 (t = 0.50)" in text  # the colon miss, without an image (no overlays drawn)
    # confident learning finds nothing here: colon's frame 1 (given, p 0.2) has 1 - p = 0.8 under t0 = 0.9
    assert doc["label_issues"] == [] and "None: the model contradicts no given label" in text
    # slices: four frames are fewer than a cohort needs (5): none listed, and the page says so
    assert doc["slices"] == [] and "No cohort is worse than its label's overall rate" in unescape(text)


def test_export_report_reports_progress_and_leaves_the_document(first_run, labelled_set, tmp_path):
    from diffclip.error_analysis.labelled_set import load_labelled
    from diffclip.error_analysis.model_pass import run_pass
    from diffclip.inference import Predictor
    from explain.error_analysis.report_page import export_report

    out, first = first_run
    frames_only = tmp_path / "frames"
    shutil.copytree(labelled_set / "1", frames_only / "1")
    # the same frames with the events JSON as truth: the same pass, read from the first run's cache
    data = load_labelled(frames_only, truth=labelled_set / "ground_truth.json")
    predictor = Predictor(CHECKPOINT, device="cpu", precision="fp32")
    mp = run_pass(predictor, data, cache_dir=out / "cache", progress=False)
    assert mp.cached and mp.key == first["pass"]["key"]
    doc = errors_document(mp, data.truth_events, CHECKPOINT, str(frames_only), k=1)
    before = json.dumps(doc, sort_keys=True)
    seen: list[tuple[float, str]] = []
    path = export_report(tmp_path / "export", doc, mp, data, predictor, "rollout",
                         tags=[], progress=lambda f, d: seen.append((f, d)))
    assert json.dumps(doc, sort_keys=True) == before  # the caller's document is not changed
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and 0 < fractions[0] < 1
    written = json.loads((tmp_path / "export" / "errors.json").read_text())
    n = sum(len(k["fp"]) + len(k["fn"]) for k in written["top"].values())
    assert written["overlays"]["images"] == n and len(seen) == n + 2
    assert path == tmp_path / "export" / "report.html" and path.is_file()
    assert (tmp_path / "export" / "tags.csv").read_text().startswith("video_id,frame,label,kind")
    # the copied frames are not beside the generator's synth.json: the report does not call them synthetic
    assert "The frames are synthetic" not in path.read_text(encoding="utf-8")
