"""Stopping a long explanation frees the worker (issue 34, point 3): the Stop button's session is written on
a board that the explanation's progress callback checks after every batch of model passes; Gradio's own
``cancels`` only drops the result. Progress counts points on the path or occluded windows."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from demo.stopping import StopBoard, Stopped


def test_the_board_stops_only_the_session_that_asked_and_only_once():
    board = StopBoard()
    board.ask("a")
    board.check("b")  # another session runs on
    with pytest.raises(Stopped, match="cancelled before it finished"):
        board.check("a")
    board.check("a")  # the request is used up: the next computation runs
    board.ask("a")
    board.clear("a")  # a new computation starts: an earlier request does not stop it
    board.check("a")
    late = StopBoard(ttl=0.0)
    late.ask("a")
    late.check("a")  # an expired request is forgotten
    board.ask(None)
    board.check(None)


def test_progress_counts_points_and_windows():
    from demo.frames_view import progress_steps

    assert progress_steps("Integrated Gradients", 64) == (64, "points at most")
    assert progress_steps("NoiseTunnel (SmoothGrad IG)", 32) == (4 * 32, "points at most")  # 4 copies by default
    # occlusion, 32 px windows with a 16 px stride over 224 px: 13 x 13 windows and the unoccluded frame
    assert progress_steps("Occlusion", 64) == (13 * 13 + 1, "windows")
    assert progress_steps("Saliency", 64) == (None, None)


def test_stop_ends_a_running_explanation_at_its_next_progress_report():
    from demo.models import ModelBank
    from demo.resources import COMPARE_CHECKPOINT, DEFAULT_CHECKPOINT, examples
    from demo.ui import build_demo

    demo = build_demo(ModelBank(DEFAULT_CHECKPOINT, COMPARE_CHECKPOINT, "cpu", "fp32"))
    fns = {getattr(f.fn, "__name__", None): f.fn for f in demo.fns.values()}
    analyse = next(f.fn for f in demo.fns.values() if f.api_name == "analyse_frames")
    attribution = next(f.fn for f in demo.fns.values() if f.api_name == "attribution")
    me, other = SimpleNamespace(session_hash="me"), SimpleNamespace(session_hash="other")
    state = analyse([str(examples()[0].image)], None, me)[0]
    reports = []

    def progress(value, desc=None, unit=None):
        reports.append((value, desc, unit))
        if len(reports) == 1:  # the user presses Stop while the first points are being computed
            fns["on_stop"](me)
            fns["on_stop"](other)  # another session's Stop does not reach this one: checked below

    with pytest.raises(Stopped):
        attribution(state, "blood", "NoiseTunnel (SmoothGrad IG)", 0.5, 256, "signed", me, progress)
    assert len(reports) == 1  # stopped at the next report: 1 of at most 4 x 256 points' reports
    assert reports[0][1] == "NoiseTunnel (SmoothGrad IG)" and reports[0][2] == "points at most"
    done, total = reports[0][0]
    assert total == 4 * 256 and 0 < done < total
    # the next explanation of the session runs to the end; the other session's request is still waiting
    img, caption, _ = attribution(state, "blood", "Integrated Gradients", 0.5, 64, "signed", me, lambda *a, **k: None)
    assert img is not None and "points on the path" in caption
