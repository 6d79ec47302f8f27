"""The Errors tab's research panel (issue 30): the reliability diagrams with the ECE, the likely label errors
(confident learning) and the weak slices of the session's pass at its thresholds, from the same functions
that write errors.json (diffclip.error_analysis), without running the model."""

from __future__ import annotations

import gradio as gr
import numpy as np

from diffclip.error_analysis.calibration import calibration
from diffclip.error_analysis.document import slice_groups
from diffclip.error_analysis.label_issues import label_issues
from diffclip.error_analysis.slices import weak_slices
from explain.error_analysis.figures import reliability_figure
from explain.overlay import figure_to_rgb

from .errors_view import ErrorsState, thumbnail_pictures

ISSUE_HEADERS = ("video", "frame", "label", "given", "p", "score")
SLICE_HEADERS = ("label", "cohort", "frames", "errors", "rate [95% CI]", "label's rate", "excess")
SHOWN = 40  # rows of each table in the tab (errors.json and the report keep them all)
PICTURED = 10  # label issues shown as pictures
INTRO = ("**Calibration, likely label errors and weak slices** of this pass (no model run). Calibration: "
         "does a probability of 0.8 come true 80% of the time? Likely label errors: frames whose given label the "
         "model contradicts with confidence (confident learning, Northcutt et al., JAIR 2021), kept apart from "
         "the model's mistakes: a reason to check the truth, not proof it is wrong. Weak slices: cohorts where a "
         "label's error rate is worst against its rate over the whole set (Wilson 95% intervals).")


def issues(state: ErrorsState) -> list[dict]:
    """The session's label issues over its frames with known truth (thresholds do not enter)."""
    mp, rows = state.mp, np.flatnonzero(state.mp.known)
    return label_issues(mp.truth[rows], mp.probs[rows], mp.labels, mp.video_ids[rows], mp.frames[rows])


def research_views(state: ErrorsState | None, predictor=None):
    """(reliability picture, caption, label-issue rows, slice rows, the first issues' frames with their
    attention) for the session, or empties."""
    if state is None:
        return None, "", [], [], []
    mp, rows = state.mp, np.flatnonzero(state.mp.known)
    cal = calibration(mp.truth[rows], mp.probs[rows], mp.labels)
    macro = cal["macro"]
    said = (f"Expected calibration error: macro {_num(macro['ece'])} over {macro['labels_with_positives']} labels "
            f"with positive frames, pooled {_num(macro['pooled_ece'])}. Binning: {cal['binning']}.")
    found = issues(state)
    said += f" Likely label errors: {len(found)} (the first {min(len(found), SHOWN)} below, most suspicious first)."
    issue_rows = [[d["video_id"], d["frame"], d["label"], "yes" if d["given"] else "no", round(d["probability"], 3),
                   round(d["score"], 3)] for d in found[:SHOWN]]
    return figure_to_rgb(reliability_figure(cal)), said, issue_rows, slice_rows(state), \
        issue_pictures(state, predictor, found[:PICTURED])


def issue_pictures(state: ErrorsState, predictor, found: list[dict]) -> list:
    """(picture, caption) of label issues: the crop with its last-layer attention when the pass read it."""
    if predictor is None or not found:
        return []
    pictures = thumbnail_pictures(state, predictor, [(d["video_id"], d["frame"]) for d in found], with_maps=True)
    return [(p, f"{d['video_id']}/{d['frame']} · {d['label']} given {'yes' if d['given'] else 'no'} · "
                f"p={d['probability']:.2f}") for p, d in zip(pictures, found, strict=True)]


def slice_rows(state: ErrorsState | None) -> list[list]:
    """The weak slices at the session's thresholds (the one part that moves with them), worst first."""
    if state is None:
        return []
    mp, rows = state.mp, np.flatnonzero(state.mp.known)
    slices = weak_slices(mp.truth[rows], mp.probs[rows], state.thresholds, mp.labels, slice_groups(mp, rows))
    return [[d["label"], f"{d['cohort']}: {d['value']}", d["frames"], d["errors"],
             f"{d['rate']:.2f} [{d['ci'][0]:.2f}, {d['ci'][1]:.2f}]", round(d["label_rate"], 2),
             f"+{d['excess']:.2f}"] for d in slices if d["excess"] > 0][:SHOWN]


def select_issue(state: ErrorsState, index: int) -> dict:
    """Select the ``index``-th listed label issue as the tab's current frame (for "Open in the Frames view"
    and tagging): kind fn for a frame given the label, fp for one given without it."""
    found = issues(state)[:SHOWN]
    if not 0 <= int(index) < len(found):
        raise ValueError("that row is no longer listed; analyse the set again")
    d = found[int(index)]
    state.selected = {"video_id": d["video_id"], "frame": d["frame"], "label": d["label"],
                      "kind": "fn" if d["given"] else "fp", "probability": d["probability"], "issue": True}
    return state.selected


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def build_panel():
    """The panel's components, inside the caller's Blocks: (picture, caption, issues table, slices table)."""
    with gr.Accordion("Calibration, likely label errors, weak slices", open=False, elem_id="errors-research"):
        gr.Markdown(INTRO)
        caption = gr.Markdown(elem_id="errors-research-caption")
        picture = gr.Image(label="Reliability per label", type="numpy", interactive=False, show_label=False,
                           elem_id="errors-reliability")
        issues_table = gr.Dataframe(headers=list(ISSUE_HEADERS), interactive=False, elem_id="errors-label-issues",
                                    label="Likely label errors (given: the label's value in the set; score: 1 − the "
                                          "model's probability of the given value)")
        issue_gallery = gr.Gallery(label=f"The first {PICTURED} likely label errors as the model saw them, with "
                                         "its last-layer attention", columns=5, height="auto", fit_columns=False,
                                   allow_preview=False, object_fit="contain", interactive=False,
                                   elem_id="errors-issue-frames")
        slices_table = gr.Dataframe(headers=list(SLICE_HEADERS), interactive=False, elem_id="errors-slices",
                                    label="Weak slices (cohorts of at least 5 frames, worst first)")
    return picture, caption, issues_table, slices_table, issue_gallery


def build_map_panel():
    """The feature map's components: (colour choice, map picture, its note, similar frames gallery)."""
    with gr.Accordion("Feature map and similar frames", open=False, elem_id="errors-map-panel"):
        gr.Markdown("Every frame with known truth, placed by t-SNE of the model's pooled features: frames the "
                    "model sees alike lie close. **Click a point** to open that frame in the Frames view, with "
                    "the shown label explained; its most similar frames are listed below the map, so you see "
                    "whether a mistake is a pattern. Distances between far clusters mean little on a t-SNE map.")
        colour_by = gr.Radio(["outcome for the shown label", "section"], value="outcome for the shown label",
                             label="Colour by", elem_id="errors-map-colour")
        picture = gr.Image(type="numpy", interactive=False, show_label=False, elem_id="errors-map")
        note = gr.Markdown(elem_id="errors-map-note")
        gallery = gr.Gallery(label="Most similar frames (video/frame · cosine similarity; each listed above)", columns=8,
                             height="auto", fit_columns=False, allow_preview=False, object_fit="contain",
                             interactive=False, elem_id="errors-similar")
    return colour_by, picture, note, gallery
