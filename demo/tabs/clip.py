"""The Clip tab: a short video sampled, scored frame by frame, turned into RARE-VISION events, with an
overlay video, a timeline and downloads."""

from __future__ import annotations

import gradio as gr

from .. import clip_view
from ..callbacks import (
    analyse_in_session,
    clear_on_failure,
    plain_errors,
    render_attention,
    session_of,
    show_frame,
    without_paths,
)
from ..models import gpu
from ..resources import MAX_CLIP_FRAMES, example_clip
from ..sessions import FOLDERS
from .base import AppContext, Tab


def build(ctx: AppContext) -> None:
    main, labels = ctx.bank.main, ctx.labels

    @gpu
    @plain_errors
    def on_clip(video, fps, cap, previous, request: gr.Request, progress=gr.Progress()):
        _release(previous)  # the browser has its own copies of the last clip's files (Gradio's cache)
        result = clip_view.analyse_clip(main, video, fps, cap, progress=lambda f, d: progress(f, desc=d),
                                        session=session_of(request))
        for warning in result.warnings:
            gr.Warning(without_paths(warning))
        gallery = [(str(img), f"frame {int(n)}") for img, n in zip(result.images, result.frames, strict=True)]
        files = [str(result.files[k]) for k in ("events", "probs", "overlay")]
        return (result, str(result.files["timeline"]), clip_view.events_rows(result, labels), files,
                str(result.files["overlay"]), gallery, gr.update(maximum=len(result.frames) - 1, value=0))

    @plain_errors
    def on_clip_frame(result, index):
        if result is None:
            raise ValueError("analyse a clip first")
        from diffclip.timeline import timeline_figure
        from explain.overlay import figure_to_rgb

        i = int(index)
        fig = timeline_figure(result.frames, result.probs, main.thresholds, result.active, labels,
                              title=f"clip {result.video_id} · frame {int(result.frames[i])}",
                              marker=int(result.frames[i]))
        return figure_to_rgb(fig)

    @gpu
    @plain_errors
    def on_open_in_frames(result, index, previous, request: gr.Request):
        if result is None:
            raise ValueError("analyse a clip first")
        i = int(index)
        state = analyse_in_session(main, [result.image(i)], [f"{result.video_id} frame {int(result.frames[i])}"],
                                   previous, request)
        return (*show_frame(state, 0), gr.Tabs(selected="frames"))

    clip_state = gr.State(None, time_to_live=ctx.session_ttl, delete_callback=_release)
    with gr.Row():
        with gr.Column(scale=1):
            video = gr.Video(label="Upload a clip (MP4, AVI, MKV, WebM)", sources=["upload"], elem_id="clip-upload")
            clip_ex = example_clip()
            if clip_ex is not None:
                gr.Examples([[str(clip_ex)]], inputs=[video], label="Example clip (synthetic)")
            fps = gr.Slider(0.5, 30, value=5, step=0.5, label="Sample frames per second")
            cap = gr.Slider(10, MAX_CLIP_FRAMES, value=200, step=10, label="At most this many frames")
            clip_btn = gr.Button("Analyse clip", variant="primary", elem_id="clip-btn")
        with gr.Column(scale=2):
            overlay_video = gr.Video(label="Overlay (last-layer attention, predicted labels)", interactive=False,
                                     elem_id="overlay-video")
    timeline = gr.Image(label="Timeline: per-label probability, thresholds, events", type="filepath",
                        elem_id="timeline")
    with gr.Row():
        frame_index = gr.Slider(0, 1, value=0, step=1, label="Sampled frame", elem_id="clip-frame")
        open_btn = gr.Button("Open this frame in the Frames view")
    clip_gallery = gr.Gallery(label="Sampled frames (click one)", columns=10, height=180, allow_preview=False)
    events_table = gr.Dataframe(headers=["start", "end", "frames", "labels (mean probability)"],
                                label="Events (RARE-VISION label sets)", interactive=False, elem_id="events-table")
    downloads = gr.File(label="Downloads: events JSON, per-frame CSV, overlay MP4", file_count="multiple",
                        interactive=False, elem_id="downloads")

    clip_out = [clip_state, timeline, events_table, downloads, overlay_video, clip_gallery, frame_index]
    analysing = clip_btn.click(on_clip, [video, fps, cap, clip_state], clip_out, api_name="analyse_clip",
                               **ctx.model_work)
    clear_on_failure(analysing, clip_out, (None, None, [], None, None, [], gr.update()))
    clip_gallery.select(_picked_index, None, frame_index)
    frame_index.release(on_clip_frame, [clip_state, frame_index], timeline, show_progress="hidden")
    frames_state = ctx.shared["frames.analysed"][0]
    open_btn.click(on_open_in_frames, [clip_state, frame_index, frames_state], [*ctx.shared["frames.analysed"], ctx.tabs],
                   show_progress="hidden", **ctx.model_work).success(
        render_attention, ctx.shared["frames.view"], ctx.shared["frames.overlays"], show_progress="hidden")


def _release(result: clip_view.ClipResult | None) -> None:
    """Remove a clip analysis's folder (when the session analyses another clip or its state expires)."""
    if result is not None:
        FOLDERS.release(result.folder)


def _picked_index(evt: gr.SelectData) -> int:
    return evt.index


CLIP = Tab("clip", "Clip", build)
