"""Calibration per label (issue 30, point 1): bins equal scikit-learn's calibration_curve, the ECE equals a
hand-computed value, and errors.json carries it."""

from __future__ import annotations

import numpy as np
import pytest

from diffclip.error_analysis.calibration import calibration, expected_calibration_error, reliability_bins


def test_bins_equal_scikit_learns_calibration_curve():
    from sklearn.calibration import calibration_curve

    rng = np.random.default_rng(0)
    probs = np.concatenate([rng.random(500), [0.0, 0.1, 0.5, 1.0]])  # edge values go to the bin below, as there
    truth = rng.random(probs.size) < probs
    bins = reliability_bins(truth, probs)
    fraction, mean = calibration_curve(truth, probs, n_bins=10, strategy="uniform")
    assert np.allclose([b["fraction_positive"] for b in bins], fraction)
    assert np.allclose([b["mean_probability"] for b in bins], mean)
    assert sum(b["count"] for b in bins) == probs.size


def test_ece_of_a_hand_made_case():
    # bin (0.1, 0.2]: p 0.15, 0.15 with truth 0, 1 -> fraction 0.5, mean 0.15, |0.35| x 2/4
    # bin (0.8, 0.9]: p 0.85, 0.85 with truth 1, 1 -> fraction 1.0, mean 0.85, |0.15| x 2/4
    # ECE = 0.5 x 0.35 + 0.5 x 0.15 = 0.25
    truth = np.array([0, 1, 1, 1], bool)
    probs = np.array([0.15, 0.15, 0.85, 0.85])
    bins = reliability_bins(truth, probs)
    assert [(b["lo"], b["hi"], b["count"]) for b in bins] == [(0.1, pytest.approx(0.2), 2), (0.8, 0.9, 2)]
    assert expected_calibration_error(bins) == pytest.approx(0.25)
    assert expected_calibration_error([]) is None


def test_calibration_per_label_macro_and_pooled():
    truth = np.array([[0, 1], [1, 0], [1, 0], [1, 0]], bool)
    probs = np.array([[0.15, 0.95], [0.15, 0.05], [0.85, 0.05], [0.85, 0.05]])
    doc = calibration(truth, probs, ["a", "b"])
    assert doc["a"]["ece"] == pytest.approx(0.25) and set(doc) == {"a", "b", "macro", "binning"}
    # b: bin (0, 0.1]: three 0.05 with truth 0 -> |0 - 0.05| x 3/4; bin (0.9, 1]: 0.95 with truth 1 -> 0.05 x 1/4
    assert doc["b"]["ece"] == pytest.approx(0.05)
    assert doc["macro"]["ece"] == pytest.approx(0.15) and doc["macro"]["labels_with_positives"] == 2
    assert sum(b["count"] for b in doc["macro"]["pooled_bins"]) == 8 and "equal-width" in doc["binning"]
