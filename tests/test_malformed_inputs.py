"""Malformed files give one line that names the file, never a library's exception (issue 27, item 6): a CSV
frame of 1e400 or 400 digits, a field over csv's 131,072-character limit, JSON nested 100,000 deep, and an
out-of-memory error, whose own message is empty."""

from __future__ import annotations

import json
import logging

import gradio as gr
import pytest

from demo.callbacks import OUT_OF_MEMORY, plain_errors
from demo.tabs.clip.clip_truth import read_truth
from demo.truth import read_truth_csv
from diffclip.cli import main
from diffclip.csv_input import MAX_FRAME, frame_number, probability
from diffclip.error_analysis.tags import COLUMNS, read_tags
from diffclip.json_input import read_json

HEADER = "frame,blood,polyp\n"


@pytest.mark.parametrize(("text", "expected"), [("12", 12), ("12.0", 12), (" 7 ", 7), ("0", 0)])
def test_frame_numbers_that_are_numbers(text, expected):
    assert frame_number(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("1e400", "a frame number must be a whole number, got '1e400'"),
    ("9" * 400, f"a frame number must be below {MAX_FRAME:,}, got one of 400 digits"),
    ("nan", "a frame number must be a whole number, got 'nan'"),
    ("2.5", "a frame number must be a whole number, got '2.5'"),
    ("-3", "a frame number cannot be negative, got -3"),
])
def test_frame_numbers_that_are_not(text, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        frame_number(text)


def test_probabilities_outside_zero_and_one():
    assert probability("0.25") == 0.25
    for text in ("1e400", "nan", "2", "-0.1"):
        with pytest.raises(ValueError, match=r"a probability must lie in \[0, 1\]"):
            probability(text)


def test_a_frames_tab_label_csv(tmp_path):
    cases = {
        "inf.csv": (HEADER + "1e400,1,0\n", "inf.csv:2: a frame number must be a whole number, got '1e400'"),
        "long.csv": (HEADER + "9" * 400 + ",1,0\n", "long.csv:2: a frame number must be below"),
        "field.csv": (HEADER + "1,1,0\n2," + "x" * 140_000 + ",0\n", "field.csv:3: field larger than field limit"),
        "words.csv": (HEADER + "one,1,0\n", "words.csv:2: frame and label values must be numbers"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match=f"^{message}"):
            read_truth_csv(tmp_path / name)
    (tmp_path / "ok.csv").write_text(HEADER + "3,1,0\n4.0,0,1\n")
    assert read_truth_csv(tmp_path / "ok.csv") == {3: frozenset({"blood"}), 4: frozenset({"polyp"})}


def test_a_tags_csv(tmp_path):
    head = ",".join(COLUMNS) + "\n"
    cases = {
        "frame.csv": ("1,1e400,blood,fp,0.5,mislabel,\n", "frame.csv:2: a frame number must be a whole number"),
        "prob.csv": ("1,3,blood,fp,1e400,mislabel,\n", r"prob.csv:2: a probability must lie in \[0, 1\]"),
        "field.csv": ("1,3,blood,fp,0.5,mislabel," + "y" * 140_000 + "\n", "field.csv:2: field larger than field"),
    }
    for name, (row, message) in cases.items():
        (tmp_path / name).write_text(head + row)
        with pytest.raises(ValueError, match=f"^{message}"):
            read_tags(tmp_path / name)


@pytest.fixture
def deep(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    return path


def test_deeply_nested_json_is_one_line_everywhere(deep, tmp_path, capsys):
    with pytest.raises(ValueError, match="^deep.json: JSON nested too deeply to read$"):
        read_json(deep, "deep.json")
    with pytest.raises(ValueError, match="^deep.json: JSON nested too deeply to read$"):
        read_truth(deep, "clip", 10)  # the Clip tab's truth upload
    folder = tmp_path / "frames"
    folder.mkdir()
    code = main(["errors", str(folder), "--truth", str(deep), "--checkpoint", "demo/weights/diff",
                 "--out", str(tmp_path / "report")])
    err = capsys.readouterr().err
    assert code == 2 and "truth file deep.json: JSON nested too deeply to read" in err and "Traceback" not in err
    (tmp_path / "ok.json").write_text(json.dumps({"videos": []}))
    assert read_json(tmp_path / "ok.json") == {"videos": []}


def test_out_of_memory_is_a_sentence_not_an_empty_message(caplog):
    @plain_errors
    def greedy():
        raise MemoryError()

    with caplog.at_level(logging.WARNING), pytest.raises(gr.Error) as err:
        greedy()
    assert err.value.message == OUT_OF_MEMORY and "out of memory in greedy" in caplog.text
