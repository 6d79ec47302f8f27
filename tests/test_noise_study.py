"""The multi-seed noise study on micro models (64 px, 2 blocks): every seed and variant trained once, measured
on held-out frames with distractors, summarised with t-intervals, the median seed's pair bundled; and the
attention-noise benchmark that reads it."""

import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from training.noise_study import interval, main, median_seed, summarise, summarise_frames

REPO = Path(__file__).resolve().parents[1]
MICRO = """
name: micro
backbone: micro
attention: diff
data_root: {data}
synth_videos: 3
synth_frames: 40
synth_size: 64
synth_rare_share: 0.05
epochs: 1
batch_size: 16
lr: 0.002
text_weight: 0
ema_warmup: true
save_every_steps: 0
amp: fp32
"""


def test_interval_is_students_t_by_hand():
    # mean 2, sd 1, n 3: t(0.975, 2) = 4.3027 (tables), half-width 4.3027 / sqrt(3) = 2.4842
    lo, hi = interval([1.0, 2.0, 3.0])
    assert lo == pytest.approx(2 - 2.4842, abs=1e-4) and hi == pytest.approx(2 + 2.4842, abs=1e-4)
    assert interval([0.5]) == [0.5, 0.5]


def test_median_seed_is_the_typical_gap_not_the_best():
    runs = {"vanilla": [{"seed": s, "distractor_mass": 0.5} for s in (0, 1, 2)],
            "diff": [{"seed": 0, "distractor_mass": 0.1}, {"seed": 1, "distractor_mass": 0.9},
                     {"seed": 2, "distractor_mass": 0.4}]}
    assert median_seed(runs) == 2  # gaps -0.4, +0.4, -0.1: the middle one
    keys = {"lesion_mass": 0.2, "rim_mass": 0.1, "drawn_distractor_mass": 0.1, "label_probability": 0.5,
            "val_map": 0.6}
    for v in runs.values():
        for r in v:
            r.update(keys)
    s = summarise(runs)
    assert s["diff"]["mean"] == pytest.approx(0.4667, abs=1e-4)
    assert s["diff_minus_vanilla"]["distractor_mass"]["per_seed"] == pytest.approx([-0.4, 0.4, -0.1])


def test_summarise_frames_by_hand():
    shown = {"bubble": 0.1, "specular highlight": 0.2, "debris": 0.0, "outside the field of view": 0.3,
             "lesion": 0.25, "elsewhere": 0.15}
    other = dict(shown, bubble=0.3, lesion=0.05)
    row = summarise_frames([{"shown": shown, "probability": 0.9}, {"shown": other, "probability": 0.5}], "vanilla")
    assert row["distractor_mass"] == pytest.approx((0.6 + 0.8) / 2)  # the rim counts: diffclip.attention_noise
    assert row["drawn_distractor_mass"] == pytest.approx((0.3 + 0.5) / 2)
    assert row["lesion_mass"] == pytest.approx(0.15) and row["rim_mass"] == pytest.approx(0.3)
    assert row["label_probability"] == pytest.approx(0.7) and row["per_type"]["bubble"] == pytest.approx(0.2)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    base = tmp_path_factory.mktemp("study")
    config = base / "micro.yaml"
    config.write_text(MICRO.format(data=base / "data"))
    out, doc, weights = base / "runs", base / "study.json", base / "weights"
    args = ["--seeds", "0", "1", "2", "--config", str(config), "--out", str(out), "--frames", "6",
            "--json", str(doc), "--bundle", str(weights)]
    assert main(args) == 0
    return base, args, json.loads(doc.read_text())


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_study_trains_every_seed_and_bundles_the_median_pair(study):
    base, args, doc = study
    assert [r["seed"] for r in doc["seeds"]["vanilla"]] == [0, 1, 2] == [r["seed"] for r in doc["seeds"]["diff"]]
    for variant in ("vanilla", "diff"):
        for r in doc["seeds"][variant]:
            assert r["variant"] == variant and r["frames"] == 6
            shares = [r["lesion_mass"], r["distractor_mass"], r["elsewhere_mass"]]
            assert all(0 <= s <= 1 for s in shares) and sum(shares) == pytest.approx(1, abs=1e-6)
            assert r["distractor_mass"] == pytest.approx(r["drawn_distractor_mass"] + r["rim_mass"])
        values = [r["distractor_mass"] for r in doc["seeds"][variant]]
        assert doc["summary"][variant]["mean"] == pytest.approx(np.mean(values))
        lo, hi = doc["summary"][variant]["ci"]
        assert lo <= np.mean(values) <= hi
    assert "removed" in doc["seeds"]["diff"][0] and "removed" not in doc["seeds"]["vanilla"][0]
    seed = doc["median_seed"]
    gaps = {d["seed"]: d["distractor_mass"] - v["distractor_mass"]
            for v, d in zip(doc["seeds"]["vanilla"], doc["seeds"]["diff"], strict=True)}
    assert sorted(gaps.values())[1] == gaps[seed]
    for variant in ("vanilla", "diff"):
        bundled = base / "weights" / variant
        assert _sha(bundled / "model.safetensors") == _sha(base / "runs" / f"{variant}-seed{seed}" / "best" /
                                                          "model.safetensors")
        assert (bundled / "ood.safetensors").is_file()
    assert doc["heldout"]["size"] == 64 and doc["heldout"]["frames"] == 6


def test_study_rerun_trains_nothing_and_gives_the_same_json(study):
    base, args, doc = study
    marker = base / "runs" / "diff-seed1" / "metrics.csv"
    before = marker.stat().st_mtime_ns
    again = base / "again.json"
    assert main([*args[:-4], "--json", str(again)]) == 0
    assert marker.stat().st_mtime_ns == before
    assert json.loads(again.read_text())["seeds"] == doc["seeds"]


def test_benchmark_reports_seeds_summary_and_the_bundled_pair(study, tmp_path):
    sys.path.insert(0, str(REPO))
    from benchmarks.attention_noise import main as bench

    base, _, doc = study
    out = tmp_path / "noise.json"
    assert bench(["--frames", "4", "--study", str(base / "study.json"), "--models", str(base / "weights" / "vanilla"),
                  str(base / "weights" / "diff"), "--methods", "rollout", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {v: len(r) for v, r in result["seeds"].items()} == {"vanilla": 3, "diff": 3}
    assert all("distractor_mass" in r for runs in result["seeds"].values() for r in runs)
    for variant in ("vanilla", "diff"):
        assert set(result["summary"][variant]) >= {"mean", "ci"}
        b = result["bundled"][variant]
        assert b["frames"] == 4 and set(b["methods"]) == {"rollout"}
        assert not math.isnan(b["distractor_mass"])
    assert result["bundled"]["study_seed"] == doc["median_seed"]
