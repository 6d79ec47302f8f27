"""`diffclip errors` against the project's other commands on a synthetic set from a new seed: its frame-level
TP/FP/FN per label equal a count made here from `diffclip predict --probs` and the truth CSVs at the
checkpoint's thresholds, and its event-level AP equals `diffclip evaluate`'s per video and label."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from diffclip.cli import main
from diffclip.labels import LABELS

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = REPO / "demo" / "weights" / "diff"


@pytest.fixture(scope="module")
def new_seed_set(tmp_path_factory):
    from training.synthetic import generate

    root = tmp_path_factory.mktemp("errors-accept") / "set"
    generate(root, videos=2, frames=45, seed=90210, rare_share=0.05, workers=1)
    return root


def _truth_rows(root: Path) -> dict[tuple[str, int], set[str]]:
    truth = {}
    for path in sorted((root / "Labels").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                truth[(path.stem, int(row["frame"]))] = {lab for lab in LABELS if row[lab] == "1"}
    return truth


def test_errors_json_counts_equal_predict_probs_and_the_truth_csvs(new_seed_set, tmp_path, capsys):
    root = new_seed_set
    assert main(["predict", str(root), "--checkpoint", str(CHECKPOINT), "--precision", "fp32",
                 "--out", str(tmp_path / "events.json"), "--probs", str(tmp_path / "probs.csv")]) == 0
    assert main(["errors", str(root), "--checkpoint", str(CHECKPOINT), "--precision", "fp32",
                 "--out", str(tmp_path / "report"), "--top", "1", "--method", "attention"]) == 0
    doc = json.loads((tmp_path / "report" / "errors.json").read_text())

    thresholds = json.loads((CHECKPOINT / "config.json").read_text())["thresholds"]  # {label: t}
    truth = _truth_rows(root)
    expected = {lab: {"tp": 0, "fp": 0, "fn": 0} for lab in LABELS}
    with open(tmp_path / "probs.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 90 == doc["frames"]
    for row in rows:
        true = truth[(row["video_id"], int(row["frame"]))]
        for lab in LABELS:
            p = float(row[lab])
            assert abs(p - thresholds[lab]) > 1e-5, "a probability on its threshold: the CSV's rounding decides"
            said = p >= thresholds[lab]
            key = "tp" if said and lab in true else "fp" if said else "fn" if lab in true else None
            if key:
                expected[lab][key] += 1
    got = {lab: {k: doc["labels"][lab][k] for k in ("tp", "fp", "fn")} for lab in LABELS}
    assert got == expected
    assert sum(e["fp"] + e["fn"] for e in expected.values()) > 0  # the set has mistakes to count
    for lab in LABELS:
        assert doc["labels"][lab]["threshold"] == pytest.approx(thresholds[lab])

    capsys.readouterr()
    assert main(["evaluate", "--gt", str(root / "ground_truth.json"), "--pred", str(tmp_path / "events.json"),
                 "--json", "--thresholds", "0.5"]) == 0
    official = json.loads(capsys.readouterr().out)["0.5"]["videos"]
    for video in official:
        mine = doc["events"]["videos"][video["video_id"]]
        for lab, ap in video["per_label"].items():
            if lab in mine:
                assert mine[lab]["ap"]["0.5"] == pytest.approx(ap, abs=1e-4), (video["video_id"], lab)
            else:  # neither truth nor prediction: the challenge's 1.0
                assert ap == 1.0
