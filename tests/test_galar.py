import logging

import numpy as np
import pytest

from diffclip.labels import LABELS
from training.galar_splits import (
    GalarFormatError,
    read_label_csv,
    read_split,
    scan_challenge_test,
    scan_galar,
    split_by_video,
)

HEADER = ["index", *LABELS, "bubbles", "section", "frame"]


def _row(index, frame, on=(), section="stomach", bubbles=0):
    values = ["1" if lab in on else "0" for lab in LABELS]
    return ",".join([str(index), *values, str(bubbles), section, str(frame)])


def _touch_png(path):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (120, 60, 40)).save(path, format="PNG")


@pytest.fixture
def galar_root(tmp_path):
    """Video 1: frame numbers 5 x index, upper-case names, one row whose frame is missing.
    Video 2: lower-case extension."""
    root = tmp_path / "galar"
    rows1 = [
        _row(0, 0, ("stomach",)),
        _row(1, 5, ("stomach", "blood")),
        _row(2, 10, ("small intestine", "blood", "angiectasia"), "small intestine"),
        _row(3, 15, ("small intestine",), "small intestine"),  # frame 15 is not on disk
        _row(4, 20, ("colon", "polyp"), "colon", bubbles=1),
    ]
    (root / "Labels").mkdir(parents=True)
    (root / "Labels" / "1.csv").write_text("\n".join([",".join(HEADER), *rows1]) + "\n")
    for frame in (0, 5, 10, 20):
        _touch_png(root / "1" / f"frame_{frame:06d}.PNG")
    rows2 = [_row(0, 0, ("mouth",), "mouth"), _row(1, 1, ("esophagus", "z-line"), "esophagus")]
    (root / "Labels" / "2.csv").write_text("\n".join([",".join(HEADER), *rows2]) + "\n")
    for frame in (0, 1):
        _touch_png(root / "2" / f"frame_{frame:06d}.png")
    return root


def _target(*on):
    return np.array([1.0 if lab in on else 0.0 for lab in LABELS], np.float32)


def test_reads_galar_fixture(galar_root, caplog):
    with caplog.at_level(logging.WARNING):
        index = scan_galar(galar_root)
    assert [(r.video_id, r.frame) for r in index.records] == [("1", 0), ("1", 5), ("1", 10), ("1", 20), ("2", 0), ("2", 1)]
    assert np.array_equal(index.records[2].target, _target("small intestine", "blood", "angiectasia"))
    assert np.array_equal(index.records[3].target, _target("colon", "polyp"))
    assert np.array_equal(index.records[5].target, _target("esophagus", "z-line"))
    assert index.records[3].section == "colon"
    assert index.records[4].path.name == "frame_000000.png"
    assert index.missing == 1 and index.missing_by_video == {"1": 1, "2": 0}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 1 labelled rows" in warnings[0].getMessage()
    targets = index.targets()
    assert targets[:, LABELS.index("blood")].sum() == 2 and targets[:, LABELS.index("ulcer")].sum() == 0


def test_lower_case_labels_dir_nested_one_level(tmp_path, galar_root):
    nested = tmp_path / "copy" / "Galar"
    nested.mkdir(parents=True)
    (galar_root / "Labels").rename(nested / "labels")
    for vid in ("1", "2"):
        (galar_root / vid).rename(nested / vid)
    index = scan_galar(tmp_path / "copy")
    assert len(index) == 6 and index.missing == 1


def test_every_kth_and_video_subset(galar_root):
    index = scan_galar(galar_root, videos=["1"], every=2)
    # rows 0, 2, 4 of video 1 -> frames 0, 10, 20
    assert [r.frame for r in index.records] == [0, 10, 20]
    with pytest.raises(FileNotFoundError, match=r"videos \['7'\]"):
        scan_galar(galar_root, videos=["7"])


def test_malformed_csv_names_file_and_line(galar_root):
    path = galar_root / "Labels" / "1.csv"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace(",1,", ",2,", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(GalarFormatError, match=r"1\.csv:4: column '.*' must be 0 or 1, got '2'"):
        read_label_csv(path)
    lines[3] = "3,1,0"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(GalarFormatError, match=r"1\.csv:4: 3 fields, header has 21"):
        scan_galar(galar_root)
    path.write_text("index,foo,frame\n0,1,0\n")
    with pytest.raises(GalarFormatError, match=r"1\.csv:1: header names none of the 17 labels"):
        read_label_csv(path)


def test_official_split_file(galar_root):
    split = galar_root / "multilabel" / "split_0" / "val.csv"
    split.parent.mkdir(parents=True)
    split.write_text("path\n001/frame_000005.PNG\n001/frame_000020.PNG\n002/frame_000001.PNG\n001/frame_000015.PNG\n")
    index = read_split(split, galar_root)
    assert [(r.video_id, r.frame) for r in index.records] == [("1", 5), ("1", 20), ("2", 1)]
    assert index.missing == 1
    bad = split.with_name("bad.csv")
    bad.write_text("path\n001/image5.jpg\n")
    with pytest.raises(GalarFormatError, match=r"bad\.csv:2: path must look like"):
        read_split(bad, galar_root)


def test_challenge_test_layout(tmp_path):
    for vid, frames in (("ukdd_navi_00051", (49, 50, 51)), ("ukdd_navi_00068", (7,))):
        for f in frames:
            _touch_png(tmp_path / vid / f"frame_{f:07d}.png")
    (tmp_path / "ukdd_navi_00051" / "notes.txt").write_text("x")
    index = scan_challenge_test(tmp_path)
    assert [(r.video_id, r.frame) for r in index.records] == [
        ("ukdd_navi_00051", 49), ("ukdd_navi_00051", 50), ("ukdd_navi_00051", 51), ("ukdd_navi_00068", 7)]
    assert index.records[0].target is None  # the challenge's test frames come without labels


def test_split_by_video_is_seeded_and_disjoint(tmp_path):
    root = tmp_path / "g"
    (root / "Labels").mkdir(parents=True)
    for vid in range(1, 11):
        (root / "Labels" / f"{vid}.csv").write_text(",".join(HEADER) + "\n" + _row(0, 0, ("colon",)) + "\n")
        _touch_png(root / str(vid) / "frame_000000.PNG")
    index = scan_galar(root)
    train, val = split_by_video(index, 0.3, seed=4)
    train2, val2 = split_by_video(index, 0.3, seed=4)
    assert len(val.video_ids) == 3 and len(train.video_ids) == 7
    assert not set(train.video_ids) & set(val.video_ids)
    assert val.video_ids == val2.video_ids
    others = {tuple(sorted(split_by_video(index, 0.3, seed=s)[1].video_ids)) for s in range(6)}
    assert len(others) > 1  # the seed matters
    with pytest.raises(ValueError, match="val_fraction"):
        split_by_video(index, 1.5)


@pytest.mark.parametrize(
    ("frames", "message"),
    [((0, 5, 10, 5), r"1\.csv:5: frame 5 is already labelled at line 3"), ((0, -5), r"1\.csv:3: negative frame number -5")],
)
def test_repeated_or_negative_frame_numbers_name_file_and_line(tmp_path, frames, message):
    path = tmp_path / "Labels" / "1.csv"
    path.parent.mkdir()
    path.write_text("\n".join([",".join(HEADER), *(_row(i, f) for i, f in enumerate(frames))]) + "\n")
    with pytest.raises(GalarFormatError, match=message):
        read_label_csv(path)
