"""Weak slices (issue 30, point 5): cohorts, error rates against a hand-made case, and the Wilson interval
against scipy's."""

from __future__ import annotations

import numpy as np
import pytest

from diffclip.error_analysis.slices import cohorts, weak_slices, wilson


@pytest.mark.parametrize(("k", "n"), [(0, 5), (3, 10), (7, 7), (12, 40)])
def test_wilson_equals_the_formula_restated(k, n):
    # Wilson (1927): (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), z the 97.5% normal quantile
    z, p = 1.959963984540054, k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert wilson(k, n) == pytest.approx((max(0.0, centre - half), min(1.0, centre + half)), abs=1e-9)


def test_a_hand_made_set_ranks_its_worst_cohort_first():
    labels = ["stomach", "colon", "blood"]
    # ten frames: 1-5 stomach (video a), 6-10 colon (video b); blood is wrong on 4 of the colon frames
    truth = np.zeros((10, 3), bool)
    truth[:5, 0] = truth[5:, 1] = True
    probs = np.where(truth, 0.9, 0.1)
    probs[5:9, 2] = 0.8  # four false positives of blood, all in colon / video b
    groups = cohorts(truth, ["a"] * 5 + ["b"] * 5, labels, flagged=np.array([False] * 9 + [True]),
                     brightness=np.linspace(0, 1, 10))
    assert groups[("section", "colon")].tolist() == [False] * 5 + [True] * 5
    assert int(groups[("out-of-distribution", "flagged")].sum()) == 1
    assert sum(int(v.sum()) for k, v in groups.items() if k[0] == "brightness") == 10
    found = weak_slices(truth, probs, [0.5, 0.5, 0.5], labels, groups)
    top = found[0]
    # blood: 4 errors of 10 overall (0.4); in colon (= video b) 4 of 5 = 0.8, excess 0.4
    assert (top["label"], top["cohort"], top["value"], top["frames"], top["errors"]) == ("blood", "section",
                                                                                        "colon", 5, 4)
    assert top["rate"] == pytest.approx(0.8) and top["label_rate"] == pytest.approx(0.4)
    assert top["excess"] == pytest.approx(0.4) and top["ci"] == pytest.approx(list(wilson(4, 5)))
    assert found[1]["value"] == "b" and found[1]["excess"] == pytest.approx(0.4)
    assert all(d["frames"] >= 5 for d in found)  # the one flagged frame is too few to list
    assert [d["excess"] for d in found] == sorted((d["excess"] for d in found), reverse=True)
