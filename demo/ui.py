"""The Gradio interface: Frames, Clip, Compare and Model card tabs wired to the view logic."""

from __future__ import annotations

import functools
import logging

import gradio as gr

from . import clip_view, compare_view, frames_view
from .model_card import WARNING, model_card
from .models import ModelBank, gpu
from .resources import MAX_CLIP_FRAMES, example_clip, examples, mask_for

log = logging.getLogger(__name__)

INTRO = """# DiffCLIP-VCE · what does the capsule model look at?
Multi-label classification of video capsule endoscopy frames with **differential attention**
(two softmax maps, one subtracted from the other to cancel attention noise). Upload frames or a clip,
read the per-label scores, and compare both softmax maps, their difference and Captum attributions.
"""


def plain_errors(fn):
    """Turn expected failures into a plain gr.Error message; the server keeps serving."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (ValueError, FileNotFoundError, OSError) as exc:
            log.info("request failed: %s", exc)
            raise gr.Error(str(exc)) from None

    return wrapper


def _paths(files) -> list[str]:
    if files is None:
        return []
    if not isinstance(files, (list, tuple)):
        files = [files]
    return [getattr(f, "name", f) for f in files]


def build_demo(bank: ModelBank) -> gr.Blocks:
    """Build the Blocks app for the models in ``bank``."""
    main = bank.main
    labels = list(main.labels)
    example_list = examples()

    # ------------------------------------------------------------------ frame callbacks
    @gpu
    @plain_errors
    def on_analyse(files, names=None):
        state = frames_view.analyse_frames(main, _paths(files), names)
        return _show(state, 0)

    def _show(state: frames_view.FramesState, index: int):
        state.selected = int(index)
        a = state.current
        heads = frames_view.head_choices(a)
        top = frames_view.top_label(a)
        return (
            state,
            frames_view.gallery_items(state),
            frames_view.scores_for(a),
            gr.update(maximum=a.num_layers, value=a.num_layers),
            gr.update(choices=heads, value="mean"),
            gr.update(value=top),
        )

    @plain_errors
    def on_example(evt: gr.SelectData):
        ex = example_list[evt.index]
        return on_analyse([str(ex.image)], [f"example: {ex.shows}"])

    @plain_errors
    def on_select(state, evt: gr.SelectData):
        return _show(state, evt.index)

    @plain_errors
    def on_render(state, layer, head, alpha):
        return frames_view.attention_overlays(state.current, layer, head, alpha)

    @gpu
    @plain_errors
    def on_attribution(state, label, method, alpha, steps, progress=gr.Progress()):
        img, caption = frames_view.attribution_overlay(state, main, label, method, alpha, steps,
                                                       progress=lambda f: progress(f, desc=method))
        return img, caption, state

    # ------------------------------------------------------------------ clip callbacks
    @gpu
    @plain_errors
    def on_clip(video, fps, cap, progress=gr.Progress()):
        result = clip_view.analyse_clip(main, video, fps, cap, progress=lambda f, d: progress(f, desc=d))
        gallery = [(img, f"frame {int(n)}") for img, n in zip(result.images, result.frames, strict=True)]
        files = [str(result.files[k]) for k in ("events", "probs", "overlay")]
        return (result, str(result.files["timeline"]), clip_view.events_rows(result, labels), files,
                str(result.files["overlay"]), gallery, gr.update(maximum=len(result.frames) - 1, value=0))

    @plain_errors
    def on_clip_frame(result, index):
        if result is None:
            raise ValueError("analyse a clip first")
        i = int(index)
        from diffclip.timeline import timeline_figure
        from explain.overlay import figure_to_rgb

        fig = timeline_figure(result.frames, result.probs, main.thresholds, result.active, labels,
                              title=f"clip {result.video_id} · frame {int(result.frames[i])}",
                              marker=int(result.frames[i]))
        return figure_to_rgb(fig)

    @gpu
    @plain_errors
    def on_open_in_frames(result, index):
        if result is None:
            raise ValueError("analyse a clip first")
        i = int(index)
        state = frames_view.analyse_frames(main, [result.images[i]], [f"{result.video_id} frame {int(result.frames[i])}"])
        return (*_show(state, 0), gr.Tabs(selected="frames"))

    def on_pick_index(evt: gr.SelectData):
        return evt.index

    # ------------------------------------------------------------------ compare callbacks
    standard, differential = bank.pair()

    @gpu
    @plain_errors
    def on_compare(image_path, label, alpha):
        if standard is None or differential is None or standard is differential:
            raise ValueError("comparison needs a standard and a differential model (--compare-checkpoint)")
        if not image_path:
            raise ValueError("pick an example or upload a frame to compare")
        images, table = compare_view.compare(standard, differential, image_path, label, mask_for(image_path), alpha)
        return images["standard"], images["differential"], images["standard_rollout"], \
            images["differential_rollout"], table

    def on_compare_example(evt: gr.SelectData):
        ex = example_list[evt.index]
        return str(ex.image), ex.shows

    # ------------------------------------------------------------------ layout
    with gr.Blocks(title="DiffCLIP-VCE") as demo:
        gr.Markdown(INTRO)
        gr.Markdown(WARNING, elem_classes=["dc-warning"])
        with gr.Tabs() as tabs:
            with gr.Tab("Frames", id="frames"):
                frames_state = gr.State(None)
                with gr.Row():
                    with gr.Column(scale=1):
                        upload = gr.File(label="Upload frames (PNG, JPEG; RGB, RGBA, grayscale, 16-bit)",
                                         file_count="multiple", file_types=["image"], elem_id="frame-upload")
                        analyse_btn = gr.Button("Analyse", variant="primary", elem_id="analyse-btn")
                        example_gallery = gr.Gallery(
                            value=[(str(e.image), e.shows) for e in example_list], label="Examples (synthetic; click one)",
                            columns=4, height=220, allow_preview=False, elem_id="example-gallery")
                        frame_gallery = gr.Gallery(label="Analysed frames (click to select)", columns=4, height=200,
                                                   allow_preview=False, object_fit="contain", elem_id="frame-gallery")
                    with gr.Column(scale=1):
                        scores = gr.HTML(label="Scores", elem_id="scores")
                with gr.Row():
                    layer = gr.Slider(1, 12, value=12, step=1, label="Layer", elem_id="layer")
                    head = gr.Dropdown(["mean"], value="mean", label="Head", elem_id="head")
                    alpha = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label="Overlay alpha", elem_id="alpha")
                attn_caption = gr.Markdown()
                with gr.Row():
                    a1_img = gr.Image(label="a1 · softmax map 1", type="numpy", elem_id="a1")
                    a2_img = gr.Image(label="a2 · softmax map 2", type="numpy", elem_id="a2")
                    diff_img = gr.Image(label="diff = a1 − λ·a2 (diverging)", type="numpy", elem_id="diff")
                    attr_img = gr.Image(label="attribution", type="numpy", elem_id="attribution")
                with gr.Row():
                    label = gr.Dropdown(labels, value=labels[0], label="Label to explain", elem_id="label")
                    method = gr.Dropdown(frames_view.attribution_choices(), value=frames_view.attribution_choices()[0],
                                         label="Attribution method", elem_id="method")
                    steps = gr.Slider(4, 128, value=32, step=4, label="IG steps (quality vs time)")
                    explain_btn = gr.Button("Explain", elem_id="explain-btn")
                attr_caption = gr.Markdown()

            with gr.Tab("Clip", id="clip"):
                clip_state = gr.State(None)
                with gr.Row():
                    with gr.Column(scale=1):
                        video = gr.Video(label="Upload a clip (MP4, AVI, MKV, WebM)", sources=["upload"],
                                         elem_id="clip-upload")
                        clip_ex = example_clip()
                        if clip_ex is not None:
                            gr.Examples([[str(clip_ex)]], inputs=[video], label="Example clip (synthetic)")
                        fps = gr.Slider(0.5, 30, value=5, step=0.5, label="Sample frames per second")
                        cap = gr.Slider(10, MAX_CLIP_FRAMES, value=200, step=10, label="At most this many frames")
                        clip_btn = gr.Button("Analyse clip", variant="primary", elem_id="clip-btn")
                    with gr.Column(scale=2):
                        overlay_video = gr.Video(label="Overlay (last-layer attention, predicted labels)",
                                                 interactive=False, elem_id="overlay-video")
                timeline = gr.Image(label="Timeline: per-label probability, thresholds, events", type="filepath",
                                    elem_id="timeline")
                with gr.Row():
                    frame_index = gr.Slider(0, 1, value=0, step=1, label="Sampled frame", elem_id="clip-frame")
                    open_btn = gr.Button("Open this frame in the Frames view")
                clip_gallery = gr.Gallery(label="Sampled frames (click one)", columns=10, height=180,
                                          allow_preview=False)
                events_table = gr.Dataframe(headers=["start", "end", "frames", "labels (mean probability)"],
                                            label="Events (RARE-VISION label sets)", interactive=False,
                                            elem_id="events-table")
                downloads = gr.File(label="Downloads: events JSON, per-frame CSV, overlay MP4", file_count="multiple",
                                    interactive=False, elem_id="downloads")

            with gr.Tab("Compare", id="compare"):
                gr.Markdown("The same frame through the **standard** and the **differential** model. Lower entropy "
                            "and more attention inside the lesion mean less attention noise.")
                with gr.Row():
                    with gr.Column(scale=1):
                        cmp_gallery = gr.Gallery(value=[(str(e.image), e.shows) for e in example_list],
                                                 label="Examples with lesion masks (click one)", columns=4, height=220,
                                                 allow_preview=False)
                        cmp_image = gr.Image(label="Frame", type="filepath", elem_id="compare-image")
                        cmp_label = gr.Dropdown(labels, value="blood" if "blood" in labels else labels[0],
                                                label="Label")
                        cmp_btn = gr.Button("Compare", variant="primary", elem_id="compare-btn")
                    with gr.Column(scale=2):
                        with gr.Row():
                            std_img = gr.Image(label="standard · last layer a1", type="numpy")
                            dif_img = gr.Image(label="differential · last layer diff", type="numpy")
                        with gr.Row():
                            std_roll = gr.Image(label="standard · rollout", type="numpy")
                            dif_roll = gr.Image(label="differential · rollout", type="numpy")
                        cmp_table = gr.Markdown(elem_id="compare-table")

            with gr.Tab("Model card", id="card"):
                cards = [model_card(main, str(bank.paths["main"]))]
                if bank.compare is not None:
                    cards.append(model_card(bank.compare, str(bank.paths["compare"])))
                gr.Markdown("\n\n---\n\n".join(cards))

        # ------------------------------------------------------------------ events
        analysed = [frames_state, frame_gallery, scores, layer, head, label]
        overlays = [a1_img, a2_img, diff_img, attn_caption]
        attr_out = [attr_img, attr_caption, frames_state]
        analyse_btn.click(on_analyse, [upload], analysed, api_name="analyse_frames").then(
            on_render, [frames_state, layer, head, alpha], overlays).then(
            on_attribution, [frames_state, label, method, alpha, steps], attr_out)
        example_gallery.select(on_example, None, analysed).then(
            on_render, [frames_state, layer, head, alpha], overlays).then(
            on_attribution, [frames_state, label, method, alpha, steps], attr_out)
        frame_gallery.select(on_select, [frames_state], analysed).then(
            on_render, [frames_state, layer, head, alpha], overlays)
        for control in (layer, head, alpha):
            control.change(on_render, [frames_state, layer, head, alpha], overlays, show_progress="hidden")
        explain_btn.click(on_attribution, [frames_state, label, method, alpha, steps], attr_out,
                          api_name="attribution")
        alpha.change(on_attribution, [frames_state, label, method, alpha, steps], attr_out, show_progress="hidden")

        clip_out = [clip_state, timeline, events_table, downloads, overlay_video, clip_gallery, frame_index]
        clip_btn.click(on_clip, [video, fps, cap], clip_out, api_name="analyse_clip")
        clip_gallery.select(on_pick_index, None, frame_index)
        frame_index.release(on_clip_frame, [clip_state, frame_index], timeline)
        open_btn.click(on_open_in_frames, [clip_state, frame_index], [*analysed, tabs]).then(
            on_render, [frames_state, layer, head, alpha], overlays)

        cmp_gallery.select(on_compare_example, None, [cmp_image, cmp_label])
        cmp_btn.click(on_compare, [cmp_image, cmp_label, alpha], [std_img, dif_img, std_roll, dif_roll, cmp_table],
                      api_name="compare")

        # Plain API endpoints for scripts and tests (the UI uses the ones above).
        api_frame = gr.Image(visible=False, type="filepath")
        api_out = gr.JSON(visible=False)
        api_btn = gr.Button(visible=False)
        api_btn.click(_api_frame(main), [api_frame], api_out, api_name="predict_frame")
    return demo


def _api_frame(predictor):
    @gpu
    @plain_errors
    def predict_frame(path):
        """Scores and the last-layer maps of one frame, as JSON (used by scripts and tests)."""
        if not path:
            raise ValueError("no frame given")
        state = frames_view.analyse_frames(predictor, [path])
        a = state.current
        layer = a.num_layers
        a1, a2, diff, _ = frames_view.attention_overlays(a, layer, "mean", 0.5)
        return {
            "scores": {lab: float(p) for lab, p in zip(a.labels, a.probs, strict=True)},
            "thresholds": {lab: float(t) for lab, t in zip(a.labels, a.thresholds, strict=True)},
            "predicted": [lab for lab, p, t in zip(a.labels, a.probs, a.thresholds, strict=True) if p >= t],
            "variant": a.variant,
            "lambda_last_layer": a.lam_value(-1, None),
            "maps": {k: list(v.shape) for k, v in (("a1", a1), ("a2", a2), ("diff", diff)) if v is not None},
        }

    return predict_frame

