"""What the words mean: one or two plain sentences for every technical term the app's captions use, shown in
the same closed accordion under every tab (demo.ui), and in full in the "Words and docs" tab with the docs
they come from. tests/test_glossary.py fails when a caption uses a listed term that has no entry here."""

from __future__ import annotations

import re
from dataclasses import dataclass

import gradio as gr


@dataclass(frozen=True)
class Term:
    """One entry: the term as shown, the words that mark its use in a caption, and what it means."""

    name: str
    pattern: str  #: a regular expression (case-insensitive) that finds the term in a caption
    text: str
    more: str = ""  #: where the longer explanation is (a section of the docs in the "Words and docs" tab)


TERMS: tuple[Term, ...] = (
    Term("a1 and a2", r"\ba[12]\b",
         "The two softmax attention maps of one differential attention head. Each is an ordinary attention map: "
         "non-negative, summing to 1 over the tokens. A standard model has only a1.", "design: Attention maps"),
    Term("λ (lambda)", r"λ|lambda",
         "The learned weight of the subtraction a1 − λ·a2, one value per layer (Ye et al., ICLR 2025). Near 0 "
         "the head is almost a standard one; near 1 it subtracts a2 almost whole.", "design: Attention variants"),
    Term("a1 − λ·a2 (the differential map)", r"a1 − λ·a2|a1 - lambda a2|differential map",
         "The map a differential head applies to the values. It is negative (blue) where λ·a2 outweighs a1. "
         "Whether subtracting cancels attention noise is what \"Why subtract?\" and the Noise lab look at.",
         "noise-lab: The idea"),
    Term("CLS row", r"\bCLS\b",
         "The classification token's attention to every image patch. The label is read from this token, so "
         "its row is the map the views show.", "design: Attention maps"),
    Term("layer and head", r"\bhead mean\b|\bhead \d|\blayer \d|\blast layer",
         "A ViT has several layers of attention, each with several heads looking in parallel. \"Head mean\" "
         "is the average of a layer's heads; pick a head to see one alone. The last layer is the one nearest "
         "the label.", "design: Attention maps"),
    Term("rollout", r"rollout",
         "Attention multiplied through all layers, with the skip connection counted (Abnar and Zuidema, 2020): "
         "which patches reach the CLS token over the whole network, not in one layer.", "design: Explanations"),
    Term("gradient-weighted attention", r"gradient-weighted|gradattn",
         "The last layer's attention weighted by how much the chosen label's score changes with it (positive "
         "part, head mean; after Chefer et al., 2021): attention that matters for this label.",
         "design: Explanations"),
    Term("Grad-CAM", r"grad-?cam",
         "The activations of the last block weighted by their gradient for the label (Selvaraju et al., 2017), "
         "positive part: a coarse map of what raises the score.", "design: Explanations"),
    Term("saliency", r"saliency",
         "The gradient of the label's score with respect to each pixel (Simonyan et al., 2014): which pixels "
         "would change the score most if nudged.", "design: Explanations"),
    Term("Integrated Gradients and its completeness delta", r"integrated gradients|\bIG\b|completeness",
         "Gradients averaged along a path from a black image to the frame, times the pixel change (Sundararajan "
         "et al., 2017). The attributions should add up to the score's change: the completeness delta is by how "
         "much they do not (small is good).", "design: Checking a map"),
    Term("NoiseTunnel", r"noise ?tunnel|smoothgrad",
         "Captum's SmoothGrad: the same attribution averaged over copies of the frame with a little noise added, "
         "so that one pixel's quirk does not dominate.", "design: Explanations"),
    Term("Occlusion", r"occlusion",
         "Black out one window of the frame at a time and see how much the score drops (Zeiler and Fergus, "
         "2014): slow, but it needs no gradients.", "design: Explanations"),
    Term("signed or magnitude", r"\bsigned\b|magnitude",
         "A signed map keeps the direction (red raises the score, blue lowers it, white 0); a magnitude map "
         "shows only how much, whatever the direction.", "design: Reading a map"),
    Term("colour limits (Captum's outlier convention)", r"outlier|colour (bar|scale|limits)|saturat",
         "Every map's colours saturate where the top 2% of its absolute mass begins, as Captum draws "
         "attributions (outlier_perc=2), so one hot pixel cannot wash out the rest. Values beyond show at full "
         "colour; the colour bar's pointed end says so.", "design: Reading a map"),
    Term("entropy", r"entropy",
         "How spread a map is, scaled to 0 (all attention on one patch) to 1 (the same on every patch).",
         "design: Checking a map"),
    Term("lesion share", r"(attention|mass|share)[^.]{0,30}lesion|lesion mask",
         "The part of a map's positive mass that lies inside the lesion's mask (green outline): 1 means all "
         "of it.", "design: Checking a map"),
    Term("pointing game", r"pointing game",
         "A hit when the map's brightest patch lies within 15 pixels of the lesion mask, a miss otherwise "
         "(Zhang et al., 2018).", "design: Checking a map"),
    Term("deletion and insertion AUC", r"deletion|insertion",
         "Black out the map's top pixels first and watch the score fall (deletion: lower area under the curve "
         "is better), or show only those pixels on a black frame and watch it rise (insertion: higher is "
         "better; Petsiuk et al., 2018).", "design: Checking a map"),
    Term("distractors", r"distractor|bubble|specular|debris",
         "Things in a capsule frame that are not findings: bubbles, specular highlights and debris. The Noise "
         "lab draws them with the synthetic generator's own code.", "noise-lab: The idea"),
    Term("rim", r"\brim\b",
         "The dark area outside the capsule camera's circular field of view. Attention that lands there looks "
         "at nothing in the gut.", "design: Distractors"),
    Term("attention sinks and high-norm tokens", r"\bsinks?\b|high-norm",
         "Tokens that soak up attention whatever the image shows: one token taking most of a row, the dark rim, "
         "or patches whose output norm is an outlier (Darcet et al., 2023, found such tokens in large ViTs). "
         "Differential Transformer V2 reports that it removes them.", "design: Attention maps"),
    Term("out-of-distribution check", r"out-of-distribution|does not look like a capsule|\bOOD\b|capsule-like",
         "A check that a frame resembles the training frames: a feature score against a threshold, a dark rim "
         "around a round field of view, and no two gut sections at once. When it fails, the scores are a guess "
         "about a picture the model never learned.", "design: Out-of-distribution warning"),
    Term("Mahalanobis score", r"mahalanobis|ood score|score [\d.]+, threshold",
         "How far a frame's features lie from the training frames', measured in units of how much the "
         "training features vary in each direction. Above the threshold, the frame is flagged.",
         "design: Out-of-distribution warning"),
    Term("probability, threshold and label score", r"threshold|probabilit|label score|\bp\(",
         "Each label gets its own probability (a frame can have several labels). A label counts as present "
         "when its probability reaches that label's threshold, the one with the best F1 on validation data.",
         "design: Events and scoring"),
    Term("TP, FP, FN, precision, recall, F1, AP", r"\b(TP|FP|FN|F1|AP)\b|precision|recall|false (positive|negative)",
         "True positives, false positives (false alarms), false negatives (misses). Precision: the share of "
         "alarms that were right; recall: the share of findings caught; F1 balances the two; AP (average "
         "precision) summarises precision over every threshold.", "design: Error analysis"),
    Term("calibration and ECE", r"calibrat|\bECE\b|reliability",
         "A model is calibrated when, of the frames it gives 0.8, about 80% have the label. The reliability "
         "diagram plots that per bin of probabilities; the expected calibration error (ECE) is the average gap, "
         "weighted by how many frames each bin holds.", "design: Error analysis"),
    Term("likely label errors (confident learning)", r"label errors?|confident learning|mislabel",
         "Frames whose given label the model contradicts with confidence, found by confident learning "
         "(Northcutt et al., 2021). A reason to check the frame's truth, not proof that it is wrong.",
         "design: Error analysis"),
    Term("weak slices and the Wilson interval", r"slices?\b|cohort|wilson",
         "A slice is a group of frames the data already names (a section, a video, the flagged frames, the "
         "darkest third). A weak slice is one where a label's error rate is well above its rate over all frames; "
         "the Wilson interval says how uncertain a rate from few frames is.", "design: Error analysis"),
    Term("feature map (t-SNE) and similar frames", r"t-SNE|feature map|similar frames|cosine",
         "Each frame placed on a plane so that frames the model represents alike lie close (t-SNE, van der Maaten "
         "and Hinton, 2008); nearby points are similar frames. Only nearness means something: the distances "
         "between far clusters do not.", "design: Error analysis"),
    Term("event", r"\bevents?\b",
         "A run of consecutive frames with the same set of labels, as the RARE-VISION challenge counts them; "
         "frames are smoothed over time (median filter, gaps filled) before events are formed.",
         "design: Events and scoring"),
    Term("tIoU and temporal AP", r"tIoU|temporal (AP|mAP)|\bmAP\b",
         "tIoU: how much a predicted event and a true one overlap in time (frames in both over frames in "
         "either). Temporal AP counts a predicted event right when its tIoU reaches 0.5 (or 0.95), as the "
         "challenge scores.", "design: Events and scoring"),
    Term("RARE-VISION and Galar", r"RARE-VISION|galar",
         "RARE-VISION is the ICPR 2026 capsule endoscopy challenge whose event JSON and scoring this app "
         "follows; Galar is the labelled capsule video dataset it is built on.", "design: Events and scoring"),
    Term("synthetic frames and the bundled models", r"synthetic|bundled|tiny",
         "The frames here are drawn by this project's generator, and the three bundled models are small ViTs "
         "trained on them: what they show says nothing about BiomedCLIP-scale models on real video.",
         "design: Synthetic data"),
)

DOCS = {"design": "docs/design.md", "noise-lab": "docs/noise-lab.md"}


def entries_for(text: str) -> list[Term]:
    """The terms that ``text`` uses."""
    return [t for t in TERMS if re.search(t.pattern, text, re.I)]


def _where(more: str) -> str:
    doc, _, section = more.partition(": ")
    return f" *More: {DOCS[doc]}, “{section}” (Words and docs tab).*" if more else ""


def glossary_markdown() -> str:
    """Every entry, in the order above (the order a visitor meets them in, from maps to scores)."""
    return "\n\n".join(f"**{t.name}**: {t.text}{_where(t.more)}" for t in TERMS)


def accordion(tab_id: str) -> None:
    """The same closed "What the words mean" accordion under each tab, inside the caller's Blocks."""
    with gr.Accordion("What the words mean (glossary)", open=False, elem_id=f"glossary-{tab_id}",
                      elem_classes="dc-glossary"):
        gr.Markdown(glossary_markdown(), elem_classes="dc-glossary")
