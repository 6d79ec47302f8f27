"""What the tabs share: plain error messages, uploaded-file paths, and showing an analysed frame."""

from __future__ import annotations

import functools
import logging
import re

import gradio as gr

from . import frames_view
from .sessions import FOLDERS

log = logging.getLogger(__name__)

OUT_OF_MEMORY = ("the server ran out of memory on this request; try a smaller or shorter file, or fewer at a "
                 "time")


def plain_errors(fn):
    """Turn expected failures into a plain gr.Error message; the server keeps serving."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (ValueError, FileNotFoundError, OSError) as exc:
            message = without_paths(str(exc))
            log.info("request refused: %s", message)  # one line: an expected error, no traceback
            raise gr.Error(message, print_exception=False) from None
        except MemoryError:  # its message is empty: say what happened, and keep serving
            log.warning("request refused: out of memory in %s", fn.__name__)
            raise gr.Error(OUT_OF_MEMORY, print_exception=False) from None

    return wrapper


_PATH = re.compile(r"""(?:[A-Za-z]:)?(?:[\\/][^\\/\s'"]+)+[\\/]([^\\/\s'"]+)""")


def without_paths(message: str) -> str:
    """``message`` with every file path cut to its file name: users see their file's name, never where
    the server keeps it."""
    return _PATH.sub(r"\1", message)


def require_frames(state: frames_view.FramesState | None) -> frames_view.FramesState:
    """The session's analysed frames, or a plain error when nothing has been analysed yet."""
    if state is None or not state.analyses:
        raise ValueError("analyse a frame first: upload frames or pick an example")
    return state


def session_of(request: gr.Request | None) -> str | None:
    """The id of the browser (or client) session a request belongs to."""
    return getattr(request, "session_hash", None)


def release_frames(state: frames_view.FramesState | None) -> None:
    """Remove the crops of a session's analysis (a new analysis replaces it, or its state expired)."""
    if state is not None:
        FOLDERS.release(state.folder)


def analyse_in_session(predictor, files: list, names: list[str] | None, previous: frames_view.FramesState | None,
                       request: gr.Request | None, truths: list | None = None) -> frames_view.FramesState:
    """Analyse frames for a session: the previous analysis goes, the new crops live in a folder of the
    session (removed with it), not in memory. ``truths``: what is known about each frame (or None)."""
    release_frames(previous)
    with FOLDERS.filling(session_of(request), prefix="frames-") as folder:
        return frames_view.analyse_frames(predictor, files, names, folder, truths)


def file_paths(files) -> list[str]:
    """Paths of what a gr.File gave (one file, several, or nothing)."""
    if files is None:
        return []
    if not isinstance(files, (list, tuple)):
        files = [files]
    return [getattr(f, "name", f) for f in files]


def show_frame(state: frames_view.FramesState, index: int):
    """Select analysed frame ``index``: the state, the gallery, the scores, and the layer, head and label
    controls set for it (the outputs listed in ``frames.analysed``)."""
    state.selected = int(index)
    a = state.current
    return (
        state,
        frames_view.gallery_items(state),
        frames_view.scores_for(a, state.truth, state.size),
        gr.update(maximum=a.num_layers, value=a.num_layers),
        gr.update(choices=frames_view.head_choices(a), value="mean"),
        gr.update(value=frames_view.top_label(a)),
    )


def clear_on_failure(event, outputs: list, values: tuple) -> None:
    """After ``event`` fails, put ``values`` in its ``outputs``: the old results go (they no longer match
    the input), and with them Gradio's red "Error" badges; the message itself is gr.Error's toast."""
    event.failure(lambda: values, None, outputs, show_progress="hidden", queue=False, api_visibility="private")


STALE = ("<p class='dc-stale'>Nothing to show: the last request failed (its message is in the corner). "
         "Try another file, or pick an example.</p>")


@plain_errors
def render_attention(state, layer, head, alpha, shared_scale=False):
    """a1, a2 and diff overlays and their caption for the selected frame."""
    state = require_frames(state)
    return frames_view.attention_overlays(state.current, layer, head, alpha, bool(shared_scale), state.mask)
