"""Attention-noise metrics on hand-made maps and masks."""

import numpy as np
import pytest

from diffclip.attention_noise import absolute_masses, cancellation, distractor_mass, masses, regions


def _parts():
    lesion = np.zeros((4, 4), bool)
    lesion[0, :2] = True  # two pixels, one of them under a bubble
    codes = np.zeros((4, 4), np.uint8)
    codes[0, 1] = 1  # bubble over the lesion: the bubble wins
    codes[3, :] = 4  # the bottom row: outside the field of view
    return regions(lesion, codes, (4, 4))


def test_regions_are_disjoint_and_cover_the_frame():
    parts = _parts()
    stacked = np.stack(list(parts.values()))
    assert (stacked.sum(0) == 1).all()
    assert parts["lesion"].sum() == 1 and parts["bubble"].sum() == 1 and parts["outside the field of view"].sum() == 4
    with pytest.raises(ValueError, match="unknown distractor codes"):
        regions(None, np.full((4, 4), 9, np.uint8), (4, 4))
    with pytest.raises(ValueError, match="does not match"):
        regions(np.ones((2, 2)), None, (4, 4))


def test_masses_by_hand():
    parts = _parts()
    m = np.zeros((4, 4))
    m[0, 0], m[0, 1], m[3, 3], m[2, 2] = 2.0, 1.0, 1.0, -7.0  # negatives carry no mass
    shares = masses(m, parts)
    assert shares["lesion"] == pytest.approx(0.5) and shares["bubble"] == pytest.approx(0.25)
    assert shares["outside the field of view"] == pytest.approx(0.25) and shares["elsewhere"] == 0.0
    assert distractor_mass(shares) == pytest.approx(0.5)
    # a 2 x 2 token map: the top-left token covers the lesion pixel, the bubble and two plain pixels
    grid = np.array([[4.0, 0.0], [0.0, 0.0]])
    assert absolute_masses(grid, parts) == pytest.approx(
        {"bubble": 1.0, "specular highlight": 0.0, "debris": 0.0, "outside the field of view": 0.0,
         "lesion": 1.0, "elsewhere": 2.0})
    assert np.isnan(masses(np.zeros((4, 4)), parts)["lesion"])


def test_the_subtraction_removes_what_both_maps_share():
    parts = _parts()
    a1 = np.zeros((4, 4))
    a1[0, 0], a1[0, 1] = 0.5, 0.5  # half on the lesion, half on the bubble
    a2 = np.zeros((4, 4))
    a2[0, 1] = 1.0  # the second map sees only the bubble
    out = cancellation(a1, a2, 0.5, parts)
    assert out["a1"]["bubble"] == pytest.approx(0.5) and out["diff"]["bubble"] == 0.0
    assert out["diff"]["lesion"] == pytest.approx(1.0)
    assert out["removed"]["bubble"] == pytest.approx(1.0) and out["removed"]["lesion"] == pytest.approx(0.0)
    assert np.isnan(out["removed"]["debris"])


def test_per_layer_on_an_analysed_frame(tiny_checkpoint):
    from diffclip.inference import Predictor
    from explain.analysis import analyse
    from explain.noise_per_layer import per_layer

    predictor = Predictor(tiny_checkpoint, device="cpu", precision="fp32")
    frame = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    a = analyse(predictor, frame)
    size = a.image.shape[0]
    codes = np.zeros((size, size), np.uint8)
    codes[: size // 2] = 1  # the top half is "bubbles"
    rows = per_layer(a, regions(None, codes, (size, size)))
    assert a.has_second_map and len(rows) == a.num_layers  # the tiny checkpoint is differential
    for layer, row in enumerate(rows):
        a1 = np.clip(a.cls_map("a1", layer), 0, None)
        top = a1[: a1.shape[0] // 2].sum() / a1.sum()  # token rows tile the frame: the top half is bubbles
        assert row["a1"]["bubble"] == pytest.approx(top)
        assert row["lambda"] == pytest.approx(a.lam_value(layer))
        assert sum(row["shown"].values()) == pytest.approx(1.0)
        # the subtraction is the map the layer shows (head mean of a1 - lambda a2; rows kept in fp16)
        assert row["diff"]["bubble"] == pytest.approx(row["shown"]["bubble"], abs=5e-3)
