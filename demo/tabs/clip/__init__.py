"""The Clip tab: a short video sampled, scored frame by frame, turned into RARE-VISION events, with an
overlay video, a timeline, the ground truth and its temporal mAP when a truth JSON is given, and
downloads."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from diffclip.timeline import DPI, WIDTH_IN, sample_at
from diffclip.video import VIDEO_SUFFIXES

from ...callbacks import (
    analyse_in_session,
    clear_on_failure,
    file_paths,
    plain_errors,
    render_attention,
    session_of,
    show_frame,
    without_paths,
)
from ...models import gpu
from ...resources import MAX_CLIP_FRAMES, example_clip
from ...sessions import FOLDERS
from ...upload_inputs import UploadedFiles
from ..base import AppContext, Tab
from . import clip_view
from .clip_preview import make_preview
from .clip_truth import score_rows, score_summary

EVENTS_HELP = (
    "Each row is one RARE-VISION event: a run of sampled frames with the same set of active labels (the JSON "
    "download holds them). A label is *active by its own probability* when, on at least one of the event's "
    "frames, it reaches its threshold (\"(3 of 8)\": on 3 of the event's 8 frames); it is *active only through "
    "smoothing or gap filling* when its probability stays below its threshold on all of them and the median "
    "filter or the gap filling switched it on. Numbers are mean probabilities over the event's frames.")
VIDEO_TYPES = sorted(VIDEO_SUFFIXES)
SCORE_HEADERS = ["label", "truth events", "predicted events", "AP @ tIoU 0.5", "AP @ tIoU 0.95", "note"]


def build(ctx: AppContext) -> None:
    main, labels = ctx.bank.main, ctx.labels
    thresholds = main.thresholds

    @gpu
    @plain_errors
    def on_clip(video, fps, cap, truth=None, previous=None, request: gr.Request = None, progress=gr.Progress()):
        _release(previous)  # the browser has its own copies of the last clip's files (Gradio's cache)
        truth_path = (file_paths(truth) or [None])[0]
        result = clip_view.analyse_clip(main, video, fps, cap, progress=lambda f, d: progress(f, desc=d),
                                        session=session_of(request), truth_file=truth_path)
        for warning in result.warnings:
            gr.Warning(without_paths(warning))
        gallery = [(str(img), f"frame {int(n)}" + (" ⚠ not capsule-like" if ok is False else ""))
                   for img, n, ok in zip(result.images, result.frames, result.in_distribution, strict=True)]
        files = [str(result.files[k]) for k in ("events", "probs", "overlay")]
        return (result, clip_view.timeline_image(result, 0),
                clip_view.events_rows(result, labels, thresholds), files, str(result.files["overlay"]), gallery,
                _frame_slider(len(result.frames)))

    def on_details(result):
        """The notes on what was analysed, and the truth's scores (after an analysis or a new truth file)."""
        if result is None:
            return "", "", gr.update(value=[], visible=False)
        summary, rows = "", []
        try:
            scores = result.scores(labels)
            if scores is not None:
                summary, rows = score_summary(scores, labels), score_rows(scores, labels)
        except ValueError as exc:
            summary = f"**No temporal mAP**: {without_paths(str(exc))}"
        return clip_view.notes(result), summary, gr.update(value=rows, visible=bool(rows))

    def on_truth(result, truth, index):
        """A truth file given or removed after the analysis: redraw the timeline, rescore; a bad file is said
        in one line in the truth panel (the analysis stays)."""
        if result is None:
            return result, gr.update(), "", "", gr.update(value=[], visible=False)
        error = ""
        try:
            result.truth = clip_view.truth_for(result, (file_paths(truth) or [None])[0], labels)
        except ValueError as exc:
            result.truth, error = None, f"**Ground truth not used**: {without_paths(str(exc))}"
        try:
            clip_view.draw_timeline(result, thresholds, labels)
        except FileNotFoundError:  # a new analysis released this one's folder meanwhile: it replaces this one
            return result, gr.update(), gr.update(), gr.update(), gr.update()
        image = clip_view.timeline_image(result, _index(result, index))
        notes, summary, table = on_details(result)
        return result, image, notes, error or summary, table

    @plain_errors
    def on_clip_frame(result, index):
        if result is None:
            raise ValueError("analyse a clip first")
        return clip_view.timeline_image(result, _index(result, index))

    def on_timeline_click(result, evt: gr.SelectData):
        """A click on the timeline picks the sampled frame nearest to it (the slider follows, and with it
        the marker)."""
        if result is None or not isinstance(evt.index, (list, tuple)):
            return gr.update()
        cov = result.coverage
        return sample_at(float(evt.index[0]), WIDTH_IN * DPI, result.frames, cov.frame_count if cov else None)

    @gpu
    @plain_errors
    def on_open_in_frames(result, index, previous, request: gr.Request):
        if result is None:
            raise ValueError("analyse a clip first")
        i = int(index)
        state = analyse_in_session(main, [result.image(i)], [f"{result.video_id} frame {int(result.frames[i])}"],
                                   previous, request)
        return (*show_frame(state, 0), gr.Tabs(selected="frames"))

    def on_upload(path, previous, request: gr.Request = None):
        """A playable preview of the uploaded clip (the file itself, or a re-encoding) and what it is."""
        _release_preview(previous)
        if not path:
            return None, "", None
        try:
            with FOLDERS.filling(session_of(request), prefix="preview-") as folder:
                shown = make_preview(path, folder)
        except ValueError as exc:  # unreadable: the analysis says so again, with the same words
            return None, f"**No preview**: {without_paths(str(exc))}", None
        if shown.path is None or Path(shown.path) == Path(path):
            FOLDERS.release(folder)
            folder = None
        return (str(shown.path) if shown.path else None), shown.note, folder

    clip_state = gr.State(None, time_to_live=ctx.session_ttl, delete_callback=_release)
    preview_state = gr.State(None, time_to_live=ctx.session_ttl, delete_callback=_release_preview)
    with gr.Row():
        with gr.Column(scale=1):
            # a file input, not a player: a player shows a red "Error" for containers browsers do not play
            # (AVI, MKV), although the analysis reads them; the preview below is always playable
            video = UploadedFiles(label="Upload a clip (MP4, AVI, MKV, WebM, MOV)", file_types=VIDEO_TYPES,
                            elem_id="clip-upload", height=90)
            preview = gr.Video(label="Preview", interactive=False, elem_id="clip-preview", height=200)
            preview_note = gr.Markdown(elem_id="clip-preview-note")
            truth_file = UploadedFiles(label="Ground truth (optional): RARE-VISION events JSON of this clip",
                                 file_types=[".json"], elem_id="clip-truth", height=90)
            clip_ex = example_clip()
            if clip_ex is not None:
                ex_truth = clip_ex.with_name("clip_ground_truth.json")
                gr.Examples([[str(clip_ex), str(ex_truth) if ex_truth.is_file() else None]], inputs=[video, truth_file],
                            label="Example (one click fills both)", elem_id="clip-example",
                            example_labels=["Synthetic clip, 10 s, with its ground truth JSON"])
            fps = gr.Slider(0.5, 30, value=5, step=0.5, label="Sample frames per second")
            cap = gr.Slider(10, MAX_CLIP_FRAMES, value=200, step=10, label="At most this many frames")
            clip_btn = gr.Button("Analyse clip", variant="primary", elem_id="clip-btn")
        with gr.Column(scale=2):
            overlay_video = gr.Video(label="Overlay (last-layer attention, predicted labels)", interactive=False,
                                     elem_id="overlay-video")
            gr.Markdown(clip_view.overlay_legend(main.model.attention_semantics.signed), elem_id="overlay-legend")
    notes = gr.Markdown(elem_id="clip-notes")
    gr.Markdown("Pick a frame by clicking the timeline or a thumbnail, or with the slider: the orange line on "
                "the timeline marks it.", elem_id="timeline-help")
    # no block label: Gradio draws it over the picture's top-left corner, where the title is
    timeline = gr.Image(label="Timeline", show_label=False, type="filepath", elem_id="timeline", interactive=False)
    with gr.Row():
        frame_index = gr.Slider(0, 1, value=0, step=1, label="Sampled frame (the orange line on the timeline)",
                                elem_id="clip-frame")
        open_btn = gr.Button("Open this frame in the Frames view", elem_id="clip-open")
    clip_gallery = gr.Gallery(label="Sampled frames (click one)", columns=10, height=180, fit_columns=False, allow_preview=False,
                              object_fit="contain", elem_id="clip-gallery")
    events_table = gr.Dataframe(headers=clip_view.EVENT_HEADERS, label="Events (RARE-VISION label sets)",
                                interactive=False, elem_id="events-table", wrap=True)
    gr.Markdown(EVENTS_HELP, elem_id="events-help")
    truth_summary = gr.Markdown(elem_id="clip-truth-summary")
    truth_table = gr.Dataframe(headers=SCORE_HEADERS, label="Per-label temporal AP of this clip (challenge rule)",
                               interactive=False, visible=False, elem_id="clip-truth-map")
    downloads = gr.File(label="Downloads: events JSON, per-frame CSV, overlay MP4", file_count="multiple",
                        interactive=False, elem_id="downloads")

    clip_out = [clip_state, timeline, events_table, downloads, overlay_video, clip_gallery, frame_index]
    details = [notes, truth_summary, truth_table]
    video.change(on_upload, [video, preview_state], [preview, preview_note, preview_state], show_progress="minimal",
                 api_visibility="private")
    analysing = clip_btn.click(on_clip, [video, fps, cap, truth_file, clip_state], clip_out, api_name="analyse_clip",
                               **ctx.model_work)
    analysing.success(on_details, [clip_state], details, show_progress="hidden", api_visibility="private")
    clear_on_failure(analysing, clip_out + details,
                     (None, None, [], None, None, [], gr.update(), "", "", gr.update(value=[], visible=False)))
    truth_file.change(on_truth, [clip_state, truth_file, frame_index], [clip_state, timeline, *details],
                      show_progress="hidden", api_visibility="private")
    # the slider is the one place the selected frame lives: the gallery and the timeline set it, and each
    # change of it redraws the marker, so slider and marker always agree
    clip_gallery.select(_picked_index, None, frame_index, api_visibility="private")
    timeline.select(on_timeline_click, [clip_state], frame_index, api_visibility="private")
    frame_index.change(on_clip_frame, [clip_state, frame_index], timeline, show_progress="hidden",
                       trigger_mode="always_last", api_visibility="private")
    frames = ctx.frames
    open_btn.click(on_open_in_frames, [clip_state, frame_index, frames.state], [*frames.analysed, ctx.tabs],
                   show_progress="hidden", **ctx.model_work).success(
        render_attention, frames.view, frames.overlays, show_progress="hidden").success(
        frames.explain, list(frames.explain_in), list(frames.explain_out), show_progress="hidden",
        api_visibility="private", **ctx.model_work)


def _frame_slider(n: int):
    """The sampled-frame slider for ``n`` frames: Gradio refuses a slider whose maximum is its minimum, so one
    frame gets 0-1, fixed at 0."""
    return gr.update(maximum=max(1, n - 1), value=0, interactive=n > 1)


def _index(result: clip_view.ClipResult, index) -> int:
    return min(max(int(index or 0), 0), len(result.frames) - 1)


def _release(result: clip_view.ClipResult | None) -> None:
    """Remove a clip analysis's folder (when the session analyses another clip or its state expires)."""
    if result is not None:
        FOLDERS.release(result.folder)


def _release_preview(folder) -> None:
    """Remove a re-encoded preview's folder (a new upload, or the session's end)."""
    if folder is not None:
        FOLDERS.release(folder)


def _picked_index(evt: gr.SelectData) -> int:
    return evt.index


TAB = Tab("clip", "Clip", build)
