"""The feature map and similar frames (issue 30, points 3 and 4): cosine neighbours of a hand-made set, the
map's sample, and a map that keeps clusters apart better than chance."""

from __future__ import annotations

import numpy as np
import pytest

from diffclip.error_analysis.embedding import embedding_entry, map_rows, similar


def test_similar_frames_by_cosine():
    x = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0], [0.5, 0.5]], np.float32)
    # from row 0 (1, 0): cos to (0.9, 0.1) = 0.9 / 0.9055 = 0.9939; to (0.5, 0.5) = 0.7071; to (0, 1) = 0
    got = similar(x, 0, k=3)
    assert [r for r, _ in got] == [1, 4, 2]
    assert [s for _, s in got] == pytest.approx([0.9 / np.hypot(0.9, 0.1), np.sqrt(0.5), 0.0], abs=1e-6)
    with pytest.raises(ValueError, match="row must lie in 0..4"):
        similar(x, 5)


def test_the_map_samples_large_sets_and_keeps_clusters_apart():
    assert map_rows(10, max_points=20).tolist() == list(range(10))
    rows = map_rows(100, max_points=20, seed=1)
    assert len(rows) == 20 and (np.diff(rows) > 0).all() and map_rows(100, 20, seed=1).tolist() == rows.tolist()
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 64)) * 10
    features = np.concatenate([c + rng.normal(size=(30, 64)) for c in centres]).astype(np.float16)
    entry = embedding_entry(features, np.array(["v"] * 90), np.arange(90))
    xy = np.array([[p["x"], p["y"]] for p in entry["points"]])
    assert xy.shape == (90, 2) and entry["frames_mapped"] == 90
    # each cluster's points lie nearer their own centre on the map than the other clusters' centres do
    means = np.array([xy[i * 30:(i + 1) * 30].mean(0) for i in range(3)])
    own = np.linalg.norm(xy - np.repeat(means, 30, axis=0), axis=1).max()
    assert own < min(np.linalg.norm(means[i] - means[j]) for i in range(3) for j in range(i))
    t = entry["trustworthiness"]
    assert t["frames"] == 90 and 0.9 < t["map"] <= 1.0 and t["pca"] <= 1.0
    assert embedding_entry(None, np.array([]), np.array([])) == {"method": None, "points": [],
                                                                 "trustworthiness": None}


def test_a_small_set_with_wide_features_still_maps():
    """A 20-frame set of 256-wide features once failed: PCA to 50 needs 50 frames."""
    features = np.random.default_rng(1).normal(size=(20, 256)).astype(np.float16)
    assert len(embedding_entry(features, np.array(["v"] * 20), np.arange(20))["points"]) == 20
