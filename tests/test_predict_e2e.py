"""End to end on the command line: `diffclip synth` two short videos, `diffclip predict` them with the
bundled model, `diffclip evaluate` against the generated truth."""

import csv
import json
from pathlib import Path

from diffclip.cli import main
from diffclip.labels import LABELS
from diffclip.submission import validate_document

BUNDLED = Path(__file__).resolve().parents[1] / "demo" / "weights" / "diff"


def test_synth_predict_evaluate(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["synth", "--out", str(data), "--videos", "2", "--frames", "40", "--seed", "11",
                 "--rare-share", "0.05", "--mp4", "--workers", "1"]) == 0
    pred, probs, scored = tmp_path / "pred.json", tmp_path / "probs.csv", tmp_path / "scored.json"
    assert main(["predict", str(data / "1"), str(data / "videos" / "2.mp4"), "--checkpoint", str(BUNDLED),
                 "--out", str(pred), "--probs", str(probs), "--plot", str(tmp_path / "timeline.png"),
                 "--scored", str(scored)]) == 0
    out = capsys.readouterr().out
    assert "80 frames from 2 video(s)" in out and "frames/s" in out
    doc = json.loads(pred.read_text())
    validate_document(doc)
    assert [v["video_id"] for v in doc["videos"]] == ["1", "2"]
    with open(probs) as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["video_id", "frame", *LABELS] and len(rows) == 81
    assert [r[1] for r in rows[1:41]] == [str(i) for i in range(40)]
    assert (tmp_path / "timeline_1.png").stat().st_size > 20_000 and (tmp_path / "timeline_2.png").exists()

    assert main(["evaluate", "--gt", str(data / "ground_truth.json"), "--pred", str(pred), "--json",
                 "--ranked", str(scored)]) == 0
    result = json.loads(capsys.readouterr().out)
    for thr in ("0.5", "0.95"):
        assert 0.0 <= result[thr]["map"] <= 1.0
        assert len(result[thr]["videos"]) == 2 and len(result[thr]["per_label"]) == 17
    assert result["0.5"]["map"] >= result["0.95"]["map"]
    assert 0.0 <= result["ranked"]["0.5"]["map"] <= 1.0
    assert main(["evaluate", "--gt", str(data / "ground_truth.json"), "--pred", str(pred)]) == 0
    text = capsys.readouterr().out
    assert "free share" in text and "mAP@0.5" in text
