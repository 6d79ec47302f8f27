"""The Gradio interface: the registered tabs (demo/tabs) around a shared header, and the plain JSON
endpoint for scripts. Endpoint names are a stable scripting API (README, "Scripting the app")."""

from __future__ import annotations

import gradio as gr

from . import frames_view, glossary
from .callbacks import plain_errors, session_of
from .model_card import WARNING
from .models import ModelBank, gpu
from .resources import examples
from .sessions import FOLDERS
from .study_note import study_verdict
from .tabs import TABS, AppContext
from .upload_inputs import FramePath


def intro() -> str:
    """The page's header: what differential attention is designed to do, and (from docs/noise-study.json,
    read now) what this project measured on its own models."""
    return ("# DiffCLIP-VCE · what does the capsule model look at?\n"
            "Multi-label classification of video capsule endoscopy frames with **differential attention**: two "
            "softmax maps, one subtracted from the other, a design meant to cancel attention noise (Ye et al., "
            f"Differential Transformer, ICLR 2025); {study_verdict()} (Noise lab). Upload frames or a clip, read "
            "the per-label scores, and compare both softmax maps, their difference and Captum attributions.\n")


#: The scripting API, the README's table ("Scripting the app"); every other event is the UI's own, hidden from
#: the API's page and from gradio_client (tests/test_app.py compares the three).
ENDPOINTS = ("predict_frame", "analyse_frames", "attribution", "analyse_clip", "compare", "errors_analyse",
             "errors_counts", "noise_lab")


def build_demo(bank: ModelBank, concurrency: int = 2, session_ttl: float = 3600.0) -> gr.Blocks:
    """Build the Blocks app for the models in ``bank``: at most ``concurrency`` model-bound events run at
    once (all endpoints together); a session's state, its files and Gradio's cached uploads and results
    go ``session_ttl`` seconds after their last use (docs/design.md, "Serving many users")."""
    if concurrency < 1 or session_ttl <= 0:
        raise ValueError(f"concurrency must be >= 1 and session_ttl > 0, got {concurrency} and {session_ttl}")
    ctx = AppContext(bank, examples(), concurrency=concurrency, session_ttl=session_ttl)
    sweep = max(1, int(min(600, session_ttl / 2)))
    with gr.Blocks(title="DiffCLIP-VCE", delete_cache=(sweep, max(1, int(session_ttl)))) as demo:
        gr.Markdown(intro())
        gr.Markdown(WARNING, elem_classes=["dc-warning"])
        with gr.Tabs() as tabs:
            ctx.tabs = tabs
            for tab in TABS:
                with gr.Tab(tab.title, id=tab.id):
                    tab.build(ctx)
                    if tab.id != "words":  # the Words and docs tab is the glossary itself
                        glossary.accordion(tab.id)
        # A plain JSON endpoint for scripts and tests (the UI uses the tabs' endpoints).
        api_frame = FramePath(visible=False, type="filepath")
        api_out = gr.JSON(visible=False)
        api_btn = gr.Button(visible=False)
        api_btn.click(predict_frame_endpoint(bank.main), [api_frame], api_out, api_name="predict_frame",
                      **ctx.model_work)

        async def on_unload(request: gr.Request) -> None:
            # async: it runs on the event loop, like Gradio's own sweep of expired state, never beside it
            end_session(demo, session_of(request))

        demo.unload(on_unload)
    for fn in demo.fns.values():  # the UI's own events are not part of the scripting API
        if fn.api_name not in ENDPOINTS:
            fn.api_visibility = "private"
    return demo


def end_session(demo: gr.Blocks, session: str | None) -> None:
    """The browser tab closed (or the client went): remove the session's files and its state now, rather
    than after Gradio's hour of grace for reconnecting (a reload starts a new session anyway)."""
    FOLDERS.end(session)
    holder = getattr(demo, "state_holder", None)
    if session and holder is not None and session in holder:
        holder.delete_state(session)  # calls each state's delete callback


def predict_frame_endpoint(predictor):
    """``/predict_frame``: scores, thresholds, predicted labels, last-layer map shapes and the
    out-of-distribution verdict (``in_distribution``: true, false or null without statistics) of one frame."""

    @gpu
    @plain_errors
    def predict_frame(path):
        """Scores and the last-layer maps of one frame, as JSON (used by scripts and tests)."""
        if not path:
            raise ValueError("no frame given")
        state = frames_view.analyse_frames(predictor, [path])
        a = state.current
        a1, a2, diff, _ = frames_view.attention_overlays(a, a.num_layers, "mean", 0.5)
        return {
            "scores": {lab: float(p) for lab, p in zip(a.labels, a.probs, strict=True)},
            "thresholds": {lab: float(t) for lab, t in zip(a.labels, a.thresholds, strict=True)},
            "predicted": [lab for lab, p, t in zip(a.labels, a.probs, a.thresholds, strict=True) if p >= t],
            "variant": a.variant,
            "lambda_last_layer": a.lam_value(-1, None),
            "maps": {k: list(v.shape) for k, v in (("a1", a1), ("a2", a2), ("diff", diff)) if v is not None},
            **a.ood_dict(),
        }

    return predict_frame
