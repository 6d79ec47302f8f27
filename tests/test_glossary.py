"""The glossary (issue 29, point 3): every term the issue lists has an entry, every technical word that a
caption of the app uses is covered by an entry, the accordion is under every tab, the docs sections it
points to exist, and the colour convention is stated once (in the glossary), not in every caption."""

from __future__ import annotations

import re

import pytest

from demo import glossary
from demo.resources import COMPARE_CHECKPOINT, DEFAULT_CHECKPOINT, examples
from demo.tabs import TABS

# The words the issue found unexplained, as they appear in the captions.
ISSUE_TERMS = ("a1", "a2", "λ", "lambda", "CLS row", "head mean", "rollout", "gradient-weighted attention",
               "pointing game", "deletion AUC", "insertion AUC", "rim", "Mahalanobis", "tIoU", "RARE-VISION")
# Technical words a visitor may not know, whatever their entry is called: every one that a caption uses must
# be covered by some entry's pattern. Written independently of the glossary's own patterns.
JARGON = (r"\ba[12]\b", r"λ", r"\bCLS\b", r"head mean", r"rollout", r"gradient-weighted", r"Grad-CAM",
          r"saliency", r"Integrated Gradients", r"NoiseTunnel", r"Occlusion", r"completeness", r"entropy",
          r"pointing game", r"deletion", r"insertion", r"\brim\b", r"Mahalanobis", r"out-of-distribution",
          r"\bOOD\b", r"tIoU", r"temporal AP", r"\bmAP\b", r"RARE-VISION", r"Galar", r"threshold",
          r"\bF1\b", r"\bAP\b", r"precision", r"recall", r"false positive", r"false negative", r"\bsigned\b",
          r"magnitude", r"distractor", r"specular", r"outlier", r"colour bar", r"\bevents?\b", r"lesion mask",
          r"calibration", r"\bECE\b", r"confident learning", r"Wilson", r"t-SNE", r"cosine", r"slices",
          r"\bsinks?\b", r"high-norm")


def _covered(word: str) -> bool:
    return bool(glossary.entries_for(word))


@pytest.mark.parametrize("term", ISSUE_TERMS)
def test_every_term_the_issue_lists_has_an_entry(term):
    assert _covered(term), term


def test_entries_are_plain_and_point_to_existing_docs_sections():
    from demo.tabs.words import ROOT, cited_sections, sections

    names = [t.name for t in glossary.TERMS]
    assert len(set(names)) == len(names)
    for term in glossary.TERMS:
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", term.text) if s]
        assert 1 <= len(sentences) <= 3, term.name  # one or two plain sentences (a citation may add one)
    for key, titles in cited_sections().items():
        found = sections((ROOT / glossary.DOCS[key]).read_text(encoding="utf-8"))
        assert [t for t in titles if t not in found] == [], key


@pytest.fixture(scope="module")
def built():
    from demo.models import ModelBank
    from demo.ui import build_demo

    bank = ModelBank(DEFAULT_CHECKPOINT, COMPARE_CHECKPOINT, "cpu", "fp32")
    return bank, build_demo(bank)


def _strings(demo) -> list[str]:
    found = []
    for component in demo.config["components"]:
        props = component.get("props", {})
        if str(props.get("elem_id", "")).startswith("glossary") or "dc-glossary" in (props.get("elem_classes") or []):
            continue
        for key in ("value", "label", "info", "placeholder"):
            if isinstance(props.get(key), str):
                found.append(props[key])
    return found


def _captions(bank, folder) -> list[str]:
    """What the views write for one example: the Frames view's attention and attribution captions and scores,
    the Compare table, the Noise lab's captions and the Clip view's notes."""
    from demo import compare_view, frames_view
    from demo.resources import mask_for
    from demo.tabs.clip.clip_view import analyse_clip, notes
    from demo.tabs.noise_lab import experiment as lab
    from demo.tabs.noise_lab import views

    standard, differential = bank.pair()
    example = examples()[0]
    out = []
    state = frames_view.analyse_frames(differential, [str(example.image)])
    out.append(frames_view.attention_overlays(state.current, 6, "mean", 0.5)[-1])
    out.append(frames_view.scores_for(state.current))
    for method in frames_view.attribution_choices():
        if any(slow in method for slow in ("Occlusion", "NoiseTunnel", "Integrated")):
            continue  # the same caption code as the others, and seconds each
        out.append(frames_view.attribution_overlay(state, differential, example.shows, method, 0.5)[1])
    out.append(compare_view.compare(standard, differential, str(example.image), example.shows,
                                    mask_for(str(example.image)))[1])
    result = lab.run_lab(standard, differential, lab.pick_frame(examples(), 0, None, standard),
                         dict.fromkeys(lab.KINDS, 0.5))
    out += [v for v in views(result, example.shows, 6, "mean") if isinstance(v, str)]
    from demo.resources import example_clip

    out.append(notes(analyse_clip(differential, example_clip(), 5, 10, out_dir=folder)))
    return out


def test_every_technical_word_a_caption_uses_has_an_entry(built, tmp_path):
    bank, demo = built
    texts = _strings(demo) + _captions(bank, tmp_path)
    used = {m.group(0) for text in texts for pattern in JARGON for m in re.finditer(pattern, text, re.I)}
    assert used, "the captions use technical words"
    assert sorted(w for w in used if not _covered(w)) == []


def test_the_glossary_is_under_every_tab_and_the_convention_is_not_in_every_caption(built, tmp_path):
    bank, demo = built
    ids = {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
    assert {f"glossary-{t.id}" for t in TABS if t.id != "words"} <= ids and "glossary-full" in ids
    texts = _strings(demo) + _captions(bank, tmp_path)
    assert [t for t in texts if "Captum's outlier convention" in t] == []
    assert "Captum's outlier convention" in glossary.glossary_markdown()
