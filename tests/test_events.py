import numpy as np
import pytest

from diffclip.events import label_events, label_set_events
from diffclip.postprocess import (
    PostProcess,
    drop_short_runs,
    median_filter_binary,
    merge_gaps,
    postprocess,
    runs,
)


def b(s):
    return np.array([c == "1" for c in s])


def s(a):
    return "".join("1" if x else "0" for x in a)


def test_runs():
    assert runs(b("0110011101")) == [(1, 2), (5, 7), (9, 9)]
    assert runs(b("")) == [] and runs(b("000")) == []


def test_median_filter_window_7():
    # an isolated 1 and a 3-wide blip vanish (majority of 7 needs 4); a 4-wide run survives,
    # shrunk at neither end because its neighbours outvote only at the edges of the window
    assert s(median_filter_binary(b("0001000000"), 7)) == "0000000000"
    assert s(median_filter_binary(b("0011100000"), 7)) == "0000000000"
    assert s(median_filter_binary(b("0001111000000"), 7)) == "0001111000000"
    # a single 0 inside a run of 1s is filled
    assert s(median_filter_binary(b("1111101111"), 7)) == "1111111111"
    # the ends mirror the sequence (scipy's default "reflect", as the paper's code): [0, 1, 1]
    # reads 1 1 0 | 0 1 1 | 1 1 0 around frame 0, so all three frames are kept (with "nearest", none)
    assert s(median_filter_binary(b("011"), 7)) == "111"
    assert s(median_filter_binary(b("0011"), 7)) == "0011"  # window at 0: 1 0 0 | 0 0 1 1 -> 0
    assert s(median_filter_binary(b("1111000000"), 7)) == "1111000000"


def test_drop_short_runs_and_merge_gaps():
    assert s(drop_short_runs(b("1101110111100"), 3)) == "0001110111100"
    # gaps of 5 are merged, gaps of 6 are not
    assert s(merge_gaps(b("11000001100000011"), 5)) == "11111111100000011"
    assert s(merge_gaps(b("100000100000001"), 5)) == "111111100000001"


def _paper_process(probs, thresholds, window=7, min_len=3, gap=5):
    """The paper's process_predictions (rare_vision_pipeline_v3_1.py), restated loop by loop:
    threshold (>=), scipy median filter (default mode) > 0.5, drop runs < min_len, fill gaps <= gap."""
    from scipy.ndimage import median_filter

    bp = (probs >= thresholds[None, :]).astype(int)
    for c in range(bp.shape[1]):
        bp[:, c] = (median_filter(bp[:, c].astype(float), size=window) > 0.5).astype(int)
    for c in range(bp.shape[1]):
        in_ev, st = False, 0
        for i in range(len(bp)):
            if bp[i, c] == 1 and not in_ev:
                in_ev, st = True, i
            elif bp[i, c] == 0 and in_ev:
                in_ev = False
                if i - st < min_len:
                    bp[st:i, c] = 0
        if in_ev and len(bp) - st < min_len:
            bp[st:, c] = 0
    for c in range(bp.shape[1]):
        in_ev, last_end = False, 0
        for i in range(len(bp)):
            if bp[i, c] == 1:
                if not in_ev and i - last_end <= gap and last_end > 0:
                    bp[last_end:i, c] = 1
                in_ev = True
            elif in_ev:
                last_end, in_ev = i, False
    return bp.astype(bool)


@pytest.mark.parametrize("seed", range(6))
def test_postprocess_equals_the_papers_code_on_random_probabilities(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    # smoothed noise, so that runs of every length, short gaps and events at both ends occur
    raw = rng.random((n + 8, 17))
    probs = np.stack([np.convolve(raw[:, j], np.ones(rng.integers(1, 9)), "valid")[:n] for j in range(17)], 1)
    probs /= probs.max(0, keepdims=True)
    thresholds = rng.uniform(0.3, 0.8, 17)
    np.testing.assert_array_equal(postprocess(probs, thresholds), _paper_process(probs, thresholds))


def test_full_pipeline_per_label():
    probs = np.zeros((30, 2))
    probs[2:12, 0] = 0.9  # a 10-frame event
    probs[6, 0] = 0.1  # one dropped frame inside: filtered away
    probs[16:26, 0] = 0.8  # a second event after a 4-frame gap: merged
    probs[5:7, 1] = 0.95  # a 2-frame blip on label 1: removed by the median filter
    active = postprocess(probs, np.array([0.5, 0.5]), PostProcess(7, 3, 5))
    assert runs(active[:, 0]) == [(2, 25)]
    assert not active[:, 1].any()
    # without the gap merge, the two events stay apart
    apart = postprocess(probs, np.array([0.5, 0.5]), PostProcess(7, 3, 0))
    assert runs(apart[:, 0]) == [(2, 11), (16, 25)]
    with pytest.raises(ValueError, match="odd"):
        PostProcess(median_window=4)


def test_label_set_grouping_and_scored_events():
    labels = ["a", "b", "c"]
    active = np.array([
        [1, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 0], [0, 0, 0], [0, 0, 1], [0, 0, 1],
    ], bool)
    frames = np.arange(7) * 5 + 100
    events = label_set_events(active, frames, labels)
    assert events == [
        {"start": 100, "end": 105, "label": ["a"]},
        {"start": 110, "end": 115, "label": ["a", "b"]},
        {"start": 125, "end": 130, "label": ["c"]},
    ]
    assert label_set_events(active, frames, labels, emit_empty=True)[2] == {"start": 120, "end": 120, "label": []}
    # a jump in frame numbers breaks a run even when the label set stays the same
    jumped = label_set_events(np.ones((4, 3), bool), [0, 1, 2, 10], labels)
    assert [(e["start"], e["end"]) for e in jumped] == [(0, 2), (10, 10)]
    probs = active * 0.8 + 0.1
    scored = label_events(active, probs, frames, labels)
    assert scored[0] == {"label": "a", "start": 100, "end": 115, "score": 0.9}
    assert [e["label"] for e in scored] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="strictly increasing"):
        label_set_events(active, frames[::-1], labels)


def test_uneven_sampling_steps_are_not_gaps_and_events_extend_over_the_stride():
    labels = ["a"]
    on = np.ones((8, 1), bool)
    # 30 fps sampled at 12 fps: steps of 2 and 3 alternate; one event, not eight
    frames = np.array([0, 2, 5, 7, 10, 12, 15, 17])
    assert label_set_events(on, frames, labels) == [{"start": 0, "end": 17, "label": ["a"]}]
    # every 5th frame: with extend, a run ends just before the next sample, but the last sample
    # of the video ends where the video's sampled frames end
    frames5 = np.arange(8) * 5
    act = np.array([1, 1, 1, 0, 0, 1, 1, 1], bool)[:, None]
    assert label_set_events(act, frames5, labels, extend=True) == [
        {"start": 0, "end": 14, "label": ["a"]}, {"start": 25, "end": 35, "label": ["a"]}]
    assert label_set_events(act, frames5, labels) == [
        {"start": 0, "end": 10, "label": ["a"]}, {"start": 25, "end": 35, "label": ["a"]}]
    # a real gap (far more than the typical step) splits a run and is not bridged by the extension
    gap = np.array([0, 5, 10, 100, 105])
    assert label_set_events(np.ones((5, 1), bool), gap, labels, extend=True) == [
        {"start": 0, "end": 14, "label": ["a"]}, {"start": 100, "end": 105, "label": ["a"]}]
    scored = label_events(np.ones((5, 1), bool), np.full((5, 1), 0.7), gap, labels, extend=True)
    assert [(e["start"], e["end"]) for e in scored] == [(0, 14), (100, 105)]
