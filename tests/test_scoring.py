"""RARE-VISION scoring on hand-made cases; each expected number is worked out in the comments."""

import pytest

from diffclip.labels import LABELS
from diffclip.scoring import average_precision, evaluate, ranked_ap, score, tiou
from diffclip.submission import SubmissionError, validate_document


def doc(*videos):
    return {"videos": [{"video_id": vid, "events": events} for vid, events in videos]}


def ev(start, end, *labels):
    return {"start": start, "end": end, "label": list(labels)}


def test_inclusive_tiou_at_exactly_one_half():
    # [0, 9] (10 frames) and [5, 14] (10 frames): inter = 9 - 5 + 1 = 5, union = 10 + 10 - 5 = 15
    assert tiou((0, 9), (5, 14)) == pytest.approx(1 / 3)
    # [0, 9] and [0, 4]: inter 5, union 10 + 5 - 5 = 10 -> exactly 0.5, which counts as a match at 0.5
    assert tiou((0, 9), (0, 4)) == 0.5
    assert average_precision([(0, 4)], [(0, 9)], 0.5) == 1.0
    assert average_precision([(0, 4)], [(0, 9)], 0.95) == 0.0
    assert tiou((0, 0), (0, 0)) == 1.0 and tiou((0, 3), (5, 9)) == 0.0


def test_absent_label_with_and_without_predictions():
    truth = doc(("v", [ev(0, 9, "colon")]))
    # colon matched (AP 1); the other 16 labels are absent and unpredicted (1 each): 17/17
    assert score(truth, doc(("v", [ev(0, 9, "colon")])), 0.5).map == 1.0
    # a polyp predicted where the truth has none: polyp AP 0 -> 16/17
    s = score(truth, doc(("v", [ev(0, 9, "colon"), ev(3, 4, "polyp")])), 0.5)
    assert s.videos[0].per_label["polyp"] == 0.0
    assert s.map == pytest.approx(16 / 17)
    assert s.videos[0].absent_predicted == ["polyp"] and len(s.videos[0].absent_unpredicted) == 15
    # empty submission: colon AP 0, 16 absent labels score 1 -> 16/17 "for free"
    empty = score(truth, doc(("v", [])), 0.5)
    assert empty.map == pytest.approx(16 / 17) and empty.videos[0].free_share == pytest.approx(16 / 17)


def test_file_order_matters():
    truth = [(10, 19)]
    good, bad = (10, 19), (50, 59)
    # true positive first: precision 1/1 at recall 1 -> AP 1.0; the later false positive adds no recall
    assert average_precision([good, bad], truth, 0.5) == 1.0
    # false positive first: i=1 FP (recall 0), i=2 TP with precision 1/2 at recall 1 -> AP 0.5
    assert average_precision([bad, good], truth, 0.5) == 0.5
    # confidence ranking would put the good one first again
    scored = [{"start": 50, "end": 59, "score": 0.2}, {"start": 10, "end": 19, "score": 0.9}]
    assert ranked_ap(scored, truth, 0.5) == 1.0
    assert ranked_ap(scored, [], 0.5) is None


def test_first_unmatched_matching_rule():
    truth = [(0, 9), (20, 29)]
    # prediction [0, 29] overlaps both truth segments with tIoU 10/30 < 0.5: no match at all
    assert average_precision([(0, 29)], truth, 0.5) == 0.0
    # two predictions of [0, 9]: the first matches truth 0, the second finds truth 0 taken and
    # truth 1 too far -> FP. AP = 1/1 * (1/2 - 0) = 0.5
    assert average_precision([(0, 9), (0, 9)], truth, 0.5) == 0.5
    # a prediction that could match either is given to the FIRST unmatched one in truth order:
    # truth [0, 9] and [2, 11]; pred [1, 10] has tIoU 9/11 with both -> takes [0, 9];
    # pred [0, 9] then finds [0, 9] taken and [2, 11] at 8/12 = 0.667 -> match.
    # recalls 1/2, 1 with precisions 1, 1 -> AP 1.0; reversed order: [0, 9] takes [0, 9] (tIoU 1),
    # [1, 10] takes [2, 11] (tIoU 9/11) -> also 1.0; but at 0.7, [0, 9] vs [2, 11] = 0.667 fails:
    # order [1, 10], [0, 9] -> AP = 1 * 1/2 = 0.5; order [0, 9], [1, 10] -> AP = 1.0
    truth2 = [(0, 9), (2, 11)]
    assert average_precision([(1, 10), (0, 9)], truth2, 0.5) == 1.0
    assert average_precision([(1, 10), (0, 9)], truth2, 0.7) == 0.5
    assert average_precision([(0, 9), (1, 10)], truth2, 0.7) == 1.0


def test_half_versus_095_and_label_set_events():
    # one label-set event covering two labels; the prediction is 2 frames short on a 40-frame event:
    # tIoU = 38/40 = 0.95 -> still a match at 0.95; 3 frames short: 37/40 = 0.925 -> only at 0.5
    truth = doc(("v", [ev(0, 39, "stomach", "blood")]))
    close = doc(("v", [ev(0, 37, "stomach", "blood")]))
    short = doc(("v", [ev(0, 36, "blood", "stomach")]))
    assert score(truth, close, 0.95).map == 1.0
    scores = evaluate(truth, short)
    assert scores[0.5].map == 1.0
    # at 0.95 both labels get AP 0: 15 absent labels -> 15/17
    assert scores[0.95].map == pytest.approx(15 / 17)


def test_mean_over_videos():
    truth = doc(("a", [ev(0, 9, "colon")]), ("b", [ev(0, 9, "colon")]))
    pred = doc(("b", [ev(0, 9, "colon")]), ("a", []))  # video order in the file does not matter
    s = score(truth, pred, 0.5)
    assert [v.map for v in s.videos] == [pytest.approx(16 / 17), 1.0]
    assert s.map == pytest.approx((16 / 17 + 1) / 2)


@pytest.mark.parametrize(
    ("pred", "message"),
    [
        (doc(("x", [])), r"video ids differ from the ground truth's \(missing \['v'\], not in the truth \['x'\]\)"),
        (doc(("v", [ev(0, 3, "tumour")])), r"video 'v' event 0: unknown label\(s\) \['tumour'\]"),
        (doc(("v", [ev(0, 3, "colon"), {"start": 5, "end": 6, "label": "colon"}])),
         r"video 'v' event 1: \"label\" must be a list"),
        (doc(("v", [ev(7, 3, "colon")])), r"video 'v' event 0: start 7 is after end 3"),
        (doc(("v", [{"start": 1.5, "end": 3, "label": []}])), r"video 'v' event 0: \"start\" must be an integer"),
        ({"video": []}, r'expected an object with a "videos" list'),
    ],
)
def test_sanity_check_errors(pred, message):
    truth = doc(("v", [ev(0, 9, "colon")]))
    with pytest.raises(SubmissionError, match=message):
        score(truth, pred, 0.5)


def test_empty_label_list_is_allowed():
    validate_document(doc(("v", [ev(0, 3)])))
    assert len(LABELS) == 17


def test_truth_video_without_segments_is_left_out_of_the_mean():
    # video b has no labelled segment: the challenge's scorer averages over a only -> 16/17
    truth = doc(("a", [ev(0, 9, "colon")]), ("b", []))
    s = score(truth, doc(("a", []), ("b", [])), 0.5)
    assert [v.video_id for v in s.videos] == ["a"]
    assert s.map == pytest.approx(16 / 17)
    # but it must still be in the submission
    with pytest.raises(SubmissionError, match="missing \\['b'\\]"):
        score(truth, doc(("a", [])), 0.5)
