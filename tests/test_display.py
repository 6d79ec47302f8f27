"""How maps and scores are shown: robust colour limits (Captum's convention), colour bars, the lesion
outline, truth marks on the scores and the sidecar truth of uploads."""

from types import SimpleNamespace

import numpy as np
import pytest
from captum.attr._utils.visualization import _cumulative_sum_threshold, _normalize_attr
from PIL import Image

from demo.frames_view import scores_for
from demo.scores import scores_html
from demo.truth import FrameTruth, load_mask, read_truth_csv, split_uploads, truth_for
from explain.display import OUTLINE, cumulative_mass_limit, draw_outline, robust_scale, with_colorbar


def test_limits_saturate_where_the_top_two_percent_of_the_mass_begins():
    # 1000 ones and one 5: 98% of the mass (984.9 of 1005) is reached inside the ones, so the limit is 1
    values = np.array([1.0] * 1000 + [5.0])
    s = robust_scale(values, diverging=False)
    assert (s.lo, s.hi, s.clipped) == (0.0, 1.0, True)
    # one value holding more than 2% of the mass is its own limit: nothing is clipped
    s = robust_scale(np.array([1.0, 1.0, 1.0, 1.0, 96.0]), diverging=False)
    assert (s.hi, s.clipped) == (96.0, False)
    # signed maps: symmetric limits from the absolute values
    s = robust_scale(np.array([-1.0] * 500 + [1.0] * 500 + [-5.0]), diverging=True)
    assert (s.lo, s.hi, s.clipped) == (-1.0, 1.0, True)
    assert "top 2% of mass at full colour" in s.note() and "±1" in s.note()
    # two maps on one scale: the limit of their values together
    assert robust_scale(np.ones(10), np.full(10, 3.0), diverging=False).hi == 3.0
    empty = robust_scale(np.zeros(4), diverging=False)
    assert empty.hi > 0 and empty.empty and "0 everywhere" in empty.note()  # a valid scale that says so


def test_the_scale_equals_captums_normalisation():
    rng = np.random.default_rng(0)
    m = rng.standard_t(2, size=(32, 32))  # heavy tails: a few outliers
    s = robust_scale(m, diverging=True)
    assert np.allclose(np.clip(m / s.hi, -1, 1), _normalize_attr(m, "all", 2))
    pos = np.abs(m)
    assert np.allclose(np.clip(pos / robust_scale(pos, diverging=False).hi, 0, 1),
                       _normalize_attr(pos, "absolute_value", 2))


def test_our_cumulative_limit_is_captums():
    """Captum keeps its colour-limit function private; ours restates it and must agree to the bit."""
    rng = np.random.default_rng(3)
    for size, perc in ((10, 98.0), (1000, 98.0), (4096, 50.0), (7, 100.0), (5, 0.0)):
        values = np.abs(rng.standard_normal(size)) ** 3
        assert cumulative_mass_limit(values, perc) == _cumulative_sum_threshold(values, perc), (size, perc)
    assert cumulative_mass_limit(np.array([1.0, 1.0, 2.0, 96.0]), 98.0) == 96.0  # by hand: 4% below 96


def test_the_outline_follows_the_mask_border():
    img = np.zeros((10, 10, 3), np.uint8)
    mask = np.zeros((10, 10), bool)
    mask[3:7, 3:7] = True
    out = draw_outline(img, mask)
    border = mask & ~np.pad(mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:], 1)
    assert np.array_equal((out == OUTLINE).all(-1), border) and border.sum() == 12
    assert not img.any()  # the input is not drawn on
    assert np.array_equal(draw_outline(img, None), img)
    with pytest.raises(ValueError, match="does not match"):
        draw_outline(img, np.ones((5, 5), bool))


def test_a_colour_bar_sits_beside_the_image():
    img = np.zeros((224, 224, 3), np.uint8)
    img[:, :112] = (200, 30, 30)
    out = with_colorbar(img, robust_scale(np.arange(10.0), diverging=False), "attention")
    assert out.shape[0] >= 224 and out.shape[1] >= 224 + 60
    assert np.abs(out[60:160, 20:90].astype(int) - (200, 30, 30)).max() <= 2  # the image itself, unscaled
    strip = out[30:200, 224:].reshape(-1, 3)
    # the bar's colours: inferno's dark end and bright end are both there
    assert (strip.sum(1) < 60).any() and ((strip[:, 0] > 230) & (strip[:, 1] > 200) & (strip[:, 2] < 160)).any()


def test_scores_mark_hits_misses_and_false_alarms():
    labels = ["colon", "blood", "polyp", "ulcer"]
    probs = np.array([0.9, 0.2, 0.8, 0.1])
    html = scores_html(probs, [0.5] * 4, labels, truth={"colon", "blood"})
    outcome = {lab: html.split(f'data-label="{lab}"')[1].split('data-outcome="')[1].split('"')[0] for lab in labels}
    assert outcome == {"colon": "hit", "blood": "miss", "polyp": "false alarm", "ulcer": ""}
    assert "section" in html and "lesion" in html and "missed" in html  # the legend names colours and marks
    assert 'data-outcome=""' in scores_html(probs, [0.5] * 4, labels) and "missed" not in scores_html(
        probs, [0.5] * 4, labels)


def test_the_ood_banner_shows_only_for_frames_out_of_distribution():
    def analysis(flag):
        ood = SimpleNamespace(in_distribution=flag, score=9.0, threshold=3.0, reasons=["no field of view"])
        return SimpleNamespace(probs=np.array([0.7, 0.1]), thresholds=[0.5, 0.5], labels=["colon", "blood"], ood=ood)

    assert "does not look like a capsule endoscopy frame" in scores_for(analysis(False))
    assert "no field of view" in scores_for(analysis(False))
    for flag in (True, None):
        assert "dc-ood" not in scores_for(analysis(flag))


def test_uploads_carry_their_truth(tmp_path):
    frame, mask = tmp_path / "frame_000012.PNG", tmp_path / "frame_000012_mask.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(frame)
    m = np.zeros((8, 8), np.uint8)
    m[2:4, 2:4] = 3
    Image.fromarray(m).save(mask)
    csv = tmp_path / "labels.csv"
    csv.write_text("index,colon,blood,polyp,frame\n0,1,0,0,11\n1,1,1,0,12\n")
    frames, masks, truth = split_uploads([str(frame), str(mask), str(csv)])
    assert frames == [str(frame)] and truth == {11: frozenset({"colon"}), 12: frozenset({"colon", "blood"})}
    known = truth_for(frames[0], masks, truth, 4)
    assert known.labels == {"colon", "blood"}
    assert np.array_equal(known.mask, load_mask(mask, 4)) and known.mask.sum() == 1  # resized like the crop
    assert truth_for(str(tmp_path / "other.png"), masks, truth, 4) is None
    assert FrameTruth().labels is None


def test_bad_truth_files_say_what_is_wrong(tmp_path):
    no_frame = tmp_path / "a.csv"
    no_frame.write_text("colon,blood\n1,0\n")
    with pytest.raises(ValueError, match="a.csv: a label CSV needs a 'frame' column"):
        read_truth_csv(no_frame)
    words = tmp_path / "b.csv"
    words.write_text("frame,colon\n3,yes\n")
    with pytest.raises(ValueError, match="b.csv:2: frame and label values must be numbers"):
        read_truth_csv(words)
    with pytest.raises(ValueError, match="only masks or label CSVs"):
        split_uploads([str(tmp_path / "frame_000001_mask.png")])
    latin = tmp_path / "c.csv"
    latin.write_bytes("frame,colon,r\xe9sum\xe9\n1,1,0\n".encode("latin-1"))
    with pytest.raises(ValueError, match="c.csv: a label CSV must be UTF-8 text"):
        read_truth_csv(latin)
    bom = tmp_path / "d.csv"
    bom.write_bytes("frame,colon\n4,1\n".encode("utf-8-sig"))
    assert read_truth_csv(bom) == {4: frozenset({"colon"})}
    broken = tmp_path / "frame_000004_mask.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(ValueError, match="frame_000004_mask.png: the mask is not a readable image"):
        load_mask(broken, 8)


def test_the_notes_beside_the_maps_say_where_their_mass_lies():
    from demo.map_notes import faithfulness_note, where_maps_lie

    img = np.zeros((4, 4, 3), np.uint8)
    img[1:3, 1:3] = 120  # a 2 x 2 lit field of view; the rest is rim
    mask = np.zeros((4, 4), bool)
    mask[1, 1] = True
    on_rim = np.zeros((4, 4))
    on_rim[0, 0], on_rim[1, 1] = 3.0, 1.0  # 3/4 of the mass on the rim, 1/4 in the lesion
    line = where_maps_lie(img, {"a1": on_rim, "a2": -np.ones((4, 4))}, mask)
    assert line.startswith("Positive mass · a1: 25% in the lesion, 75% on the rim; a2: no positive mass")
    assert "(a uniform map: 6% in the lesion)" in line and "Vision Transformers Need Registers" in line
    calm = where_maps_lie(img, {"a1": np.pad(np.ones((2, 2)), 1)})
    assert calm == "Positive mass · a1: 0% on the rim." and "lesson" not in calm
    numbers = {"score": 0.9, "deletion_auc": 0.2, "insertion_auc": 0.7, "outside_fov_share": 0.6,
               "uniform_outside_share": 0.27}
    note = faithfulness_note(numbers)
    assert "deletion AUC 0.20" in note and "60% on the black rim" in note and "A lesson in this map" in note
    assert "lesson" not in faithfulness_note({**numbers, "outside_fov_share": 0.1})


def test_a_large_or_oblong_upload_says_what_the_model_saw(tmp_path):
    """Issue 29: a 4000x3000 upload was resized and cropped without a word."""
    from PIL import Image

    from demo.frames_view import crop_note, source_size

    assert crop_note((224, 224), 224) == "" and crop_note(None, 224) == ""
    # 4000 x 3000: the short side 3000 -> 224, the centre 3000 of 4000 kept: 1 - 3000/4000 = 25% of the width cut
    assert crop_note((4000, 3000), 224) == ('<div class="dc-legend dc-crop-note">The model saw a 224×224 crop of this '
                                            "4000×3000 frame: its short side resized to 224 px, then the centre kept: "
                                            "25% of its width cut off.</div>")
    assert "height cut off" in crop_note((300, 400), 224)
    assert crop_note((512, 512), 224).endswith("resized to 224 px.</div>")
    photo = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned by 90 degrees: the sides swap
    Image.new("RGB", (400, 300)).save(photo, exif=exif)
    assert source_size(str(photo)) == (300, 400)
    assert source_size(np.zeros((30, 40, 3), np.uint8)) == (40, 30)


def test_colour_bar_shows_the_maps_own_colours_at_its_ticks():
    """The picture is pasted 1:1 in a 4-pixel margin; on the bar, the row of each tick has the colour that the
    map's colour map and norm (matplotlib's, restated here) give that tick's value; matplotlib's MaxNLocator
    places the sequential ticks; a clipped end has an arrow beyond it, an empty map no ticks."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize, TwoSlopeNorm
    from matplotlib.ticker import MaxNLocator

    from explain.colour_bar import tick_text, tick_values

    rng = np.random.default_rng(3)
    for h, w, diverging in ((224, 224, True), (224, 224, False), (64, 96, False)):
        rgb = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        values = rng.standard_normal((h, w)) if diverging else rng.random((h, w)) ** 4
        scale = robust_scale(values, diverging=diverging)
        out = with_colorbar(rgb, scale, "a label")
        assert out.shape == (h + 8, w + 110, 3) and np.array_equal(out[4 : 4 + h, 4 : 4 + w], rgb)
        norm = TwoSlopeNorm(vmin=scale.lo, vcenter=0.0, vmax=scale.hi) if diverging else Normalize(scale.lo, scale.hi)
        cmap = colormaps["RdBu_r" if diverging else "inferno"]
        top, length, centre = 16, h - 24, w + 14 + 6
        ticks = tick_values(scale.lo, scale.hi, diverging, length)
        expected = [scale.lo, scale.lo / 2, 0.0, scale.hi / 2, scale.hi] if diverging else [
            v for v in MaxNLocator(nbins=max(2, length // 30), steps=[1, 2, 2.5, 5, 10]).tick_values(scale.lo, scale.hi)
            if scale.lo <= v <= scale.hi * (1 + 1e-9)]
        assert ticks == pytest.approx(expected) and len(ticks) >= 2
        for value in ticks:
            row = top + round((scale.hi - value) / (scale.hi - scale.lo) * (length - 1))
            want = np.array(cmap(norm(value))[:3]) * 255
            # the bar's colour one pixel inside its border at the tick's row (its linspace is within a row)
            near = [out[r, centre] for r in (row - 1, row, row + 1) if top <= r < top + length]
            assert min(np.abs(c.astype(float) - want).max() for c in near) <= 8, value
            assert (out[max(row - 4, 0) : row + 5, w + 14 + 12 + 7 : w + 60] < 128).any(), tick_text(value)  # its label
        assert scale.clipped  # robust limits: the top 2% of the mass saturates
        above = out[top - 6 : top - 1, centre]
        assert (np.abs(above.astype(int) - 255).max(axis=1) > 40).any()  # the arrow above the bar
        below = out[top + length + 1 : top + length + 6, centre]
        assert (np.abs(below.astype(int) - 255).max(axis=1) > 40).any() == diverging  # and below when diverging
    empty = with_colorbar(np.zeros((64, 64, 3), np.uint8), robust_scale(np.zeros((8, 8)), diverging=False))
    assert (empty[:, 64 + 14 + 12 + 2 :] == 255).all()  # no ticks, no labels
    assert tick_text(-0.5) == "\u22120.5" and tick_text(0.0125) in ("0.012", "0.013")
    for h in (1, 9, 39):  # small pictures get a bar as tall as themselves
        small = with_colorbar(np.zeros((h, 20, 3), np.uint8), robust_scale(np.arange(4.0), diverging=False))
        assert small.shape == (h + 8, 130, 3) and small.flags.writeable
