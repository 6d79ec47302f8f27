import json
import subprocess
import sys

import pytest

from diffclip.cli import main


def test_info_prints_checkpoint_config(tiny_checkpoint, capsys):
    assert main(["info", str(tiny_checkpoint)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["attention"] == "diff" and len(out["labels"]) == 17 and out["parameters"] > 1_000_000
    assert out["inference"]["precision"] in ("fp32", "bf16", "fp16") and out["inference"]["requested"] == "auto"


def test_info_and_predict_say_which_precision_runs(tiny_checkpoint, capsys, monkeypatch, tmp_path):
    from PIL import Image

    from diffclip import device as device_mod

    monkeypatch.delenv(device_mod.AUTO_PRECISION_ENV, raising=False)  # the CPU decides "auto"
    monkeypatch.setattr(device_mod, "cpu_has_fast_bf16", lambda: True)
    assert main(["info", str(tiny_checkpoint), "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["inference"] == {"device": "cpu", "precision": "bf16", "requested": "auto"}
    assert main(["info", str(tiny_checkpoint), "--device", "cpu", "--precision", "fp32"]) == 0
    assert json.loads(capsys.readouterr().out)["inference"]["precision"] == "fp32"
    Image.new("RGB", (64, 64), (120, 40, 30)).save(tmp_path / "f.png")
    args = ["predict", str(tmp_path / "f.png"), "--checkpoint", str(tiny_checkpoint), "--device", "cpu",
            "--out", str(tmp_path / "e.json")]
    assert main(args) == 0
    assert "on cpu in bf16" in capsys.readouterr().out
    assert main([*args, "--precision", "fp32"]) == 0
    assert "on cpu in fp32" in capsys.readouterr().out


def test_errors_are_one_plain_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("diffclip info: error: checkpoint") and "missing does not exist" in err
    assert "Traceback" not in err


def test_console_script_help():
    out = subprocess.run(
        [sys.executable, "-m", "diffclip.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "info" in out and "usage: diffclip" in out


def test_predict_checks_its_outputs_before_any_work_and_keeps_old_files(tiny_checkpoint, tmp_path, capsys):
    import os

    from PIL import Image

    folder = tmp_path / "7"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (64, 64), (40 * i, 60, 90)).save(folder / f"frame_{i:06d}.png")
    base = ["predict", str(folder), "--checkpoint", str(tiny_checkpoint), "--device", "cpu"]
    # a directory as --out: refused at once, in one line, before the checkpoint is even loaded
    assert main([*base[:3], str(tmp_path / "no-such-checkpoint"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and f"--out {tmp_path} is a directory" in err
    # outputs never follow links (issue 27, item 9): a link to a file, a dangling one, a linked report folder
    target = tmp_path / "real.json"
    target.write_text("old")
    (tmp_path / "link.json").symlink_to(target)
    (tmp_path / "dangling.json").symlink_to(tmp_path / "nowhere" / "made.json")
    (tmp_path / "report-link").symlink_to(folder)
    for option, link in (("--out", "link.json"), ("--probs", "link.json"), ("--out", "dangling.json")):
        assert main([*base, "--out", str(tmp_path / "e.json"), option, str(tmp_path / link)]) == 2
        assert f"{option} {tmp_path / link} is a symbolic link; outputs never follow links" in capsys.readouterr().err
    assert main(["errors", str(folder), "--checkpoint", str(tiny_checkpoint), "--out", str(tmp_path / "report-link")]) == 2
    assert "report-link is a symbolic link; outputs never follow links" in capsys.readouterr().err
    assert target.read_text() == "old" and not (tmp_path / "nowhere").exists()
    # the library's atomic writes replace a link itself, never its target
    from diffclip.atomic import write_json

    write_json(tmp_path / "link.json", {"a": 1})
    assert not (tmp_path / "link.json").is_symlink() and target.read_text() == "old"
    # a run that fails half-way leaves the previous --probs file as it was, and no temporary file
    probs = tmp_path / "probs.csv"
    probs.write_text("previous run\n")
    (folder / "frame_000003.png").write_bytes(b"not a png")
    assert main([*base, "--out", str(tmp_path / "e.json"), "--probs", str(probs)]) == 2
    assert probs.read_text() == "previous run\n" and not list(tmp_path.glob(".probs.csv.*"))
    # a FIFO named like a frame is refused, not read forever
    (folder / "frame_000003.png").unlink()
    os.mkfifo(folder / "frame_000004.png")
    assert main([*base, "--out", str(tmp_path / "e.json")]) == 2
    assert "frame_000004.png is not a regular file" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------
# Bad inputs to `diffclip evaluate` and `diffclip train`: one plain line, exit status 2, no traceback

TRUTH = {"videos": [{"video_id": "v", "events": [{"start": 0, "end": 9, "label": ["colon"]}]}]}


def _one_line_error(argv, capsys, command="evaluate"):
    """Run the CLI on argv, check that it fails with a single error line, and return that line."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith(f"diffclip {command}: error: ")
    return err


def _files(tmp_path, **docs):
    """Write each document (bytes as they are, others as JSON) and return the paths by name."""
    paths = {}
    for name, doc in docs.items():
        paths[name] = tmp_path / f"{name}.json"
        data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        paths[name].write_bytes(data)
    return {k: str(v) for k, v in paths.items()}


@pytest.mark.parametrize("label", [[["colon"]], [3]])
def test_evaluate_rejects_nested_or_non_string_labels_naming_the_file(tmp_path, capsys, label):
    bad = {"videos": [{"video_id": "v", "events": [{"start": 0, "end": 9, "label": label}]}]}
    f = _files(tmp_path, gt=TRUTH, bad=bad)
    err = _one_line_error(["evaluate", "--gt", f["gt"], "--pred", f["bad"]], capsys)
    assert f"prediction {f['bad']}: video 'v' event 0: \"label\" must be a list of label names (strings)" in err
    err = _one_line_error(["evaluate", "--gt", f["bad"], "--pred", f["gt"]], capsys)
    assert f"ground truth {f['bad']}: video 'v' event 0: \"label\" must be a list" in err


def test_evaluate_rejects_too_deep_json_naming_the_file(tmp_path, capsys):
    f = _files(tmp_path, gt=TRUTH, deep=b"[" * 100_000 + b"]" * 100_000)
    err = _one_line_error(["evaluate", "--gt", f["gt"], "--pred", f["deep"]], capsys)
    assert f"prediction file {f['deep']}: JSON nested too deeply to read" in err


def test_evaluate_rejects_truth_without_labelled_events(tmp_path, capsys):
    # "label": [] events are no segments either: the challenge's mean over videos would be over nothing
    empty = {"videos": [{"video_id": "v", "events": [{"start": 0, "end": 3, "label": []}]}]}
    f = _files(tmp_path, gt=empty, pred=empty)
    err = _one_line_error(["evaluate", "--gt", f["gt"], "--pred", f["pred"]], capsys)
    assert f"ground truth {f['gt']} has no labelled events" in err and "undefined" in err


@pytest.mark.parametrize("data", [b'\xff\xfe{\x00}\x00', '{"videos": [{"video_id": "caf\xe9"}]}'.encode("latin-1")])
def test_evaluate_rejects_non_utf8_json_naming_the_file(tmp_path, capsys, data):
    f = _files(tmp_path, gt=TRUTH, pred=data)
    err = _one_line_error(["evaluate", "--gt", f["gt"], "--pred", f["pred"]], capsys)
    assert f"prediction file {f['pred']}: not UTF-8 JSON" in err


@pytest.mark.parametrize(
    ("scored", "message"),
    [
        ({"video": []}, 'expected an object with a "videos" list'),
        ({"videos": [{"events": []}]}, "videos[0] has no 'video_id' key"),
        ({"videos": [{"video_id": "v"}]}, "videos[0] has no 'events' key"),
        ({"videos": [{"video_id": "v", "events": [{"label": "colon", "start": 0, "end": 9}]}]},
         "video 'v' event 0 has no 'score' key"),
        ({"videos": [{"video_id": "v", "events": [{"start": 0, "end": 9, "score": 0.5}]}]},
         "video 'v' event 0 has no 'label' key"),
        ({"videos": [{"video_id": "v", "events": [{"label": "colon", "start": 0, "end": 9, "score": "high"}]}]},
         "video 'v' event 0: 'score' must be a number, got 'high'"),
    ],
)
def test_evaluate_ranked_names_the_file_and_the_missing_key(tmp_path, capsys, scored, message):
    f = _files(tmp_path, gt=TRUTH, scored=scored)
    err = _one_line_error(["evaluate", "--gt", f["gt"], "--pred", f["gt"], "--ranked", f["scored"]], capsys)
    assert f"scored events {f['scored']}: {message}" in err


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", "inf", "half"])
def test_evaluate_thresholds_outside_unit_interval_are_argparse_errors(tmp_path, capsys, value):
    f = _files(tmp_path, gt=TRUTH)
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--gt", f["gt"], "--pred", f["gt"], "--thresholds", "0.5", value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (f"diffclip evaluate: error: argument --thresholds: tIoU threshold must be a number in [0, 1], "
            f"got '{value}'") in err
    # the ends of the interval are thresholds like any other
    assert main(["evaluate", "--gt", f["gt"], "--pred", f["gt"], "--thresholds", "0", "1", "--json"]) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epochs: !!python/object/apply:os.system ['touch {marker}']\n",
         "c.yaml:1: YAML tag not allowed (could not determine a constructor for the tag "
         "'tag:yaml.org,2002:python/object/apply:os.system')"),
        ("lr: 0.1\nname: !foo bar\n", "c.yaml:2: YAML tag not allowed (could not determine a constructor for the tag '!foo')"),
        ("epochs: [1\n", "c.yaml:2: invalid YAML: expected ',' or ']'"),
        ("name: caf\xe9\n", "c.yaml: not UTF-8 YAML"),
    ],
)
def test_train_config_with_unsafe_tags_or_bad_yaml_is_one_line(tmp_path, capsys, text, message):
    marker = tmp_path / "executed"
    config = tmp_path / "c.yaml"
    config.write_bytes(text.format(marker=marker).encode("latin-1"))
    err = _one_line_error(["train", "--config", str(config)], capsys, command="train")
    assert f"{tmp_path}/{message}" in err
    assert not marker.exists()  # nothing was constructed, let alone run


#: The header of the paper's results/test_ukdd_navi_00051_frames.csv, copied from that file by hand.
PAPER_FRAMES_HEADER = ("index,mouth,esophagus,stomach,small intestine,colon,z-line,pylorus,ileocecal valve,"
                       "active bleeding,angiectasia,blood,erosion,erythema,hematin,lymphangioectasis,polyp,ulcer")


def test_binary_csv_has_the_papers_format_and_says_what_the_events_say(tiny_checkpoint, tmp_path, capsys):
    """`diffclip predict --binary-csv DIR`: one CSV per video with the paper's header, integer frame numbers and
    0/1 cells, whose label set per frame is the events JSON's (issue 32, point 3)."""
    import csv

    from training.synthetic import generate

    data = generate(tmp_path / "synth", videos=2, frames=20, seed=5, size=64, progress=False)
    out = tmp_path / "bin"
    assert main(["predict", str(data.root / "1"), str(data.root / "2"), "--checkpoint", str(tiny_checkpoint),
                 "--precision", "fp32", "--min-length", "1", "--median-window", "1", "--out", str(tmp_path / "e.json"),
                 "--binary-csv", str(out)]) == 0
    events = {v["video_id"]: v["events"] for v in json.loads((tmp_path / "e.json").read_text())["videos"]}
    for video in ("1", "2"):
        text = (out / f"{video}_frames.csv").read_text()
        assert text.splitlines()[0] == PAPER_FRAMES_HEADER
        rows = list(csv.reader(text.splitlines()[1:]))
        assert [int(r[0]) for r in rows] == list(range(20))  # every frame, numbered as on disk
        assert all(cell in ("0", "1") for r in rows for cell in r[1:])
        labels = PAPER_FRAMES_HEADER.split(",")[1:]
        for e in events[video]:
            for r in rows[e["start"] : e["end"] + 1]:
                assert sorted(lab for lab, v in zip(labels, r[1:], strict=True) if v == "1") == sorted(e["label"])
    (tmp_path / "afile").write_text("x")
    assert main(["predict", str(data.root / "1"), "--checkpoint", str(tiny_checkpoint), "--out",
                 str(tmp_path / "e2.json"), "--binary-csv", str(tmp_path / "afile")]) == 2
    assert "--binary-csv" in capsys.readouterr().err and not (tmp_path / "e2.json").exists()
