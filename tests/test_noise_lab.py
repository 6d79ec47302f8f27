"""The Noise lab (demo/tabs/noise_lab/experiment.py, its figures and its tab): distractors drawn over a clean example frame,
where the standard and the differential model attend, what the subtraction removes, and /noise_lab through
the running app. No test depends on the bundled models' particular numbers."""

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import binary_dilation

from demo.resources import COMPARE_CHECKPOINT, DEFAULT_CHECKPOINT, examples
from demo.tabs.noise_lab import experiment as lab
from demo.tabs.noise_lab import noise_lab_figures as figures
from diffclip.inference import Predictor

ALL = dict.fromkeys(lab.KINDS, 1.0)
NONE = dict.fromkeys(lab.KINDS, 0.0)


@pytest.fixture(scope="module")
def models():
    return (Predictor(COMPARE_CHECKPOINT, device="cpu", precision="fp32"),
            Predictor(DEFAULT_CHECKPOINT, device="cpu", precision="fp32"))


@pytest.fixture(scope="module")
def frame(models):
    return lab.pick_frame(examples(), 0, None, models[0])


@pytest.fixture(scope="module")
def runs(models, frame):
    """The first example at level 0 and at level 1 (all three kinds)."""
    return {level: lab.run_lab(*models, frame, dict.fromkeys(lab.KINDS, float(level))) for level in (0, 1)}


def test_level_zero_leaves_the_frame_and_puts_no_mass_on_the_drawn_distractors(runs, frame):
    clean = runs[0]
    assert np.array_equal(clean.image, frame.crop)
    assert set(np.unique(clean.codes).tolist()) <= {0, 4}  # nothing drawn; the rim is always there
    label = lab.default_label(clean)
    assert label == examples()[0].shows
    for model in lab.MODELS:
        numbers = lab.map_numbers(clean, model, label)
        assert numbers["drawn_distractor_mass"] == 0.0
        assert [numbers["masses"][lab.KIND_NAMES[k]] for k in lab.KINDS] == [0.0, 0.0, 0.0]
        assert numbers["lesion_mass"] is not None
    assert lab.map_numbers(clean, "standard", label)["lesion_mass"] > 0  # softmax attention is positive everywhere
    assert "no distractors drawn" in figures.frame_caption(clean)
    assert "No distractors are drawn" in figures.subtraction_caption(lab.cancellation_numbers(clean),
                                                                     figures.map_scale(clean, "differential"))


def test_level_one_adds_distractor_pixels_and_changes_the_numbers(runs):
    noisy, clean = runs[1], runs[0]
    for kind in lab.KINDS:  # every kind is drawn, and only where its code says
        assert (noisy.codes == lab.KIND_CODES[kind]).sum() > 50, kind
    assert not np.array_equal(noisy.image, clean.image)
    far = ~binary_dilation(noisy.drawn, iterations=8)  # soft edges reach a few pixels past the mask
    assert np.array_equal(noisy.image[far], clean.image[far])
    label = lab.default_label(noisy)
    before, after = lab.lab_numbers(clean, label), lab.lab_numbers(noisy, label)
    assert after["clusters"] == lab.LAB_CLUSTERS
    n = lab.LAB_CLUSTERS
    assert (f"{n['bubbles']} clusters of bubbles, {n['highlights']} clusters of specular highlights, "
            f"{n['debris']} clusters of debris") in figures.frame_caption(noisy)
    for model in lab.MODELS:
        assert after[model]["drawn_distractor_mass"] > 0
        assert after[model]["masses"] != before[model]["masses"]
        assert after[model]["probability"] != before[model]["probability"]
    assert after["differential"]["cancellation"]["removed"][lab.DRAWN] is not None
    assert before["differential"]["cancellation"]["removed"][lab.DRAWN] is None  # no a1 mass on nothing drawn


def test_the_same_frame_and_levels_give_the_same_picture(models, frame, runs):
    again = lab.run_lab(*models, frame, ALL)
    assert np.array_equal(again.image, runs[1].image) and np.array_equal(again.codes, runs[1].codes)
    assert again.seed == runs[1].seed == lab.frame_seed(frame.crop)
    assert lab.lab_numbers(again, "blood") == lab.lab_numbers(runs[1], "blood")
    other = lab.pick_frame(examples(), 1, None, models[0])
    assert lab.frame_seed(other.crop) != again.seed


def test_per_type_masses_lesion_and_elsewhere_sum_to_one(runs):
    for result in runs.values():
        for model in lab.MODELS:
            shares = lab.map_numbers(result, model, "blood")["masses"]
            assert set(shares) == {*lab.KIND_NAMES.values(), lab.RIM, "lesion", "elsewhere"}
            assert math.isclose(sum(shares.values()), 1.0, abs_tol=1e-9), (model, shares)


def test_the_three_panels_share_one_scale():
    image = np.full((224, 224, 3), 128, np.uint8)
    a1 = np.ones((14, 14))
    a1[11:14, 0:3] = 0.5
    lam_a2 = np.full((14, 14), 0.9)
    diff = a1 - lam_a2  # 0.1 almost everywhere: on its own scale, 0.5 would be the brightest red
    diff[11:14, 0:3] = 0.5  # the same value as a1's in the same 3x3 tokens
    panels, scale = figures.subtraction_overlays(image, [a1, lam_a2, diff], alpha=0.7)
    assert scale.diverging and scale.lo == -scale.hi
    centre = (12 * 16 + 8, 16 + 8)  # the middle of token (12, 1): its neighbours hold the same value
    assert np.array_equal(panels[0][centre], panels[2][centre])
    own = figures.subtraction_overlays(image, [diff], alpha=0.7)[0][0]  # diff alone gets another scale
    assert not np.array_equal(own[centre], panels[2][centre])


def test_the_subtraction_panels_are_the_map_the_layer_applies(runs):
    a = runs[1].analyses["differential"]
    for head in (None, 0):
        a1, lam_a2, diff = lab.subtraction(a, -1, head)
        np.testing.assert_allclose(diff, a1 - lam_a2)
        np.testing.assert_allclose(diff, a.cls_map("diff", -1, head), atol=2e-3)  # stored as float16
    rgb, scale = figures.subtraction_figure(runs[1], a.num_layers, None)
    assert rgb.shape[1] > 2.5 * rgb.shape[0] and scale.diverging


def test_the_tab_redraws_the_chosen_layer_and_head(runs):
    from demo.tabs.noise_lab import views

    last = views(runs[1], "blood", runs[1].analyses["differential"].num_layers, "mean")
    first = views(runs[1], "blood", 1, "0")
    assert len(first) == 9 and first[-1].startswith("**Layer 1, head 0,")
    assert not np.array_equal(first[7], last[7])  # the subtraction panels follow the layer
    assert np.array_equal(first[3], last[3])  # the models' maps stay those of the last layer
    heads = runs[1].analyses["differential"].num_heads
    with pytest.raises(ValueError, match=f"head must be 'mean' or lie in 0..{heads - 1}"):
        views(runs[1], "blood", 1, str(heads))
    with pytest.raises(ValueError, match="layer must lie in 1.."):
        views(runs[1], "blood", 99, "mean")


def test_an_uploaded_frame_of_another_size_is_cropped_like_the_models_input(models, tmp_path):
    big = tmp_path / "wide frame.png"
    Image.open(examples()[2].image).convert("RGB").resize((400, 300)).save(big)
    upload = lab.pick_frame(examples(), None, str(big), models[0])
    assert upload.crop.shape == (224, 224, 3) and upload.lesion is None and upload.name == "wide frame.png"
    result = lab.run_lab(*models, upload, ALL)
    shares = lab.map_numbers(result, "standard", lab.default_label(result))
    assert "lesion" not in shares["masses"] and shares["lesion_mass"] is None
    assert math.isclose(sum(shares["masses"].values()), 1.0, abs_tol=1e-9)
    assert "no lesion mask is known" in figures.frame_caption(result)


def test_a_photo_in_the_lab_gets_the_out_of_distribution_warning(models, tmp_path):
    """The lab once measured bubble and distractor shares on the astronaut photo without a caveat (issue 29)."""
    from matplotlib import cbook

    photo = lab.pick_frame(examples(), None, cbook.get_sample_data("grace_hopper.jpg", asfileobj=False), models[0])
    caption = figures.frame_caption(lab.run_lab(*models, photo, ALL))
    assert caption.startswith('<div class="dc-warning dc-ood" role="alert"><b>This does not look like a capsule '
                              'endoscopy frame.</b> The shares below describe a picture the models were not trained on')
    assert "grace_hopper.jpg" in caption


def _shares(drawn, rim, lesion):
    return {"drawn_distractor_mass": drawn, "lesion_mass": lesion, "masses": {figures.RIM: rim}}


def test_the_words_say_which_model_puts_less_where_even_when_it_is_the_standard_one():
    """Issue 29: per frame, in words, which model puts less mass on the distractors, the rim and the lesion."""
    said = figures.who_has_less(_shares(0.25, 0.30, 0.04), _shares(0.37, 0.10, 0.022))
    assert said == ("**On this frame (last layer, head mean):** The standard model puts less on the drawn "
                    "distractors (25% against 37%); the differential model puts less on the dark rim (10% against "
                    "30%); the differential model puts less on the lesion (2% against 4%). One frame is not the study.")
    # nothing drawn and no mask: only the rim is compared, and a tie is called one
    said = figures.who_has_less(_shares(0.0, 0.201, None), _shares(0.0, 0.198, None))
    assert said.endswith("Both put about 20% on the dark rim. One frame is not the study.")


@pytest.mark.parametrize(("levels", "message"), [
    ({"bubbles": 1.5}, r"bubbles level must lie in \[0, 1\], got 1.5"),
    ({"debris": -0.1}, r"debris level must lie in \[0, 1\]"),
    ({"highlights": float("nan")}, r"highlights level must lie in \[0, 1\]"),
    ({"highlights": "lots"}, r"highlights level must be a number"),
    ({"smoke": 0.5}, "unknown distractor kinds"),
])
def test_bad_levels_are_refused(levels, message):
    with pytest.raises(ValueError, match=message):
        lab.check_levels(levels)


def test_bad_frames_and_labels_are_refused(models, tmp_path):
    assert lab.check_levels({"bubbles": 1}) == {"bubbles": 1.0, "highlights": 0.0, "debris": 0.0}
    with pytest.raises(ValueError, match="unknown label 'tumour'; choose one of mouth"):
        lab.check_label(models[1].labels, "tumour")
    assert lab.check_label(models[1].labels, "") is None
    for index in (99, -1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="example must be a whole number in 0..7"):
            lab.pick_frame(examples(), index, None, models[0])
    with pytest.raises(ValueError, match="pick an example or upload a frame"):
        lab.pick_frame(examples(), None, None, models[0])
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"not really a png")
    with pytest.raises(ValueError, match="fake.png is not an image file"):
        lab.pick_frame(examples(), None, str(fake), models[0])
    with pytest.raises(ValueError, match="not both"):
        lab.pick_frame(examples(), 0, str(fake), models[0])


def _numbers(client, level, label=""):
    *images, numbers = client.predict(0, None, level, label, api_name="/noise_lab")
    assert len(images) == 5 and all(Path(p).stat().st_size > 2000 for p in images)
    return images, numbers


def test_noise_lab_endpoint_answers_differently_at_levels_0_and_1(app_url, tmp_path):
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False)
    (frame0, *_), clean = _numbers(client, 0.0)
    (frame1, *_), noisy = _numbers(client, 1.0)
    assert clean["label"] == noisy["label"] == examples()[0].shows
    for model in ("standard", "differential"):
        for key in ("probability", "lesion_mass", "distractor_mass", "masses", "sinks"):
            assert key in noisy[model], (model, key)
        sinks = noisy[model]["sinks"]  # issue 31: per layer and head, and the last layer's head mean
        assert len(sinks["top_token"]) == len(sinks["high_norm_tokens"]) >= 1
        assert set(sinks["last_layer"]) == {"top_token", "rim", "high_norm", "high_norm_tokens"}
        assert clean[model]["drawn_distractor_mass"] == 0 < noisy[model]["drawn_distractor_mass"]
        assert clean[model]["masses"] != noisy[model]["masses"]
    diff = noisy["differential"]
    assert len(diff["lambda_per_layer"]) == len(diff["removed_per_layer"]) >= 1
    assert diff["cancellation"]["removed"]["drawn distractors"] is not None
    assert Path(frame0).read_bytes() != Path(frame1).read_bytes()
    assert _numbers(client, 1.0)[1] == noisy  # the same frame and level: the same answer
    assert clean["in_distribution"] is True and clean["ood_score"] <= clean["ood_threshold"]
    from matplotlib import cbook  # a portrait photo: out of distribution, as on /predict_frame (issue 29)

    photo = handle_file(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    *_, numbers = client.predict(None, photo, 0.0, "", api_name="/noise_lab")
    assert numbers["in_distribution"] is False and numbers["ood_reasons"]
    _, other = _numbers(client, 1.0, "ulcer")
    assert other["label"] == "ulcer" and other["standard"]["probability"] != noisy["standard"]["probability"]
    for args, message in (((0, None, 1.5, ""), r"must lie in \[0, 1\]"), ((0, None, 0.5, "tumour"), "unknown label"),
                          ((None, None, 0.5, ""), "pick an example or upload a frame")):
        with pytest.raises(Exception, match=message) as err:
            client.predict(*args, api_name="/noise_lab")
        assert "/" not in str(err.value)
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"not really a png")
    with pytest.raises(Exception, match="fake.png is not an image file"):
        client.predict(None, handle_file(str(fake)), 0.5, "", api_name="/noise_lab")


def _study(tmp_path, lo, hi):
    import json

    runs = [{"seed": s, "distractor_mass": 0.1} for s in (0, 1, 2)]
    doc = {"seeds": {"vanilla": runs, "diff": runs}, "median_seed": 1,
           "summary": {"vanilla": {"distractor_mass": {"mean": 0.16, "ci": [0.06, 0.26]}},
                       "diff": {"distractor_mass": {"mean": 0.115, "ci": [0.027, 0.204]}},
                       "diff_minus_vanilla": {"distractor_mass": {"mean": (lo + hi) / 2, "ci": [lo, hi]}}}}
    path = tmp_path / "study.json"
    path.write_text(json.dumps(doc))
    return path


def test_the_lab_says_what_the_study_found(tmp_path):
    from demo.resources import NOISE_STUDY
    from demo.study_note import study_sentence

    unresolved = study_sentence(_study(tmp_path, -0.192, 0.103))
    assert "standard 0.160 [95% CI 0.060, 0.260]" in unresolved and "differential 0.115" in unresolved
    assert "-0.045 [95% CI -0.192, +0.103]" in unresolved and "no difference" in unresolved
    assert "3 training seeds" in unresolved and "median seed (1)" in unresolved
    assert "puts less" in study_sentence(_study(tmp_path, -0.2, -0.01))
    assert "puts more" in study_sentence(_study(tmp_path, 0.01, 0.2))
    assert study_sentence(tmp_path / "missing.json") == ""
    (tmp_path / "bad.json").write_text("{")
    assert study_sentence(tmp_path / "bad.json") == ""
    assert "training seeds" in study_sentence(NOISE_STUDY)  # the committed study is read


def test_attention_sinks_of_a_hand_made_map():
    """Issue 31, point 2: the largest token's share, the rim's and the high-norm tokens', by hand."""
    from diffclip.attention_sinks import high_norm_tokens, sink_measures, summary

    rows = np.zeros((1, 2, 3, 3))
    rows[0, 0, 0, 0], rows[0, 0, 0, 1], rows[0, 0, 2, 2] = 0.5, 0.3, 0.2  # head 0: largest token 0.5 of 1.0
    rows[0, 1, 1, 1], rows[0, 1, 2, 2], rows[0, 1, 0, 0] = 0.25, 0.5, -0.25  # head 1: 0.75 positive
    # sorted norms 0.9 1 1 1 1 1 1.1 1.2 30: Q1 = 1, Q3 = 1.1, so 30 > 1.1 + 3 x 0.1 is the one outlier
    norms = np.array([[1.0, 1.0, 1.0, 1.0, 1.1, 1.2, 0.9, 1.0, 30.0]])
    rim = np.zeros((3, 3))
    rim[0, 0], rim[2, 2] = 1.0, 0.5  # token 0 all rim, token 8 half
    m = sink_measures(rows, norms, rim)
    assert high_norm_tokens(norms).tolist() == [[False] * 8 + [True]] and m["high_norm_tokens"] == [1]
    assert m["top_token"][0] == pytest.approx([0.5, 0.5 / 0.75])
    # head 0: rim 0.5 x 1 + 0.2 x 0.5 = 0.6; head 1: the negative token 0 counts as 0, 0.5 x 0.5 = 0.25 of 0.75
    assert m["rim"][0] == pytest.approx([0.6, 0.25 / 0.75])
    assert m["high_norm"][0] == pytest.approx([0.2, 0.5 / 0.75])
    assert summary(m) == {"top_token": pytest.approx((0.5 + 2 / 3) / 2), "rim": pytest.approx((0.6 + 1 / 3) / 2),
                          "high_norm": pytest.approx((0.2 + 2 / 3) / 2), "high_norm_tokens": 1}


def test_the_lab_names_the_winner_of_each_measure_over_three_models(tmp_path):
    """Issue 31, point 4: per model and paired, whichever model wins each measure, and what none of them does."""
    import json

    from demo.study_note import study_sentence

    def ci(lo, hi):
        return {"mean": (lo + hi) / 2, "ci": [lo, hi]}

    def variant(drawn, rim, lesion, entropy):
        return {"drawn_distractor_mass": ci(*drawn), "rim_mass": ci(*rim), "lesion_mass": ci(*lesion),
                "entropy": ci(entropy, entropy)}

    runs = [{"seed": s} for s in range(8)]
    summary = {
        "vanilla": variant((0.08, 0.12), (0.1, 0.2), (0.05, 0.15), 0.95),
        "diff": variant((0.04, 0.06), (0.1, 0.3), (0.1, 0.14), 0.85),
        "diff_v2": variant((0.05, 0.07), (0.1, 0.2), (0.18, 0.22), 0.9),
        # drawn: diff below both others; rim: nothing resolved; lesion: diff_v2 above both others
        "diff_minus_vanilla": {"drawn_distractor_mass": ci(-0.07, -0.03), "rim_mass": ci(-0.1, 0.1),
                               "lesion_mass": ci(-0.02, 0.06)},
        "diff_v2_minus_vanilla": {"drawn_distractor_mass": ci(-0.06, -0.02), "rim_mass": ci(-0.05, 0.05),
                                  "lesion_mass": ci(0.02, 0.1)},
        "diff_v2_minus_diff": {"drawn_distractor_mass": ci(0.01, 0.03), "rim_mass": ci(-0.1, 0.02),
                               "lesion_mass": ci(0.01, 0.05)},
    }
    doc = {"seeds": {v: runs for v in ("vanilla", "diff", "diff_v2")}, "summary": summary,
           "bundled": {"vanilla": 3, "diff": 1, "diff_v2": 5}}
    path = tmp_path / "study.json"
    path.write_text(json.dumps(doc))
    said = study_sentence(path)
    assert said.startswith("**What 8 training seeds per model say**")
    assert ("on drawn distractors: standard 0.100 [95% CI 0.080, 0.120], differential 0.050 [95% CI 0.040, 0.060], "
            "DIFF V2 0.060 [95% CI 0.050, 0.070] (the differential model puts less there than every other)") in said
    assert "on the dark rim: standard 0.150" in said and "(no model puts resolvably less there than the others)" in said
    assert "on the lesion: standard 0.100" in said and "(the DIFF V2 model puts more there than every other)" in said
    assert "every model's median normalised entropy is above 0.8 (1 is a uniform map; lowest 0.85)" in said
    assert "None puts more than 20% of its attention on the lesion on average." in said
    assert said.endswith("The bundled models are the study's median seeds (standard 3, differential 1, DIFF V2 5).")
    summary["diff"]["entropy"] = ci(0.7, 0.7)  # one model focuses: the sentence no longer says none does
    path.write_text(json.dumps({**doc, "bundled": None}))
    said = study_sentence(path)
    assert "None of them focuses" not in said and said.endswith("The bundled models are not this study's runs: docs/demo-models.md says which they are.")
