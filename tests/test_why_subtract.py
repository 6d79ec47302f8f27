"""The Noise lab's 'Why subtract?' explainer: its numbers against the closed form restated here by hand, its
picture, its refusals and its place outside the app's API."""

from __future__ import annotations

import re

import gradio as gr
import numpy as np
import pytest

from demo.tabs.noise_lab import why_subtract as why

LAMBDAS = (0.0, 0.3, 0.5, 0.8, 1.0)


def hand_snr(s1: float, c: float, e: float, s2: float, lam: float) -> tuple[float, float]:
    """Closed form, independent of the module: a1 = s1 U(S) + c U(C) + e U(E1), a2 = s2 U(S) + c2 U(C) +
    e U(E2) with c2 = 1 - s2 - e. E1 and E2 are disjoint, so their noise adds: e + lam e."""
    c2 = 1 - s2 - e
    return s1 / (c + e), abs(s1 - lam * s2) / (abs(c - lam * c2) + e + lam * e)


def shown_snr(text: str) -> tuple[float, float]:
    """The 'a1 X → a1 − λ·a2 Y' numbers the caption shows."""
    m = re.search(r"a1 (\d+\.\d\d) → a1 − λ·a2 (\d+\.\d\d)", text)
    assert m, text
    return float(m.group(1)), float(m.group(2))


@pytest.mark.parametrize("name", sorted(why.PRESETS))
@pytest.mark.parametrize("lam", LAMBDAS)
def test_snr_matches_closed_form(name, lam):
    p = why.PRESETS[name]
    before, after = hand_snr(p.s1, p.c, p.e, p.s2, lam)
    r = why.rows(p, lam)
    assert why.snr(r["a1"], why.SIGNAL) == pytest.approx(before, abs=1e-9)
    assert why.snr(r["diff"], why.SIGNAL) == pytest.approx(after, abs=1e-9)
    assert shown_snr(why.caption(name, lam)) == (round(before, 2), round(after, 2))


def test_literal_values():
    # common (s1 = c = 0.45, e = 0.10, s2 = 0, c2 = 0.90) at lam = 0.5:
    #   signal |0.45 - 0.5*0| = 0.45; common |0.45 - 0.5*0.90| = 0; own noise 0.10 + 0.05 = 0.15 -> 0.45/0.15 = 3
    #   before: 0.45 / (0.45 + 0.10) = 0.8181...
    r = why.rows(why.PRESETS["common"], 0.5)
    assert why.snr(r["diff"], why.SIGNAL) == pytest.approx(3.0, abs=1e-9)
    assert why.snr(r["a1"], why.SIGNAL) == pytest.approx(9 / 11, abs=1e-9)
    # shared_signal (s2 = 0.40, c2 = 0.50) at lam = 0.5:
    #   signal 0.45 - 0.20 = 0.25; common 0.45 - 0.25 = 0.20; own 0.15 -> 0.25 / 0.35 = 5/7 = 0.714...
    r = why.rows(why.PRESETS["shared_signal"], 0.5)
    assert why.snr(r["diff"], why.SIGNAL) == pytest.approx(5 / 7, abs=1e-9)
    # common at lam = 1: signal 0.45; common |0.45 - 0.90| = 0.45; own 0.20 -> 0.45 / 0.65 = 9/13
    r = why.rows(why.PRESETS["common"], 1.0)
    assert why.snr(r["diff"], why.SIGNAL) == pytest.approx(9 / 13, abs=1e-9)
    text = why.caption("shared_signal", 0.5)
    assert "a1 0.82 → a1 − λ·a2 0.71" in text and "signal 56%" in text and "common noise 44%" in text


@pytest.mark.parametrize("name", sorted(why.PRESETS))
@pytest.mark.parametrize("lam", LAMBDAS)
def test_rows_sum_and_shape(name, lam):
    r = why.rows(why.PRESETS[name], lam)
    assert set(r) == {"a1", "lam_a2", "diff"}
    for v in r.values():
        assert v.dtype == np.float64 and v.shape == (why.N,)
    assert r["a1"].sum() == pytest.approx(1.0, abs=1e-12) and r["a1"].min() >= 0
    assert r["lam_a2"].sum() == pytest.approx(lam, abs=1e-12) and r["lam_a2"].min() >= 0
    np.testing.assert_allclose(r["diff"], r["a1"] - r["lam_a2"], atol=0)


def test_common_preset_improves_up_to_cancellation():
    p = why.PRESETS["common"]
    grid = np.linspace(0, p.c / p.c2, 11)
    values = [why.snr(why.rows(p, lam)["diff"], why.SIGNAL) for lam in grid]
    assert (np.diff(values) > 0).all(), values
    past = why.snr(why.rows(p, 1.0)["diff"], why.SIGNAL)
    assert past < values[-1]  # overshooting makes the distractors negative: noise again
    assert "signal 100% of a1's" in why.caption("common", 0.5) and "common noise 0%" in why.caption("common", 0.5)


def test_shared_signal_loses_signal():
    p = why.PRESETS["shared_signal"]
    a1_signal = why.rows(p, 0.0)["a1"][list(why.SIGNAL)].sum()
    for lam in LAMBDAS[1:]:
        d = why.rows(p, lam)["diff"]
        kept = np.abs(d[list(why.SIGNAL)]).sum() / a1_signal
        assert kept == pytest.approx(abs(p.s1 - lam * p.s2) / p.s1, abs=1e-12) and kept < 1
        assert why.snr(d, why.SIGNAL) < why.snr(why.rows(p, 0.0)["a1"], why.SIGNAL)
    text = why.caption("shared_signal", 0.5)
    assert "removes signal" in text and "measured below" in text and "Ye et al., ICLR 2025" in text


def test_snr_inf_without_noise():
    row = np.zeros(why.N)
    row[list(why.SIGNAL)] = 1 / len(why.SIGNAL)
    assert why.snr(row, why.SIGNAL) == float("inf")


def test_figure_is_rgb():
    for title in why.BY_TITLE:
        image = why.figure(title, 0.5)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert 300 <= image.shape[0] <= 700 and 800 <= image.shape[1] <= 1200
        assert image.std() > 10  # something is drawn


@pytest.mark.parametrize("lam", [1.5, -0.1, float("nan"), "a lot"])
def test_on_change_refuses_bad_lambda(lam):
    with pytest.raises(gr.Error, match="λ must be"):
        why.on_change(why.PRESETS["common"].title, lam)


def test_on_change_refuses_unknown_preset():
    with pytest.raises(gr.Error, match="Unknown example"):
        why.on_change("no such example", 0.5)


def test_on_change_returns_picture_and_caption():
    image, text = why.on_change(why.PRESETS["shared_signal"].title, 0.3)
    assert image.dtype == np.uint8 and "λ = 0.30" in text


def test_build_stays_out_of_the_api():
    with gr.Blocks() as demo:
        why.build()
    ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    assert {"why-subtract", "why-preset", "why-lambda", "why-figure", "why-caption"} <= ids
    assert demo.fns, "the accordion wires its redraw event"
    assert all(fn.api_visibility == "private" for fn in demo.fns.values())
    info = demo.get_api_info(all_endpoints=True)
    assert info["named_endpoints"] == {} and info["unnamed_endpoints"] == {}
