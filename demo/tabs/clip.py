"""The Clip tab: a short video sampled, scored frame by frame, turned into RARE-VISION events, with an
overlay video, a timeline and downloads."""

from __future__ import annotations

import gradio as gr

from .. import clip_view, frames_view
from ..callbacks import plain_errors, render_attention, show_frame, without_paths
from ..models import gpu
from ..resources import MAX_CLIP_FRAMES, example_clip
from .base import AppContext, Tab


def build(ctx: AppContext) -> None:
    main, labels = ctx.bank.main, ctx.labels

    @gpu
    @plain_errors
    def on_clip(video, fps, cap, progress=gr.Progress()):
        result = clip_view.analyse_clip(main, video, fps, cap, progress=lambda f, d: progress(f, desc=d))
        for warning in result.warnings:
            gr.Warning(without_paths(warning))
        gallery = [(img, f"frame {int(n)}") for img, n in zip(result.images, result.frames, strict=True)]
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
    def on_open_in_frames(result, index):
        if result is None:
            raise ValueError("analyse a clip first")
        i = int(index)
        state = frames_view.analyse_frames(main, [result.images[i]], [f"{result.video_id} frame {int(result.frames[i])}"])
        return (*show_frame(state, 0), gr.Tabs(selected="frames"))

    clip_state = gr.State(None)
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
    clip_btn.click(on_clip, [video, fps, cap], clip_out, api_name="analyse_clip")
    clip_gallery.select(_picked_index, None, frame_index)
    frame_index.release(on_clip_frame, [clip_state, frame_index], timeline)
    open_btn.click(on_open_in_frames, [clip_state, frame_index], [*ctx.shared["frames.analysed"], ctx.tabs]).then(
        render_attention, ctx.shared["frames.view"], ctx.shared["frames.overlays"])


def _picked_index(evt: gr.SelectData) -> int:
    return evt.index


CLIP = Tab("clip", "Clip", build)
