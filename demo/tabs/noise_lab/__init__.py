"""The Noise lab tab: add bubbles, specular highlights and debris to a clean example frame and watch where the
standard and the differential model attend, and what the subtraction a1 - lambda a2 removes. Its
``/noise_lab`` endpoint gives the same pictures and the numbers as JSON."""

from __future__ import annotations

import gradio as gr

from ...callbacks import STALE, clear_on_failure, file_paths, plain_errors
from ...frames_view import parse_head
from ...models import gpu
from ...study_note import study_sentence
from ...upload_inputs import UploadedFiles
from ..base import AppContext, Tab
from ..compare import model_shape
from . import experiment as lab
from . import noise_lab_figures as figures
from . import why_subtract

INTRO = ("**Noise lab.** Pick a clean example frame (or upload one), then add **distractors** with the sliders: "
         "bubbles, specular highlights and debris, drawn by the synthetic generator's own code. Below: where each "
         "model's last-layer attention goes, and how the differential model's subtraction a1 − λ·a2 takes mass "
         "away from what a1 attends to.")
EVIDENCE = ("The two models here are tiny and trained on synthetic frames: nothing in this lab is evidence about "
            "BiomedCLIP-scale models.")
SLIDERS = {"bubbles": "Bubble density", "highlights": "Specular highlights", "debris": "Debris"}
DEFAULT_LEVEL = 0.5  # a picked example shows some of each kind at once; 0 shows it clean


def views(result: lab.LabResult, label: str, layer, head):
    """Every picture and caption of the tab for one lab run: frame, its caption, lambda plot, both models'
    maps and numbers, the subtraction panels and their caption."""
    h = parse_head(head)
    cancel = lab.cancellation_numbers(result, lab.check_layer(result, layer), h)
    panels, shared = figures.subtraction_figure(result, layer, h)
    diff = result.analyses["differential"]
    numbers = {m: lab.map_numbers(result, m, label) | {"sinks": lab.sinks(result, m)} for m in lab.MODELS}
    captions = {m: figures.model_caption(numbers[m], label, figures.map_scale(result, m), m) for m in lab.MODELS}
    frame_words = "\n\n".join(filter(None, (figures.frame_caption(result), figures.who_has_less(*numbers.values()))))
    return (figures.frame_view(result), frame_words, figures.lambda_figure(result, int(layer)),
            figures.model_view(result, "standard"), figures.model_view(result, "differential"),
            captions["standard"], captions["differential"], panels,
            figures.subtraction_caption(cancel, shared, diff.semantics.lambda_per))


def build(ctx: AppContext) -> None:
    """Lay out the lab and wire its events and its ``/noise_lab`` endpoint."""
    standard, differential = ctx.bank.pair()
    example_list, labels = ctx.examples, ctx.labels

    def run(example, upload, levels, label):
        """Check the inputs (cheap checks first), draw the distractors, run both models."""
        if standard is None or differential is None or standard is differential:
            raise ValueError("the noise lab needs a standard and a differential model (--compare-checkpoint)")
        levels = lab.check_levels(levels)
        lab.check_label(labels, label)
        result = lab.run_lab(standard, differential, lab.pick_frame(example_list, example, upload, standard), levels)
        return result, lab.label_for(result, label)

    @gpu
    @plain_errors
    def on_noise_lab(example, upload, bubbles, highlights, debris, label, layer, head):
        upload = (file_paths(upload) or [None])[0]
        if example is None and not upload:  # a control moved before any frame was chosen: nothing to draw
            return (gr.update(),) * (len(outputs))
        levels = {"bubbles": bubbles, "highlights": highlights, "debris": debris}
        result, label = run(example, upload, levels, label)
        return (result, gr.update(value=label), *views(result, label, layer, head))

    @plain_errors
    def on_redraw(result, label, layer, head):
        if result is None:  # nothing computed yet
            return (gr.update(),) * len(drawn)
        return views(result, lab.label_for(result, lab.check_label(labels, label)), layer, head)

    def pick_example(evt: gr.SelectData):
        return evt.index, None, example_list[evt.index].shows  # the upload goes: one frame at a time

    def forget_example():
        return None, None  # an uploaded frame replaces the example; its label defaults anew

    gr.Markdown(INTRO)
    gr.Markdown(EVIDENCE, elem_id="noise-evidence")
    study = study_sentence()
    if study:
        gr.Markdown(study, elem_id="noise-study")
    why_subtract.build()  # the mechanism on a made-up row first, then the measured models below
    example = gr.State(None)
    result_state = gr.State(None, time_to_live=ctx.session_ttl)
    depth, heads = model_shape(differential)
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            gallery = gr.Gallery(value=[(str(e.image), e.shows) for e in example_list],
                                 label="Clean examples with lesion masks (click one)", columns=3, height="auto",
                                 allow_preview=False, object_fit="contain", elem_id="noise-examples")
            upload = UploadedFiles(label="…or upload a frame (PNG, JPEG; no lesion mask is known for it)",
                             file_types=["image"], height=170, elem_id="noise-upload")
            sliders = [gr.Slider(0.0, 1.0, value=DEFAULT_LEVEL, step=0.05, label=title, elem_id=f"noise-{kind}")
                       for kind, title in SLIDERS.items()]
            label = gr.Dropdown(labels, value=None, label="Label whose probability is shown (default: the "
                                "example's finding)", elem_id="noise-label")
        with gr.Column(scale=2):
            with gr.Row():
                frame_img = gr.Image(label="frame with its distractors (green: lesion, cyan: distractors)",
                                     type="numpy", elem_classes="dc-map", elem_id="noise-frame")
                lambda_img = gr.Image(label="λ per layer and head (differential model)", type="numpy",
                                      elem_classes="dc-map", elem_id="noise-lambda")
            frame_md = gr.Markdown(elem_id="noise-frame-caption")
            with gr.Row():
                std_img = gr.Image(label="standard · a1, last layer, head mean", type="numpy", elem_classes="dc-map",
                                   elem_id="noise-standard")
                dif_img = gr.Image(label="differential · a1 − λ·a2, last layer, head mean", type="numpy", elem_classes="dc-map",
                                   elem_id="noise-differential")
            with gr.Row():
                std_md = gr.Markdown(elem_id="noise-standard-numbers")
                dif_md = gr.Markdown(elem_id="noise-differential-numbers")
    with gr.Row():
        layer = gr.Slider(1, depth, value=depth, step=1, label="Layer of the subtraction below", elem_id="noise-layer")
        head = gr.Dropdown(["mean"] + [str(h) for h in range(heads)], value="mean", label="Head", elem_id="noise-head")
    sub_img = gr.Image(label="the subtraction: a1, λ·a2 and a1 − λ·a2 on one colour scale", type="numpy",
                       elem_classes="dc-map", elem_id="noise-subtraction")
    sub_md = gr.Markdown(elem_id="noise-subtraction-caption")

    drawn = [frame_img, frame_md, lambda_img, std_img, dif_img, std_md, dif_md, sub_img, sub_md]
    outputs = [result_state, label, *drawn]
    inputs = [example, upload, *sliders, label, layer, head]
    failed = (None, gr.update(), None, STALE, None, None, None, "", "", None, "")

    picking = gallery.select(pick_example, None, [example, upload, label], show_progress="hidden")
    uploading = upload.upload(forget_example, None, [example, label], show_progress="hidden")
    for chosen in (picking, uploading):
        clear_on_failure(chosen.success(on_noise_lab, inputs, outputs, **ctx.model_work), outputs, failed)
    # one listener for the three sliders: a run that is still going is followed by one with the last values,
    # so that two slider moves cannot finish out of order and leave the older picture on screen
    leveling = gr.on([s.release for s in sliders], on_noise_lab, inputs, outputs, trigger_mode="always_last",
                     **ctx.model_work)
    clear_on_failure(leveling, outputs, failed)
    for control in (label.input, layer.release, head.input):  # a redraw from the session's run: no model
        control(on_redraw, [result_state, label, layer, head], drawn, show_progress="hidden")
    _endpoint(ctx, run)


def _endpoint(ctx: AppContext, run) -> None:
    """``/noise_lab``: (example index or frame file, distractors level for all three kinds, label) -> the frame
    with its outlines, both models' last-layer maps, the lambda plot, the last layer's subtraction panels and
    the numbers as JSON (demo.tabs.noise_lab.experiment.lab_numbers)."""

    @gpu
    @plain_errors
    def noise_lab(example, frame, distractors, label):
        """The Noise lab on one frame: an example index (0-based, demo/examples/examples.json) or an image
        file, a distractors level in [0, 1] for bubbles, highlights and debris at once, and a label (empty:
        the example's finding). Returns the frame, the standard and the differential map, lambda per layer,
        the subtraction panels of the last layer, and the numbers as JSON."""
        if distractors is None:
            raise ValueError("the distractors level must be a number in [0, 1]")
        frame = (file_paths(frame) or [None])[0]
        result, label = run(example, frame, {kind: distractors for kind in lab.KINDS}, label)
        depth = result.analyses["differential"].num_layers
        images = views(result, label, depth, "mean")
        return images[0], images[3], images[4], images[2], images[7], lab.lab_numbers(result, label)

    with gr.Row(visible=False):
        ins = [gr.Number(None, visible=False), gr.File(visible=False), gr.Number(None, visible=False),
               gr.Textbox("", visible=False)]
        outs = [*(gr.Image(type="numpy", visible=False) for _ in range(5)), gr.JSON(visible=False)]
        button = gr.Button(visible=False)
    button.click(noise_lab, ins, outs, api_name="noise_lab", **ctx.model_work)


TAB = Tab("noise-lab", "Noise lab", build)
