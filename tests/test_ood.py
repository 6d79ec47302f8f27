"""The out-of-distribution check (diffclip.ood): scores against hand restatements, the stored statistics,
the field-of-view and section tests, the bundled model on a photo and on its example frames, and the
``/predict_frame`` endpoint."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from PIL import Image
from scipy.spatial.distance import mahalanobis
from sklearn.covariance import ledoit_wolf

from diffclip.checkpoint import save_checkpoint
from diffclip.factory import build_model
from diffclip.inference import Predictor
from diffclip.labels import LABELS
from diffclip.ood import (
    MIN_SUPPORT,
    OOD_NAME,
    OODStats,
    energy_scores,
    exclusive_sections_reason,
    field_of_view_reason,
    fit_mahalanobis,
    load_ood,
    mahalanobis_scores,
    save_ood,
)
from training.fit_ood import FitSettings, fit_checkpoints

ROOT = Path(__file__).resolve().parents[1]
DIFF = ROOT / "demo" / "weights" / "diff"
EXAMPLES = sorted(p for p in (ROOT / "demo" / "examples" / "frames").glob("*.png") if not p.stem.endswith("_mask"))


def grace_hopper() -> Image.Image:
    from matplotlib import cbook

    return Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB")


def test_mahalanobis_score_by_hand():
    means = np.array([[0.0, 0.0], [2.0, 0.0]])
    precision = np.diag([1.0, 4.0])
    feats = np.array([[1.0, 1.0], [3.0, 0.0], [0.0, -0.5]])
    # (1,1): 1 + 4 to either mean; (3,0): 1 to the second; (0,-0.5): 4 * 0.25 to the first
    assert mahalanobis_scores(feats, means, precision).tolist() == [5.0, 1.0, 1.0]


def test_mahalanobis_score_matches_scipy():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 6))
    precision = a @ a.T + np.eye(6)
    means, feats = rng.normal(size=(3, 6)), rng.normal(size=(5, 6))
    expected = [min(mahalanobis(f, m, precision) ** 2 for m in means) for f in feats]
    np.testing.assert_allclose(mahalanobis_scores(feats, means, precision), expected, rtol=1e-12)


def test_energy_score_by_hand():
    logits = np.array([[0.0, 0.0], [np.log(3.0), -np.inf]])
    # -(log 2 + log 2) and -(log(1 + 3) + log 1)
    np.testing.assert_allclose(energy_scores(logits), [-2 * np.log(2), -np.log(4)], rtol=1e-15)


def test_fit_means_per_label_and_shrunk_tied_covariance():
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(40, 3))
    targets = np.zeros((40, 3), bool)
    targets[:25, 0] = targets[20:, 1] = True  # frames 20-24 carry both labels
    targets[:MIN_SUPPORT - 1, 2] = True  # too few frames: no mean of its own
    means, precision, classes = fit_mahalanobis(feats, targets, ("a", "b", "c"))
    assert classes == ("a", "b")
    np.testing.assert_allclose(means, [feats[:25].mean(0), feats[20:].mean(0)], rtol=1e-12)
    residuals = np.concatenate([feats[:25] - feats[:25].mean(0), feats[20:] - feats[20:].mean(0)])
    cov, _ = ledoit_wolf(residuals, assume_centered=True)
    np.testing.assert_allclose(precision, np.linalg.inv(cov), rtol=1e-8)
    with pytest.raises(ValueError, match="no label has 10 fitting frames"):
        fit_mahalanobis(feats[:5], targets[:5], ("a", "b", "c"))


def disc_image(size: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    inside = np.hypot(xx - (size - 1) / 2, yy - (size - 1) / 2) < 0.48 * size
    img = np.zeros((size, size, 3), np.uint8)
    img[inside] = (200, 120, 90)
    return img


def test_field_of_view_disc_passes_rimless_and_dark_fail():
    assert field_of_view_reason(disc_image()) is None
    rimless = np.full((64, 64, 3), 128, np.uint8)
    assert field_of_view_reason(rimless) == "no dark rim around a circular field of view (rim 0% of the frame)"
    banded = rimless.copy()
    banded[:16] = 0  # a dark band along the top: a rim that misses the bottom corners
    assert field_of_view_reason(banded) == "no dark rim around a circular field of view (rim 25% of the frame)"
    assert field_of_view_reason(np.zeros((64, 64, 3), np.uint8)) == "mostly dark: 100% of the frame is rim"


def test_exclusive_sections():
    probs = np.zeros(len(LABELS))
    thresholds = np.full(len(LABELS), 0.5)
    probs[LABELS.index("stomach")] = probs[LABELS.index("z-line")] = 0.9
    assert exclusive_sections_reason(probs, thresholds, LABELS) is None  # a landmark with its section
    probs[LABELS.index("esophagus")] = 0.5
    assert exclusive_sections_reason(probs, thresholds, LABELS) == \
        "mutually exclusive sections predicted together: esophagus, stomach"


@pytest.fixture(scope="module")
def micro_checkpoint(tmp_path_factory):
    torch.manual_seed(3)
    path = tmp_path_factory.mktemp("ood") / "micro"
    save_checkpoint(build_model("micro", "diff").eval(), path)
    return path


def test_stats_round_trip_and_stale_stats_refused(micro_checkpoint, tmp_path):
    ckpt = Path(shutil.copytree(micro_checkpoint, tmp_path / "ckpt"))
    rng = np.random.default_rng(2)
    tensors = {"means": rng.normal(size=(2, 64)), "precision": np.eye(64), "heldout_scores": np.arange(5.0)}
    save_ood(ckpt, OODStats("mahalanobis", 12.5, tensors, ("stomach", "colon"), fitted={"seed": 1}))
    config = json.loads((ckpt / "config.json").read_text())
    assert config["ood"]["method"] == "mahalanobis" and config["ood"]["feature_dim"] == 64
    stats, reason = load_ood(ckpt, config)
    assert reason is None and stats.threshold == 12.5 and stats.classes == ("stomach", "colon")
    assert stats.fitted == {"seed": 1}
    for k, v in tensors.items():
        np.testing.assert_array_equal(stats.tensors[k], v.astype(np.float32))
    # new weights under old statistics: refused by the loader, the predictor still loads without a check
    weights = ckpt / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b" ")
    with pytest.raises(ValueError, match="fitted for other weights"):
        load_ood(ckpt, config)
    (ckpt / OOD_NAME).unlink()
    with pytest.raises(ValueError, match="missing, but config.json has an 'ood' entry"):
        load_ood(ckpt, config)


def test_checkpoint_without_stats_reports_none(micro_checkpoint):
    predictor = Predictor(micro_checkpoint, device="cpu", precision="fp32")
    (result,) = predictor.ood_of(predictor.run(predictor.crops([disc_image()])))
    assert result.in_distribution is None and result.score is None and result.threshold is None
    assert "no ood statistics" in result.reasons[0]


def test_fit_is_deterministic_and_flags_by_threshold(micro_checkpoint, tmp_path):
    a = shutil.copytree(micro_checkpoint, tmp_path / "a")
    b = shutil.copytree(micro_checkpoint, tmp_path / "b")
    s = FitSettings(frames=30, size=64, fit_videos=2, threshold_videos=1, stride=2)
    (stats,), _ = fit_checkpoints([a], s), fit_checkpoints([b], s)
    for name in (OOD_NAME, "config.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    held = stats.tensors["heldout_scores"]
    assert len(held) == 15 and np.all(np.diff(held) >= 0)
    # the threshold is the 97.5th percentile of the held-out scores (numpy's linear interpolation)
    k = 0.975 * (len(held) - 1)
    lo = int(np.floor(k))
    assert stats.threshold == pytest.approx(held[lo] + (k - lo) * (held[lo + 1] - held[lo]), rel=1e-5)
    assert Predictor(a, device="cpu").ood.threshold == stats.threshold


@pytest.fixture(scope="module")
def diff_predictor():
    return Predictor(DIFF, device="cpu", precision="fp32")


def test_bundled_model_flags_a_portrait_and_passes_its_examples(diff_predictor):
    assert diff_predictor.ood is not None and diff_predictor.ood.method == "mahalanobis"
    photo, *frames = diff_predictor.ood_of(diff_predictor.run(diff_predictor.crops([grace_hopper(), *EXAMPLES])))
    assert photo.in_distribution is False and photo.reasons
    assert len(frames) == len(EXAMPLES) >= 5
    assert [r.in_distribution for r in frames] == [True] * len(frames), [r.reasons for r in frames]
    assert all(r.score <= r.threshold for r in frames)


def test_bundled_model_flags_a_grey_frame_by_its_features(diff_predictor):
    # a grey ulcer keeps its field of view: only the feature score can tell
    grey = np.asarray(Image.open(ROOT / "demo" / "examples" / "frames" / "ulcer.png").convert("L").convert("RGB"))
    (result,) = diff_predictor.ood_of(diff_predictor.run(diff_predictor.crops([grey])))
    assert result.in_distribution is False and result.score > result.threshold
    assert result.reasons[0].startswith("mahalanobis score")


def test_predict_frame_carries_in_distribution(app_url):
    client = Client(app_url, verbose=False)
    out = client.predict(handle_file(str(EXAMPLES[0])), api_name="/predict_frame")
    assert out["in_distribution"] is True and out["ood_score"] <= out["ood_threshold"]
    from matplotlib import cbook

    out = client.predict(handle_file(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)),
                         api_name="/predict_frame")
    assert out["in_distribution"] is False and out["ood_reasons"]


def test_refit_uses_the_frames_each_checkpoint_was_trained_on(tmp_path):
    """`python -m training.fit_ood DIR` refits as the training export did: frames with the checkpoint's own
    synthetic settings (the bundled trio trained with look-alikes), seeds after its training seed; a checkpoint
    without synthetic settings gets the defaults."""
    import json

    from training.fit_ood import settings_of

    trio = settings_of(DIFF)
    assert (trio.lookalikes, trio.frames, trio.fit_seed, trio.threshold_seed) == (0.25, 300, 1, 2)
    assert trio == FitSettings(**json.loads((DIFF / "config.json").read_text())["ood"]["fitted"]["settings"])
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "config.json").write_text(json.dumps({"training": {"config": {
        "data": "synthetic", "synth_frames": 120, "synth_size": 96, "synth_rare_share": 0.05, "synth_seed": 7}}}))
    assert settings_of(tmp_path / "a") == FitSettings(frames=120, size=96, rare_share=0.05, fit_seed=8,
                                                      threshold_seed=9, lookalikes=0.0)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "config.json").write_text(json.dumps({"training": {"config": {"data": "galar"}}}))
    assert settings_of(tmp_path / "b") == FitSettings()
