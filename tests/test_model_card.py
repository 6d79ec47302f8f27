"""The model card: held-out test mAP beside the validation one, each said what it is; the paper's link; no
machine paths; no colours of its own (issue 15, item 9)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import gradio as gr
import pytest

from demo.model_card import PAPER_CODE_URL, PAPER_URL, model_card, shown_path, without_machine_paths
from demo.models import ModelBank
from demo.tabs.base import AppContext
from demo.tabs.card import TAB as CARD
from diffclip.inference import Predictor

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "demo" / "weights"
BUNDLED = ("diff", "vanilla")
MACHINE = (str(REPO), "/home", "/work", "/tmp", "/root", "/usr", "/Users")


@pytest.fixture(scope="module")
def bundled() -> dict[str, Predictor]:
    return {name: Predictor(WEIGHTS / name, device="cpu", precision="fp32") for name in BUNDLED}


def _row(card: str, start: str) -> str:
    return next(line for line in card.splitlines() if line.startswith(start))


def _no_machine_path(text: str) -> None:
    for fragment in MACHINE:
        assert fragment not in text, fragment


@pytest.mark.parametrize("name", BUNDLED)
def test_card_shows_validation_and_held_out_test_map_each_named(bundled, name):
    report = json.loads((REPO / "docs" / "demo-models.json").read_text())[name]
    config = json.loads((WEIGHTS / name / "config.json").read_text())
    card = model_card(bundled[name], WEIGHTS / name)
    assert _row(card, "| | validation | test |")
    assert _row(card, "| macro mAP") == (f"| macro mAP (labels with support) | **{config['metrics']['map_supported']:.3f}"
                                         f"** | **{report['map_supported']:.3f}** |")
    test, val = _row(card, "- **test**: "), _row(card, "- **validation**: ")
    assert "held-out synthetic test videos" in test and "never used to train or tune" in test
    assert re.search(r"seed \d+", test) and re.search(r"\d+ frames", test)
    assert "chose this checkpoint's per-label thresholds" in val
    assert f"`demo/weights/{name}`" in card
    assert PAPER_URL in card and PAPER_CODE_URL in card
    assert "trained from scratch" in card and "say nothing about BiomedCLIP-scale models" in card
    # per label: the test AP beside the validation AP (erosion, a rare label, as the case)
    ero = next(line for line in card.splitlines() if line.startswith("| erosion |"))
    assert ero.split("|")[3:5] == [f" {config['metrics']['per_label']['erosion']['ap']:.3f} ",
                                   f" {report['per_label']['erosion']['ap']:.3f} "]
    _no_machine_path(card)
    # no colours of its own: the light and dark themes colour it
    assert not re.search(r"#[0-9a-fA-F]{3,8}\b|rgb\(|color\s*:|style=", card)


def test_a_checkpoint_the_report_does_not_describe_gets_no_test_score(bundled, tmp_path):
    # a report whose thresholds are not this checkpoint's (retrained since): its numbers are another model's
    report = json.loads((REPO / "docs" / "demo-models.json").read_text())
    report["diff"]["per_label"]["ulcer"]["threshold"] += 0.01
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(report))
    card = model_card(bundled["diff"], WEIGHTS / "diff", results=stale)
    assert "- **test**" not in card and "No held-out test result" in card
    assert "- **validation**" in card
    # a checkpoint outside the repository: shown by its folder's name only, and not found in the report
    card = model_card(bundled["diff"], tmp_path / "my-run")
    assert "### Model: `my-run`" in card and "- **test**" not in card
    _no_machine_path(card)


def test_machine_paths_in_a_training_command_are_shortened(bundled, tmp_path, monkeypatch):
    command = (f"diffclip train --config {REPO}/training/configs/demo-diff.yaml --out {tmp_path}/runs/x "
               "--note https://example.org/a/b")
    assert without_machine_paths(command) == ("diffclip train --config training/configs/demo-diff.yaml --out x "
                                              "--note https://example.org/a/b")
    predictor = bundled["diff"]
    monkeypatch.setitem(predictor.config["training"], "command", command)
    card = model_card(predictor, str(WEIGHTS / "diff"))
    assert "- reproduce: `diffclip train --config training/configs/demo-diff.yaml --out x" in card
    _no_machine_path(card)
    assert shown_path("demo/weights/diff") == "demo/weights/diff" and shown_path(REPO / "app.py") == "app.py"


def test_the_card_tab_puts_both_models_side_by_side(bundled, monkeypatch):
    report = json.loads((REPO / "docs" / "demo-models.json").read_text())
    bank = ModelBank(WEIGHTS / "diff", WEIGHTS / "vanilla", device="cpu")
    monkeypatch.setattr(ModelBank, "main", bundled["diff"])
    monkeypatch.setattr(ModelBank, "compare", bundled["vanilla"])
    with gr.Blocks() as blocks:
        CARD.build(AppContext(bank, []))
    text = next(b.value for b in blocks.blocks.values() if getattr(b, "elem_id", None) == "model-card")
    side = text.split("### Model:")[0]
    for name in BUNDLED:
        row = next(line for line in side.splitlines() if f"`demo/weights/{name}`" in line)
        assert row.rstrip(" |").endswith(f"{report[name]['map_supported']:.3f}")
    assert text.count(PAPER_URL) == 2
    _no_machine_path(text)


def test_card_says_the_precision_that_runs_and_the_one_the_ood_fit_used(tiny_checkpoint):
    """`python app.py --precision fp16` reaches both predictors, and the card says fp16 runs, beside the
    out-of-distribution fit's own precision (fp32, from the checkpoint's "ood" entry)."""
    from app import parse_args

    args = parse_args(["--precision", "fp16"])
    bank = ModelBank(Path(__file__).resolve().parents[1] / "demo" / "weights" / "diff", tiny_checkpoint, "cpu",
                     args.precision)
    assert bank.main.precision == bank.compare.precision == "fp16"
    card = model_card(bank.main, "demo/weights/diff")
    assert "in **fp16**" in card and "out-of-distribution check: mahalanobis" in card and "fitted in **fp32**" in card
    assert "no out-of-distribution check" in model_card(bank.compare, "tiny")
    with pytest.raises(SystemExit):
        parse_args(["--precision", "int8"])
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        ModelBank(bank.paths["main"], None, "cpu", "half")


@pytest.mark.parametrize("variant", ["diff", "vanilla"])
def test_the_bundled_models_reproduce_command_exists_and_holds_their_settings(variant):
    """The card once said `--config training/configs/noise-study-diff-seed0.yaml`, a file the study writes under
    runs/, not one in the repository (issue 29). The command parses with `diffclip train`'s own parser, and its
    config holds every setting the bundled run used but its name and folders (the training is not run)."""
    import shlex
    from dataclasses import asdict, fields

    from diffclip.cli import build_parser
    from training.config import TrainConfig, load_config

    meta = json.loads((REPO / "demo" / "weights" / variant / "config.json").read_text())["training"]
    words = shlex.split(meta["command"])
    assert words[:2] == ["diffclip", "train"]
    args = build_parser("train", everything=False).parse_args(words[1:])
    assert (REPO / args.config).is_file(), args.config
    # a setting added after the run (synth_lookalikes) ran at its default
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    named, ran = asdict(load_config(REPO / args.config)), {**defaults, **meta["config"]}
    assert {k for k in set(named) | set(ran) if named.get(k) != ran.get(k)} <= {"name", "out_dir", "export_dir"}
