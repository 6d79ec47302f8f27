"""The Errors tab, an error-analysis workbench: one pass of the main model over a labelled set (the bundled
held-out set or an uploaded zip), then per-label counts at thresholds the user moves (no model run), the
most confident mistakes as the model saw them, a frame opened in the Frames view with its truth, tags of
what caused each mistake, and a report.

Scripting: ``/errors_analyse`` (data choice, zip) analyses a set for the client's session and returns the
per-label table; ``/errors_counts`` (label, threshold) then gives that label's counts at that threshold as
JSON, from the session's pass, without running the model."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from diffclip.error_analysis.tags import CAUSES, tags_csv

from ...callbacks import (
    STALE,
    analyse_in_session,
    clear_on_failure,
    file_paths,
    plain_errors,
    render_attention,
    session_of,
    show_frame,
)
from ...models import gpu
from ...resources import HELDOUT, MAX_FILE_SIZE, MAX_ZIP_FRAMES
from ...sessions import FOLDERS
from ...upload_inputs import UploadedFiles
from ..base import AppContext, Tab
from . import errors_map, errors_research
from . import errors_view as view
from .errors_export import REPORT_TOP, report_zip
from .errors_upload import extract_set

INTRO = ("**Errors.** Run the main model once over a labelled set, then read its mistakes: per-label counts at "
         "thresholds you move (the model does not run again), the most confident false positives and the least "
         "confident false negatives as the model saw them (green: the outline of every lesion the set's masks "
         "mark), a frame opened in the Frames view with its truth, and tags saying what caused each mistake.")
EVIDENCE = ("The bundled held-out set is synthetic (2 videos × 100 frames the demo models never saw) and the demo "
            "model is tiny: what you find here teaches the workflow of error analysis, not how a model fails on "
            "real capsule videos.")
BUNDLED = "Bundled held-out set (synthetic, 2 videos × 100 frames)"
UPLOAD = "Upload a zip"
BUNDLED_NAME = "Bundled held-out set (synthetic)"
BUNDLED_DATA = "demo/heldout"  # what a report calls the bundled set (relative to the app's folder, no server path)
PER_ROW = 6  # threshold sliders per row


def _slug(label: str) -> str:
    return label.replace(" ", "-")


def _release(state: view.ErrorsState | None) -> None:
    """Remove an analysis's folder (a new analysis replaces it, or its state expired)."""
    if state is not None:
        FOLDERS.release(state.folder)


def build(ctx: AppContext) -> None:
    """Lay out the tab and wire its events and its ``/errors_analyse`` and ``/errors_counts`` endpoints."""
    main, labels = ctx.bank.main, ctx.labels
    size = main.pre.image_size
    start = [round(float(t), 4) for t in main.thresholds]

    def views(state: view.ErrorsState, found: dict):
        """Table, summary, both galleries and the selected line for the session's thresholds and label."""
        return view.table_rows(found), view.summary(state, found), *gallery_updates(state), view.selected_line(state)

    def gallery_updates(state: view.ErrorsState):
        """Both galleries for the session's label and thresholds, titled with what they show."""
        view.show_label(state, state.label)
        pictures, titles = view.galleries(state, main), view.gallery_titles(state)
        return tuple(gr.update(value=p, label=t) for p, t in zip(pictures, titles, strict=True))

    @gpu
    @plain_errors
    def on_analyse(source, upload, previous, request: gr.Request = None, progress=gr.Progress(track_tqdm=True)):
        zip_path = (file_paths(upload) or [None])[0] if source == UPLOAD else None
        if source == UPLOAD and not zip_path:
            raise ValueError("upload a zip of a Galar-style set first, or choose the bundled set")
        with FOLDERS.filling(session_of(request), prefix="errors-") as folder:
            data, name = (extract_set(zip_path, folder / "set"), Path(zip_path).name) if zip_path else \
                (HELDOUT, BUNDLED_NAME)
            state = view.analyse_set(main, data, name, folder, previous)
        # the previous analysis goes once this one stands: a request that fails leaves it whole (the page
        # clears its views anyway; an API client keeps using it), and its folder goes with the session
        _release(previous)
        found = view.per_label(state)
        state.label = view.default_label(found)
        view.show_label(state, state.label)
        return (state, view.table_rows(found), view.summary(state, found), state.label,
                view.selected_line(state), view.tag_rows(state), _download(state), None)

    @plain_errors
    def on_galleries(state):
        if state is None:
            return [], []
        return gallery_updates(state)

    @plain_errors
    def on_thresholds(state, *values):
        if state is None:  # nothing analysed yet: the sliders only move
            return (gr.update(),) * len(live)
        view.set_thresholds(state, values)
        return (state, *views(state, view.per_label(state)))

    @plain_errors
    def on_thumb_maps(state, on):
        if state is None:
            return (gr.update(),) * 3
        state.thumb_maps = bool(on)
        return (state, *gallery_updates(state))

    @plain_errors
    def on_label(state, label):
        if state is None:
            return (gr.update(),) * 4
        view.check_label(state, label)
        state.label = label
        return (state, *gallery_updates(state), view.selected_line(state))

    def picker(kind):
        @plain_errors
        def on_pick(state, evt: gr.SelectData):
            if state is None:
                raise ValueError("analyse a set first")
            view.select(state, kind, evt.index)
            return state, view.selected_line(state)

        return on_pick

    @gpu
    @plain_errors
    def on_open_in_frames(state, previous, request: gr.Request = None):
        if state is None:
            raise ValueError("analyse a set first")
        image, name, known = view.open_frame(state, size)
        frames = analyse_in_session(main, [image], [name], previous, request, [known])
        # the mistake's label, not the frame's top score: the attribution drawn next explains that label
        return (*show_frame(frames, 0)[:-1], gr.update(value=state.selected["label"]), gr.Tabs(selected="frames"))

    @plain_errors
    def on_tag(state, cause, note):
        if state is None:
            raise ValueError("analyse a set first")
        view.add_tag(state, cause, note)
        return state, view.tag_rows(state), _download(state), ""

    @gpu
    @plain_errors
    def on_export(state, progress=gr.Progress()):
        if state is None:
            raise ValueError("analyse a set first")
        name = BUNDLED_DATA if Path(state.data) == HELDOUT else state.name
        return str(report_zip(state, main, ctx.bank.paths["main"].name, name,
                              progress=lambda f, d: progress(f, desc=d)))

    @plain_errors
    def errors_counts(state, label, threshold):
        """One label's TP, FP, FN, TN, precision, recall, F1, AP and support at ``threshold`` over the set
        this session analysed with /errors_analyse (the session's other thresholds are left as they are)."""
        if state is None:
            raise ValueError("analyse a set first: call /errors_analyse in this session")
        if threshold is None:
            raise ValueError("the threshold must be a number in [0, 1]")
        return view.counts_at(state, label, threshold)

    gr.Markdown(INTRO, elem_id="errors-intro")
    gr.Markdown(EVIDENCE, elem_id="errors-evidence")
    state = gr.State(None, time_to_live=ctx.session_ttl, delete_callback=_release)
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            source = gr.Radio([BUNDLED, UPLOAD], value=BUNDLED, label="Data", elem_id="errors-source")
            upload = UploadedFiles(label=f"Zip of a Galar-style set (video folders of frame_000000.PNG, Labels/<video>.csv, "
                                   f"masks optional; at most {MAX_ZIP_FRAMES} frames, {MAX_FILE_SIZE})",
                             file_types=[".zip"], height=140, elem_id="errors-upload")
            analyse_btn = gr.Button("Analyse", variant="primary", elem_id="errors-analyse")
        with gr.Column(scale=3):
            summary = gr.Markdown("Choose the data and press **Analyse**: the model runs once over the set, "
                                  "with a progress bar (a session on a set that another has analysed reuses "
                                  "that pass).", elem_id="errors-summary")
            table = gr.Dataframe(headers=list(view.HEADERS), datatype=list(view.DATATYPES), interactive=False,
                                 max_height=900, elem_id="errors-table",
                                 label="Per label, over the frames with known truth (a frame is positive when "
                                       "p ≥ the label's threshold)")
    with gr.Accordion("Thresholds (the counts and galleries follow; the model does not run again)", open=True):
        sliders = []
        for i in range(0, len(labels), PER_ROW):
            with gr.Row():
                sliders += [gr.Slider(0.0, 1.0, value=start[j], step=0.01, label=labels[j], min_width=160,
                                      elem_id=f"errors-threshold-{_slug(labels[j])}", elem_classes="dc-threshold")
                            for j in range(i, min(i + PER_ROW, len(labels)))]
        reset_btn = gr.Button("Reset to the checkpoint's thresholds", size="sm", elem_id="errors-reset")
    with gr.Row():
        label = gr.Dropdown(labels, value=None, label="Label whose mistakes are shown", elem_id="errors-label",
                            scale=3)
        thumb_maps = gr.Checkbox(False, label="Thumbnails show the last-layer attention (read in the model pass: "
                                 "no model run; each on its own colour scale)", elem_id="errors-thumb-maps", scale=2)
    # five a row: wide enough for "video 101 · frame 42 · p=0.91" under each
    fp_gallery, fn_gallery = (
        gr.Gallery(label=title, columns=5, height="auto", fit_columns=False, allow_preview=False,
                   object_fit="contain", interactive=False, elem_id=f"errors-{kind}")
        for kind, title in (("fp", "False positives (most confident first)"),
                            ("fn", "False negatives (least confident first)")))
    selected = gr.Markdown(view.selected_line(None), elem_id="errors-selected")
    with gr.Row():
        open_btn = gr.Button("Open in the Frames view", scale=1, elem_id="errors-open")
        cause = gr.Dropdown(list(CAUSES), value=CAUSES[0], label="Cause", scale=1, elem_id="errors-cause")
        note = gr.Textbox(label="Note (optional)", max_lines=2, scale=2, elem_id="errors-note")
        tag_btn = gr.Button("Tag this mistake", scale=1, elem_id="errors-tag")
    tags_table = gr.Dataframe(headers=list(view.TAG_HEADERS), interactive=False, label="Tags of this session",
                              elem_id="errors-tags")
    with gr.Row():
        download = gr.DownloadButton("Download tags (CSV)", value=None, interactive=False, elem_id="errors-download")
        export_btn = gr.Button("Export report (zip)", elem_id="errors-export")
    report = gr.File(label=f"Report: report.html, errors.json, tags.csv and images/ with the {REPORT_TOP} most "
                           "confident mistakes per label and kind, each explained (the model explains every one: "
                           "the longest step, with a progress bar)", interactive=False, elem_id="errors-report")

    research = errors_research.build_panel()

    @plain_errors
    def on_research(state):
        return errors_research.research_views(state, main)

    @plain_errors
    def on_issue(state, evt: gr.SelectData):
        """A row of the label issues: that frame is selected, and the cause to tag it with is "mislabel"."""
        if state is None:
            raise ValueError("analyse a set first")
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        errors_research.select_issue(state, row)
        return state, view.selected_line(state), "mislabel"

    colour_by, map_picture, map_note, similar_gallery = errors_research.build_map_panel()

    @plain_errors
    def on_map(state, colour):
        """Build the session's map once per analysis (t-SNE, seconds), then draw it as ``colour`` says."""
        if state is None:
            return None, ""
        if state.fmap is None:
            state.fmap = errors_map.build_map(state)
        if state.fmap is None:
            return None, "This pass kept no features: analyse the set again to draw the map."
        note = f"{len(state.fmap.rows)} frames on the map."
        return errors_map.picture(state, state.fmap, "section" if colour == "section" else "outcome"), note

    def similar_views(state, row: int, what: str):
        """The similar frames gallery and its list for ``row`` of the pass."""
        near = errors_map.similar_rows(state, row)
        pictures = errors_map.pictures(state, main, [r for r, _ in near])
        items = [(p, f"{state.mp.video_ids[r]}/{int(state.mp.frames[r])} · cos {sim:.2f}")
                 for p, (r, sim) in zip(pictures, near, strict=True)]
        said = "\n".join([f"**{what}:** {errors_map.describe(state, row)}", "", "**Most similar:**", ""] +
                          [f"{i}. {errors_map.describe(state, r, sim)}" for i, (r, sim) in enumerate(near, 1)])
        return items, said

    @plain_errors
    def on_map_click(state, evt: gr.SelectData):
        """The clicked point: selected for the shown label, its similar frames listed."""
        if state is None or state.fmap is None:
            raise ValueError("analyse a set first")
        row = errors_map.pick(state.fmap, *evt.index[:2])
        if row is None:
            raise ValueError("no frame there: click on a point of the map")
        errors_map.select_row(state, row)
        return state, view.selected_line(state), *similar_views(state, row, "Clicked")

    @plain_errors
    def on_similar(state):
        """The selected mistake's (or label issue's) most similar frames."""
        if state is None or state.selected is None:
            return gr.update(), gr.update()
        m = state.selected
        return similar_views(state, state.mp.where(m["video_id"], m["frame"]), "Selected")

    research[2].select(on_issue, [state], [state, selected, cause], show_progress="hidden",
                       api_visibility="private").success(on_similar, [state], [similar_gallery, map_note],
                                                         show_progress="hidden", api_visibility="private")
    map_inputs = [state, colour_by]
    map_drawn = [map_picture, map_note]
    colour_by.change(on_map, map_inputs, map_drawn, show_progress="hidden", api_visibility="private")
    clicking = map_picture.select(on_map_click, [state], [state, selected, similar_gallery, map_note],
                                  show_progress="hidden", api_visibility="private")
    opening_point = clicking.success(on_open_in_frames, [state, ctx.frames.state],
                                     [*ctx.frames.analysed, ctx.tabs], show_progress="hidden",
                                     api_visibility="private", **ctx.model_work)
    opening_point.success(render_attention, ctx.frames.view, ctx.frames.overlays, show_progress="hidden").success(
        ctx.frames.explain, list(ctx.frames.explain_in), list(ctx.frames.explain_out), show_progress="hidden",
        api_visibility="private", **ctx.model_work)
    analysed = [state, table, summary, label, selected, tags_table, download, report]
    analysing = analyse_btn.click(on_analyse, [source, upload, state], analysed, api_name="errors_analyse",
                                  show_progress_on=[table], **ctx.model_work)
    analysing.success(on_galleries, [state], [fp_gallery, fn_gallery], show_progress="hidden",
                      api_visibility="private").success(on_research, [state], list(research), show_progress="hidden",
                                                        api_visibility="private").success(
        on_map, map_inputs, map_drawn, show_progress="hidden", api_visibility="private")
    clear_on_failure(analysing, [*analysed, fp_gallery, fn_gallery],
                     (None, [], STALE, gr.update(), view.selected_line(None), [],
                      gr.update(value=None, interactive=False), None, [], []))
    # threshold moves and label picks redraw from the session's pass: no model, not in the model's group; a
    # redraw still running is followed by one with the last values, so the newest thresholds always win
    live = [state, table, summary, fp_gallery, fn_gallery, selected]
    gr.on([s.change for s in sliders], on_thresholds, [state, *sliders], live, trigger_mode="always_last",
          show_progress="hidden", api_visibility="private").success(
        errors_research.slice_rows, [state], research[3], show_progress="hidden", api_visibility="private").success(
        on_map, map_inputs, map_drawn, show_progress="hidden", api_visibility="private")
    reset_btn.click(lambda: [gr.update(value=v) for v in start], None, sliders, show_progress="hidden",
                    queue=False, api_visibility="private")
    label.input(on_label, [state, label], [state, fp_gallery, fn_gallery, selected], trigger_mode="always_last",
                show_progress="hidden", api_visibility="private", queue=False).success(
        on_map, map_inputs, map_drawn, show_progress="hidden", api_visibility="private")
    thumb_maps.change(on_thumb_maps, [state, thumb_maps], [state, fp_gallery, fn_gallery], show_progress="hidden",
                      api_visibility="private")
    for gallery, kind in ((fp_gallery, "fp"), (fn_gallery, "fn")):
        gallery.select(picker(kind), [state], [state, selected], show_progress="hidden",
                       api_visibility="private").success(on_similar, [state], [similar_gallery, map_note],
                                                         show_progress="hidden", api_visibility="private")
    frames = ctx.frames
    opening = open_btn.click(on_open_in_frames, [state, frames.state], [*frames.analysed, ctx.tabs],
                             show_progress="hidden", api_visibility="private", **ctx.model_work)
    opening.success(render_attention, frames.view, frames.overlays, show_progress="hidden").success(
        frames.explain, list(frames.explain_in), list(frames.explain_out), show_progress="hidden",
        api_visibility="private", **ctx.model_work)
    tag_btn.click(on_tag, [state, cause, note], [state, tags_table, download, note], show_progress="hidden",
                  api_visibility="private")
    exporting = export_btn.click(on_export, [state], report, api_visibility="private", **ctx.model_work)
    clear_on_failure(exporting, [report], (None,))
    with gr.Row(visible=False):
        api_label, api_threshold, api_out = gr.Textbox(visible=False), gr.Number(visible=False), gr.JSON(visible=False)
        api_btn = gr.Button(visible=False)
    # counts at a threshold read the session's state and run no model: outside the queue, so that a queue
    # full of model work never answers them "busy"
    api_btn.click(errors_counts, [state, api_label, api_threshold], api_out, api_name="errors_counts", queue=False)


def _download(state: view.ErrorsState | None):
    """The download button: the session's tags as CSV in its folder, or disabled while there are none."""
    if state is None or not state.tags or state.folder is None:
        return gr.update(value=None, interactive=False)
    path = state.folder / "tags.csv"
    path.write_text(tags_csv(state.tags.values()), encoding="utf-8")
    return gr.update(value=str(path), interactive=True)


TAB = Tab("errors", "Errors", build)
