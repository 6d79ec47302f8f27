"""The app states what differential attention is designed to do beside what this project measured, never
the noise-cancellation claim as a fact about its bundled models (issue 29, point 1 in part)."""

from __future__ import annotations

import json
import re

import pytest

from demo.study_note import study_verdict
from demo.ui import intro

CLAIM = re.compile(r"cancel|less (attention )?noise|removes? (the )?noise", re.I)
# a sentence about the made-up rows of "Why subtract?" is about the mechanism, not about the bundled models
HEDGE = re.compile(r"design|meant|intend|aim|whether|Ye et al|in principle|the paper|claim|made-up", re.I)


@pytest.fixture(scope="module")
def app_strings() -> list[str]:
    """Every string of the built app a visitor reads: Markdown and HTML, labels, info lines, placeholders."""
    from demo.models import ModelBank
    from demo.resources import COMPARE_CHECKPOINT, DEFAULT_CHECKPOINT
    from demo.ui import build_demo

    demo = build_demo(ModelBank(DEFAULT_CHECKPOINT, COMPARE_CHECKPOINT, "cpu", "fp32"))
    found = []
    for component in demo.config["components"]:
        props = component.get("props", {})
        for key in ("value", "label", "info", "placeholder"):
            if isinstance(props.get(key), str):
                found.append(props[key])
    return found


def _sentences(text: str) -> list[str]:
    """Sentences of Markdown: a paragraph's lines joined (docs wrap mid-sentence), code spans left out (a field
    named `cancellation` states nothing)."""
    text = re.sub(r"`[^`]*`", "", re.sub(r"(?<!\n)\n(?!\n)", " ", text))
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


def test_no_sentence_states_noise_cancellation_as_a_fact(app_strings):
    claims = [s for text in app_strings for s in _sentences(text) if CLAIM.search(s)]
    assert claims, "the header says what differential attention is designed to do"
    assert [s for s in claims if not HEDGE.search(s)] == []


def test_the_header_quotes_the_study_as_it_is_now(tmp_path):
    from demo.resources import NOISE_STUDY

    gap = json.loads(NOISE_STUDY.read_text())["summary"]["diff_minus_vanilla"]["distractor_mass"]
    assert f"{gap['mean']:+.3f} [95% CI {gap['ci'][0]:+.3f}, {gap['ci'][1]:+.3f}]" in intro()
    # the words follow the numbers: a study whose interval excludes zero says which model has less
    study = json.loads(NOISE_STUDY.read_text())
    study["summary"]["diff_minus_vanilla"]["distractor_mass"] = {"mean": -0.1, "ci": [-0.15, -0.05]}
    (tmp_path / "study.json").write_text(json.dumps(study))
    assert study_verdict(tmp_path / "study.json").endswith(
        "-0.100 [95% CI -0.150, -0.050]: the differential model with less attention on distractors")
    assert study_verdict(tmp_path / "missing.json") == \
        "this project has not measured whether it does so on its bundled models"


def test_the_score_legend_names_no_colour_for_the_threshold_tick():
    """The tick is dark in the light theme and light in the dark one: the legend once said "black tick"."""
    import numpy as np

    from demo.scores import scores_html

    html = scores_html(np.array([0.2, 0.7]), [0.5, 0.5], ["blood", "polyp"])
    assert "tick across the bar: the label's threshold" in html
    assert not re.search(r"(black|white|dark|light) tick", html)


def test_no_time_is_promised_that_was_not_measured(app_strings):
    """The Errors tab promised "about a minute" for what took 5.6 s (issue 29)."""
    assert not [s for s in app_strings if re.search(r"about a minute|a few seconds|instantly", s)]


def test_readme_and_docs_state_noise_cancellation_only_hedged_or_beside_a_measurement():
    """Issue 29: no sentence in the README or docs presents the claim as a property of the bundled models
    unless a measurement beside it supports it (a number in the sentence), or it asks the question."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    bare = []
    for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for s in _sentences(doc.read_text(encoding="utf-8")):
            if CLAIM.search(s) and not (HEDGE.search(s) or re.search(r"\d", s) or s.rstrip().endswith("?")):
                bare.append(f"{doc.name}: {s}")
    assert bare == []
