"""The Frames tab: upload or pick frames, read the scores, see both softmax maps, their difference and an
attribution for a chosen label."""

from __future__ import annotations

import gradio as gr

from .. import frames_view, truth
from ..callbacks import (
    STALE,
    analyse_in_session,
    clear_on_failure,
    file_paths,
    plain_errors,
    release_frames,
    render_attention,
    require_frames,
    session_of,
    show_frame,
)
from ..models import gpu
from ..stopping import BOARD
from ..upload_inputs import UploadedFiles
from .base import AppContext, FramesHandles, Tab


def build(ctx: AppContext) -> None:
    main, labels, example_list = ctx.bank.main, ctx.labels, ctx.examples
    size = main.pre.image_size

    @gpu
    @plain_errors
    def on_analyse(files, previous, request: gr.Request):
        # masks (frame_000123_mask.png) and a label CSV uploaded with synthetic frames are their truth
        frames, masks, labelled = truth.split_uploads(file_paths(files))
        truths = [truth.truth_for(f, masks, labelled, size) for f in frames]
        return show_frame(analyse_in_session(main, frames, None, previous, request, truths), 0)

    @gpu
    @plain_errors
    def on_example(previous, request: gr.Request, evt: gr.SelectData):
        ex = example_list[evt.index]
        known = truth.FrameTruth(frozenset(ex.labels), truth.load_mask(ex.mask, size) if ex.mask else None)
        state = analyse_in_session(main, [str(ex.image)], [f"example: {ex.shows}"], previous, request, [known])
        return show_frame(state, 0)

    @plain_errors
    def on_select(state, evt: gr.SelectData):
        return show_frame(require_frames(state), evt.index)

    @gpu
    @plain_errors
    def on_attribution(state, label, method, alpha, steps, sign, request: gr.Request = None,
                       progress=gr.Progress()):
        session, state = session_of(request), require_frames(state)
        BOARD.clear(session)
        total, unit = frames_view.progress_steps(method, int(steps), size=state.current.image.shape[0])

        def report(fraction: float) -> None:  # after every batch of model passes: the Stop button's chance
            BOARD.check(session)
            progress((round(fraction * total), total) if total else fraction, desc=method, unit=unit)

        img, caption = frames_view.attribution_overlay(state, main, label, method, alpha, steps, progress=report,
                                                       sign=sign)
        return img, caption, state

    def on_stop(request: gr.Request = None):
        BOARD.ask(session_of(request))

    frames_state = gr.State(None, time_to_live=ctx.session_ttl, delete_callback=release_frames)
    with gr.Row():
        with gr.Column(scale=1):
            upload = UploadedFiles(label="Upload frames (PNG, JPEG; RGB, RGBA, grayscale, 16-bit); optionally their "
                                   "masks (frame_000123_mask.png) and a label CSV with a 'frame' column",
                             file_count="multiple", file_types=["image", ".csv"], elem_id="frame-upload")
            analyse_btn = gr.Button("Analyse", variant="primary", elem_id="analyse-btn")
            example_gallery = gr.Gallery(
                value=[(str(e.image), e.shows) for e in example_list], label="Examples (synthetic; click one)",
                columns=4, height="auto", allow_preview=False, object_fit="contain", elem_id="example-gallery")
            frame_gallery = gr.Gallery(label="Analysed frames (click to select)", columns=6, height=220, fit_columns=False,
                                       allow_preview=False, object_fit="contain", elem_id="frame-gallery")
        with gr.Column(scale=1):
            scores = gr.HTML(label="Scores", elem_id="scores")
    with gr.Row():
        layer = gr.Slider(1, 12, value=12, step=1, label="Layer", elem_id="layer")
        head = gr.Dropdown(["mean"], value="mean", label="Head", elem_id="head")
        alpha = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label="Overlay alpha", elem_id="alpha")
        shared = gr.Checkbox(False, label="a1 and a2 on one colour scale", elem_id="shared-scale")
    attn_caption = gr.Markdown()
    with gr.Row():
        a1_img = gr.Image(label="a1 · softmax map 1", type="numpy", elem_classes="dc-map", elem_id="a1")
        a2_img = gr.Image(label="a2 · softmax map 2", type="numpy", elem_classes="dc-map", elem_id="a2")
        diff_img = gr.Image(label="diff = a1 − λ·a2 (diverging)", type="numpy", elem_classes="dc-map", elem_id="diff")
        attr_img = gr.Image(label="attribution", type="numpy", elem_classes="dc-map", elem_id="attribution")
    with gr.Row():
        choices = frames_view.attribution_choices()
        label = gr.Dropdown(labels, value=labels[0], label="Label to explain", elem_id="label")
        method = gr.Dropdown(choices, value=choices[0], label="Attribution method", elem_id="method", min_width=250)
        steps = gr.Slider(4, 256, value=64, step=4, label="Most points on the path (IG, NoiseTunnel)",
                          info="fewer are used once the attributions add up", elem_id="steps")
        sign = gr.Radio(list(frames_view.SIGNS), value="signed", label="Signed maps shown", elem_id="sign")
        explain_btn = gr.Button("Explain", elem_id="explain-btn")
        stop_btn = gr.Button("Stop", variant="stop", elem_id="stop-explain", min_width=80)
    attr_caption = gr.Markdown(elem_id="attribution-caption")

    analysed = [frames_state, frame_gallery, scores, layer, head, label]
    view = [frames_state, layer, head, alpha, shared]
    overlays = [a1_img, a2_img, diff_img, attn_caption]
    attr_in, attr_out = [frames_state, label, method, alpha, steps, sign], [attr_img, attr_caption, frames_state]
    work = ctx.model_work
    # a failed analysis clears every view of the frames (they showed the previous ones)
    cleared = [*analysed, *overlays, attr_img, attr_caption]
    kept = gr.update()  # the layer, head and label controls keep their values
    explaining_events = []  # every event that computes an explanation: the Stop button cancels them
    for analysing in (analyse_btn.click(on_analyse, [upload, frames_state], analysed, api_name="analyse_frames",
                                        **work),
                      example_gallery.select(on_example, [frames_state], analysed, **work)):
        clear_on_failure(analysing, cleared, (None, [], STALE, kept, kept, kept, None, None, None, "", None, ""))
        explaining = analysing.success(render_attention, view, overlays).success(on_attribution, attr_in, attr_out,
                                                                                  **work)
        clear_on_failure(explaining, [attr_img, attr_caption], (None, ""))
        explaining_events.append(explaining)
    # the attribution panel always shows the frame, label and method its caption names: recomputed
    # (or reused from the session's last few) whenever one of them changes
    selecting = frame_gallery.select(on_select, [frames_state], analysed, show_progress="hidden").success(
        render_attention, view, overlays, show_progress="hidden")
    for explaining in (selecting.success(on_attribution, attr_in, attr_out, **work),
                       label.input(on_attribution, attr_in, attr_out, **work),
                       method.input(on_attribution, attr_in, attr_out, **work),
                       sign.input(on_attribution, attr_in, attr_out, **work)):
        clear_on_failure(explaining, [attr_img, attr_caption], (None, ""))
        explaining_events.append(explaining)
    for control in (layer, head, alpha, shared):
        control.change(render_attention, view, overlays, show_progress="hidden")
    explaining = explain_btn.click(on_attribution, attr_in, attr_out, api_name="attribution", **work)
    clear_on_failure(explaining, [attr_img, attr_caption], (None, ""))
    explaining_events.append(explaining)
    alpha.change(on_attribution, attr_in, attr_out, show_progress="hidden", **work)
    # Stop: Gradio drops the running explanation's result, and the board stops its computation (demo.stopping)
    stop_btn.click(on_stop, None, None, queue=False, api_visibility="private", cancels=explaining_events)
    ctx.frames_handles = FramesHandles(analysed=analysed, view=view, overlays=overlays, explain=on_attribution,
                                       explain_in=tuple(attr_in), explain_out=tuple(attr_out))


TAB = Tab("frames", "Frames", build)
