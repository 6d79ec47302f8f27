"""The multi-seed noise study on micro models (64 px, 2 blocks): every seed and variant trained once, measured
on held-out frames with distractors and look-alikes, each run's figures stored and reused, summarised with
t-intervals, paired differences for every pair and a power analysis, each variant's median seed bundled; and
the attention-noise benchmark that reads it."""

import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from diffclip.attention_noise import normalised_entropy
from training.noise_measure import summarise_frames
from training.noise_stats import interval, median_seeds, power, seeds_needed, summarise
from training.noise_study import main

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
synth_lookalikes: 0.2
epochs: 1
batch_size: 16
lr: 0.002
text_weight: 0
ema_warmup: true
save_every_steps: 0
amp: fp32
"""
VARIANTS = ["vanilla", "diff", "diff_v2"]


def test_interval_is_students_t_by_hand():
    # mean 2, sd 1, n 3: t(0.975, 2) = 4.3027 (tables), half-width 4.3027 / sqrt(3) = 2.4842
    lo, hi = interval([1.0, 2.0, 3.0])
    assert lo == pytest.approx(2 - 2.4842, abs=1e-4) and hi == pytest.approx(2 + 2.4842, abs=1e-4)
    assert interval([0.5]) == [0.5, 0.5]


def test_seeds_needed_by_hand():
    # sd 0.059 (the first study's paired distractor mass): n = 8 gives t(0.975, 7) = 2.3646 (tables),
    # 2.3646 * 0.059 / sqrt(8) = 0.0493 <= 0.05; n = 7 gives 2.4469 * 0.059 / sqrt(7) = 0.0546 > 0.05
    assert seeds_needed(0.059) == 8
    # sd 0.1: n = 18: 2.1098 * 0.1 / sqrt(18) = 0.0497; n = 17: 2.1199 * 0.1 / sqrt(17) = 0.0514
    assert seeds_needed(0.1) == 18
    assert seeds_needed(0.0) == 2 and seeds_needed(10.0, most=50) == 50


def test_median_seeds_are_each_variants_typical_run_not_its_best():
    runs = {"vanilla": [{"seed": 0, "distractor_mass": 0.5}, {"seed": 1, "distractor_mass": 0.2},
                        {"seed": 2, "distractor_mass": 0.3}],
            "diff": [{"seed": 0, "distractor_mass": 0.1}, {"seed": 1, "distractor_mass": 0.9},
                     {"seed": 2, "distractor_mass": 0.4}, {"seed": 3, "distractor_mass": 0.2}]}
    # vanilla 0.2 (1), 0.3 (2), 0.5 (0): seed 2; diff 0.1, 0.2, 0.4, 0.9: the lower median 0.2 (seed 3)
    assert median_seeds(runs) == {"vanilla": 2, "diff": 3}


def test_summarise_pairs_every_two_variants_and_powers_them_by_hand():
    def run(seed, drawn, rim, lesion):
        return {"seed": seed, "distractor_mass": drawn + rim, "drawn_distractor_mass": drawn, "rim_mass": rim,
                "lesion_mass": lesion, "label_probability": 0.5, "val_map": 0.6}

    seeds = {"vanilla": [run(0, 0.1, 0.2, 0.1), run(1, 0.1, 0.2, 0.2), run(2, 0.1, 0.2, 0.3)],
             "diff": [run(0, 0.2, 0.1, 0.1), run(1, 0.1, 0.1, 0.2), run(2, 0.0, 0.1, 0.3)],
             "diff_v2": [run(0, 0.1, 0.3, 0.1), run(1, 0.1, 0.3, 0.2)]}
    s = summarise(seeds)
    assert set(s) == {"vanilla", "diff", "diff_v2", "diff_minus_vanilla", "diff_v2_minus_vanilla",
                      "diff_v2_minus_diff"}
    assert s["diff_minus_vanilla"]["drawn_distractor_mass"]["per_seed"] == pytest.approx([0.1, 0.0, -0.1])
    assert s["diff_minus_vanilla"]["rim_mass"]["per_seed"] == pytest.approx([-0.1, -0.1, -0.1])
    assert s["diff_v2_minus_diff"]["seeds"] == [0, 1]  # the seeds both have
    assert s["diff_v2_minus_diff"]["rim_mass"]["per_seed"] == pytest.approx([0.2, 0.2])
    assert s["diff"]["drawn_distractor_mass"]["mean"] == pytest.approx(0.1)
    assert "entropy" not in s["diff"]  # a figure no run has is left out, not invented
    p = power(s, "by hand")
    # the paired drawn-distractor gaps 0.1, 0, -0.1 have sd 0.1: 18 seeds (test_seeds_needed_by_hand)
    drawn = p["pairs"]["diff_minus_vanilla"]["drawn_distractor_mass"]
    assert drawn["sd"] == pytest.approx(0.1) and drawn["seeds_needed"] == 18 and drawn["seeds_run"] == 3
    assert drawn["half_width"] == pytest.approx(4.3027 * 0.1 / math.sqrt(3), abs=1e-4)
    assert p["pairs"]["diff_minus_vanilla"]["rim_mass"]["seeds_needed"] == 2  # no spread at all
    assert p["seeds_needed"] == 18 and p["seeds_planned"] == 18
    assert power({}, "none")["seeds_planned"] == 8  # at least 8 seeds per variant


def test_normalised_entropy_by_hand():
    assert normalised_entropy(np.array([[1.0, 1.0], [0.0, 0.0]])) == pytest.approx(0.5)  # ln 2 / ln 4
    assert normalised_entropy(np.ones((3, 3))) == pytest.approx(1.0)
    assert normalised_entropy(np.array([[0.0, 5.0], [-1.0, 0.0]])) == 0.0  # the positive part only
    assert math.isnan(normalised_entropy(-np.ones((2, 2))))


def test_summarise_frames_by_hand():
    shown = {"bubble": 0.1, "specular highlight": 0.2, "debris": 0.0, "outside the field of view": 0.3,
             "lesion": 0.25, "elsewhere": 0.15}
    other = dict(shown, bubble=0.3, lesion=0.05)
    sinks = {"top_token": 0.2, "rim": 0.3, "high_norm": 0.0}
    rows = [{"shown": shown, "probability": 0.9, "entropy": 0.9, "sinks": sinks},
            {"shown": other, "probability": 0.5, "entropy": 0.7, "sinks": dict(sinks, top_token=0.4)},
            {"shown": other, "probability": 0.4, "entropy": 0.2, "sinks": dict(sinks, top_token=0.6)}]
    row = summarise_frames(rows[:2], "vanilla")
    assert row["distractor_mass"] == pytest.approx((0.6 + 0.8) / 2)  # the rim counts: diffclip.attention_noise
    assert row["drawn_distractor_mass"] == pytest.approx((0.3 + 0.5) / 2)
    assert row["lesion_mass"] == pytest.approx(0.15) and row["rim_mass"] == pytest.approx(0.3)
    assert row["label_probability"] == pytest.approx(0.7) and row["per_type"]["bubble"] == pytest.approx(0.2)
    assert row["sink_mass"] == pytest.approx(0.3) and row["sinks"]["rim"] == pytest.approx(0.3)
    assert summarise_frames(rows, "vanilla")["entropy"] == pytest.approx(0.7)  # the median, not the mean


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    base = tmp_path_factory.mktemp("study")
    config = base / "micro.yaml"
    config.write_text(MICRO.format(data=base / "data"))
    out, doc, weights = base / "runs", base / "study.json", base / "weights"
    args = ["--seeds", "0", "1", "2", "--config", str(config), "--out", str(out), "--results", str(base / "results"),
            "--frames", "6", "--json", str(doc), "--bundle", str(weights)]
    assert main(args) == 0
    return base, args, json.loads(doc.read_text())


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_study_trains_every_seed_and_variant_and_bundles_each_median_seed(study):
    base, args, doc = study
    for variant in VARIANTS:
        assert [r["seed"] for r in doc["seeds"][variant]] == [0, 1, 2]
        for r in doc["seeds"][variant]:
            assert r["variant"] == variant and r["frames"] == 6
            shares = [r["lesion_mass"], r["distractor_mass"], r["elsewhere_mass"]]
            assert all(0 <= s <= 1 for s in shares) and sum(shares) == pytest.approx(1, abs=1e-6)
            assert r["distractor_mass"] == pytest.approx(r["drawn_distractor_mass"] + r["rim_mass"])
            assert 0 < r["entropy"] <= 1 and 0 < r["sink_mass"] <= 1
            assert (base / "results" / f"{variant}-seed{r['seed']}.json").is_file()
        values = [r["distractor_mass"] for r in doc["seeds"][variant]]
        assert doc["summary"][variant]["mean"] == pytest.approx(np.mean(values))
        lo, hi = doc["summary"][variant]["ci"]
        assert lo <= np.mean(values) <= hi
        seed = doc["median_seeds"][variant]
        assert sorted(values)[1] == values[seed]  # seeds 0, 1, 2 in order: the median value's seed
        bundled = base / "weights" / variant
        assert _sha(bundled / "model.safetensors") == _sha(base / "runs" / f"{variant}-seed{seed}" / "best" /
                                                          "model.safetensors")
        assert (bundled / "ood.safetensors").is_file()
    assert doc["bundled"] == doc["median_seeds"]  # the Noise lab's sentence says which runs are bundled
    assert "removed" in doc["seeds"]["diff_v2"][0] and "removed" not in doc["seeds"]["vanilla"][0]
    assert {"diff_minus_vanilla", "diff_v2_minus_vanilla", "diff_v2_minus_diff"} <= set(doc["summary"])
    assert doc["power"]["pilot"]["seeds_planned"] >= 8 and doc["power"]["reached"]["pilot"] == "all seeds run"
    assert doc["heldout"]["size"] == 64 and doc["heldout"]["frames"] == 6 and doc["heldout"]["lookalikes"] == 0.2
    assert doc["config"] == "micro.yaml"  # no machine path in the committed JSON


def test_study_rerun_trains_nothing_and_reuses_stored_results(study):
    base, args, doc = study
    marker = base / "runs" / "diff-seed1" / "metrics.csv"
    before = marker.stat().st_mtime_ns
    again = base / "again.json"
    assert main([*args[:-4], "--json", str(again)]) == 0
    assert marker.stat().st_mtime_ns == before
    assert json.loads(again.read_text())["seeds"] == doc["seeds"]
    # a new machine: no checkpoints, only the committed results; nothing is trained
    moved = base / "elsewhere"
    assert main([*args[:-4], "--out", str(moved), "--no-train", "--json", str(again)]) == 0
    assert not moved.exists() and json.loads(again.read_text())["seeds"] == doc["seeds"]
    # a result measured with other settings is not reused
    stored = base / "results" / "vanilla-seed2.json"
    kept = stored.read_text()
    stored.write_text(kept.replace('"epochs": 1', '"epochs": 2'))
    try:
        assert main([*args[:-4], "--no-train", "--json", str(again)]) == 0
        assert [r["seed"] for r in json.loads(again.read_text())["seeds"]["vanilla"]] == [0, 1]
        # nor overwritten by a study that would train: another study's figures are never lost
        with pytest.raises(ValueError, match="vanilla-seed2.json holds a run measured with other settings"):
            main([*args[:-4], "--json", str(again)])
        assert stored.read_text() == kept.replace('"epochs": 1', '"epochs": 2')
    finally:
        stored.write_text(kept)
    # a study with other settings in the same run folder neither measures nor resumes the earlier runs
    other = base / "other.yaml"
    other.write_text((base / "micro.yaml").read_text().replace("epochs: 1", "epochs: 2"))
    with pytest.raises(ValueError, match="vanilla-seed0 holds a run with other settings"):
        main(["--seeds", "0", "--config", str(other), "--out", str(base / "runs"), "--results", str(base / "fresh"),
              "--frames", "6"])


def test_benchmark_reports_seeds_summary_and_the_bundled_models(study, tmp_path):
    sys.path.insert(0, str(REPO))
    from benchmarks.attention_noise import main as bench

    base, _, doc = study
    out = tmp_path / "noise.json"
    assert bench(["--frames", "4", "--study", str(base / "study.json"), "--models", str(base / "weights" / "vanilla"),
                  str(base / "weights" / "diff"), str(base / "weights" / "diff_v2"), "--methods", "rollout",
                  "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {v: len(r) for v, r in result["seeds"].items()} == dict.fromkeys(VARIANTS, 3)
    assert all("distractor_mass" in r for runs in result["seeds"].values() for r in runs)
    for variant in VARIANTS:
        assert set(result["summary"][variant]) >= {"mean", "ci"}
        b = result["bundled"][variant]
        assert b["frames"] == 4 and set(b["methods"]) == {"rollout"}
        assert not math.isnan(b["distractor_mass"]) and 0 < b["entropy"] <= 1
    assert result["bundled"]["study_seeds"] == doc["median_seeds"]
    assert {"diff_minus_vanilla", "diff_v2_minus_vanilla", "diff_v2_minus_diff"} <= set(result["summary"])


@pytest.mark.parametrize("variant", ["vanilla", "diff", "diff_v2"])
def test_bundled_checkpoint_names_its_demo_config_even_when_it_predates_a_setting(tmp_path, variant):
    """A run trained before a setting existed ran with its default: its reproduce command is still the demo
    config holding its settings; a run of another seed keeps its own command."""
    from dataclasses import asdict

    from diffclip.atomic import write_json
    from training.config import load_config
    from training.noise_study import REPO, name_the_config

    config = asdict(load_config(REPO / "training" / "configs" / f"demo-{variant}.yaml"))
    config.pop("epoch_plots")  # added after the study's first runs, default False
    for name, seed, expected in (("same", config["seed"], f"diffclip train --config training/configs/demo-{variant}.yaml"),
                                 ("other", config["seed"] + 1, "diffclip train --config run.yaml")):
        ckpt = tmp_path / name
        ckpt.mkdir()
        write_json(ckpt / "config.json", {"training": {"command": "diffclip train --config run.yaml",
                                                       "config": {**config, "seed": seed}}})
        name_the_config(ckpt, variant)
        assert json.loads((ckpt / "config.json").read_text())["training"]["command"] == expected
