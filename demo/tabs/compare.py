"""The Compare tab: one frame through two models side by side (standard and differential by default; any two
of the served models)."""

from __future__ import annotations

import gradio as gr

from .. import compare_view
from ..callbacks import STALE, clear_on_failure, plain_errors
from ..models import gpu
from ..resources import mask_for
from ..study_note import study_verdict
from ..upload_inputs import FramePath
from .base import AppContext, Tab


def build(ctx: AppContext) -> None:
    labels, example_list, bank = ctx.labels, ctx.examples, ctx.bank
    standard, differential = bank.pair()
    names = list(bank.names)
    first, second = default_pair(bank)

    @gpu
    @plain_errors
    def on_compare(image_path, label, alpha, layer, head, left=first, right=second):
        if len(names) < 2:
            raise ValueError("comparison needs two models (--compare-checkpoint)")
        if not image_path:
            raise ValueError("pick an example or upload a frame to compare")
        left, right = left or first, right or second
        images, table, numbers = compare_view.compare(bank.get(left), bank.get(right), image_path, label,
                                                      mask_for(image_path), alpha, layer, head, (left, right))
        got = numbers["models"]
        maps = [gr.Image(images[n + key], label=f"{compare_view.title(n)} · {what or got[n]['map'] + ' of the chosen layer'}")
                for what, key in (("", ""), ("rollout", "_rollout")) for n in got]
        return (*maps, table, numbers)

    @gpu
    @plain_errors
    def on_control(image_path, label, alpha, layer, head, left=first, right=second):
        # a control moved before any frame was chosen: nothing to redraw yet
        if not image_path:
            return (gr.update(),) * 6
        return on_compare(image_path, label, alpha, layer, head, left, right)

    def on_compare_example(evt: gr.SelectData):
        ex = example_list[evt.index]
        return str(ex.image), ex.shows

    gr.Markdown("The same frame through the **standard** and the **differential** model. Differential "
                "attention is designed to spread less attention over what does not matter; whether it does on "
                "this frame is in the numbers below (entropy: how spread a map is; lesion share and pointing "
                f"game: whether it lands on the lesion), and over training seeds {study_verdict()}."
                + (" The Left and Right menus pick any two of the served models." if len(names) > 2 else ""))
    with gr.Row():
        with gr.Column(scale=1):
            cmp_gallery = gr.Gallery(value=[(str(e.image), e.shows) for e in example_list],
                                     label="Examples with lesion masks (click one)", columns=3, height="auto", elem_id="compare-examples",
                                     allow_preview=False)
            cmp_image = FramePath(label="Frame", type="filepath", elem_id="compare-image")
            cmp_label = gr.Dropdown(labels, value="blood" if "blood" in labels else labels[0], label="Label")
            depth, heads = model_shape(standard)
            cmp_layer = gr.Slider(1, depth, value=depth, step=1, label="Layer (both models)", elem_id="compare-layer")
            cmp_head = gr.Dropdown(["mean"] + [str(h) for h in range(heads)], value="mean",
                                   label="Head (both models)", elem_id="compare-head")
            cmp_alpha = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label="Overlay alpha", elem_id="compare-alpha")
            with gr.Row():
                cmp_left = gr.Dropdown(names, value=first, label="Left model", elem_id="compare-left",
                                       interactive=len(names) > 2)
                cmp_right = gr.Dropdown(names, value=second, label="Right model", elem_id="compare-right",
                                        interactive=len(names) > 2)
            cmp_btn = gr.Button("Compare", variant="primary", elem_id="compare-btn")
        with gr.Column(scale=2):
            with gr.Row():
                std_img = gr.Image(label="standard · a1 of the chosen layer", type="numpy", elem_classes="dc-map")
                dif_img = gr.Image(label="differential · a1 − λ·a2 of the chosen layer", type="numpy", elem_classes="dc-map")
            with gr.Row():
                std_roll = gr.Image(label="standard · rollout", type="numpy", elem_classes="dc-map")
                dif_roll = gr.Image(label="differential · rollout", type="numpy", elem_classes="dc-map")
            cmp_table = gr.Markdown(elem_id="compare-table")
            with gr.Accordion("The numbers as JSON (as /compare returns them)", open=False):
                cmp_json = gr.JSON(elem_id="compare-json")

    cmp_gallery.select(on_compare_example, None, [cmp_image, cmp_label])
    outputs = [std_img, dif_img, std_roll, dif_roll, cmp_table, cmp_json]
    inputs = [cmp_image, cmp_label, cmp_alpha, cmp_layer, cmp_head, cmp_left, cmp_right]
    comparing = cmp_btn.click(on_compare, inputs, outputs, api_name="compare", **ctx.model_work)
    clear_on_failure(comparing, outputs, (None, None, None, None, STALE, None))
    for control in (cmp_layer.release, cmp_alpha.release, cmp_head.input, cmp_left.input, cmp_right.input):
        redrawing = control(on_control, inputs, outputs, show_progress="hidden", **ctx.model_work)
        clear_on_failure(redrawing, outputs, (None, None, None, None, STALE, None))


def default_pair(bank) -> tuple[str | None, str | None]:
    """The pair the tab opens with, by name: the standard and the differential model (ModelBank.pair, which
    asks the models' own attention semantics)."""
    by_path = {path: name for name, path in bank.names.items()}
    standard, differential = bank.pair()
    if differential is None:
        return by_path.get(bank.paths["main"]), None
    path_of = {id(bank.main): bank.paths["main"], id(bank.compare): bank.paths["compare"]}
    return by_path[path_of[id(standard)]], by_path[path_of[id(differential)]]


def model_shape(predictor) -> tuple[int, int]:
    """Layers and heads of a predictor's model (12 and 12 when there is no model to ask)."""
    if predictor is None:
        return 12, 12
    layout = predictor.model.layout
    return layout.layers, layout.heads


TAB = Tab("compare", "Compare", build)
