import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score

from training.config import load_config
from training.losses import AsymmetricFocalLoss, pos_weight_from_targets
from training.metrics import frame_metrics, search_thresholds
from training.mixup import mixup
from training.sampler import EpochSampler, sqrt_frequency_weights


def test_loss_reduces_to_bce_with_logits():
    torch.manual_seed(0)
    x = torch.randn(6, 17) * 2  # inside the paper's 1e-6 probability clamp
    y = (torch.rand(6, 17) > 0.7).float()
    plain = AsymmetricFocalLoss(gamma_pos=0, gamma_neg=0, clip=0, label_smoothing=0)
    assert torch.allclose(plain(x, y), F.binary_cross_entropy_with_logits(x, y), atol=1e-6)
    pw = torch.rand(17) * 5 + 1
    weighted = AsymmetricFocalLoss(gamma_pos=0, gamma_neg=0, clip=0, label_smoothing=0, pos_weight=pw)
    assert torch.allclose(weighted(x, y), F.binary_cross_entropy_with_logits(x, y, pos_weight=pw), atol=1e-6)


def _paper_element(logit, y, gp=1.0, gn=4.0, clip=0.05, s=0.05, pw=None):
    """One element of the paper's rare_vision_pipeline_v3_1.py AsymmetricFocalLoss, restated in
    plain Python: smoothing y(1-s) + (1-y)s, p clamped to [1e-6, 1-1e-6], shifted negatives,
    focal weight, then the whole element times t pw + (1 - t)."""
    t = y * (1 - s) + (1 - y) * s
    p = min(max(1 / (1 + math.exp(-logit)), 1e-6), 1 - 1e-6)
    q = min(max(1 - p, 1e-6) + clip, 1.0)
    elem = t * math.log(p) + (1 - t) * math.log(q)
    elem *= (1 - (p * t + q * (1 - t))) ** (gp * t + gn * (1 - t))
    if pw is not None:
        elem *= t * pw + (1 - t)
    return elem


def _paper_loss(x, y, pw=None, **kw):
    rows = [[_paper_element(lg, yy, pw=None if pw is None else pw[j], **kw)
             for j, (lg, yy) in enumerate(zip(xr, yr, strict=True))] for xr, yr in zip(x, y, strict=True)]
    return -sum(map(sum, rows)) / (len(rows) * len(rows[0]))


def test_loss_check_values_from_the_papers_formula():
    # computed by hand: t = 0.95, p = 0.5, q = 0.55, gamma = 1.15 -> 0.688386 * 0.4975**1.15
    one = AsymmetricFocalLoss(label_smoothing=0.05)(torch.zeros(1, 1), torch.ones(1, 1)).item()
    assert one == pytest.approx(0.308419, abs=1e-6)
    # t = 0.5, q = 0.55, gamma = 2.5 -> 0.645493 * 0.475**2.5 * (0.5 * 10 + 0.5)
    pw = AsymmetricFocalLoss(label_smoothing=0.0, pos_weight=torch.tensor([10.0]))
    assert pw(torch.zeros(1, 1), torch.full((1, 1), 0.5)).item() == pytest.approx(0.552062, abs=1e-6)


@pytest.mark.parametrize("smoothing", [0.0, 0.05])
@pytest.mark.parametrize("with_pw", [False, True])
def test_loss_equals_the_papers_formula_on_soft_targets(smoothing, with_pw):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(8, 17, generator=g, dtype=torch.float64) * 4
    x[0, :3] = torch.tensor([20.0, -20.0, 0.0])  # beyond the probability clamp on both sides
    y = torch.rand(8, 17, generator=g, dtype=torch.float64)  # mixup-like soft targets
    y[1] = (y[1] > 0.5).double()
    pw = (torch.rand(17, generator=g) * 20 + 1).tolist() if with_pw else None
    loss = AsymmetricFocalLoss(label_smoothing=smoothing, pos_weight=None if pw is None else torch.tensor(pw))
    got = loss(x.float(), y.float()).item()
    assert got == pytest.approx(_paper_loss(x.tolist(), y.float().double().tolist(), pw, s=smoothing), rel=1e-4)


def test_pos_weight_is_negatives_over_positives_plus_one():
    y = [[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 0], [0, 1, 0]]
    # N = 5; P = 1, 3, 0 -> 4/2 = 2, 2/4 = 0.5 -> 1 (lower clip), 5/1 = 5
    assert pos_weight_from_targets(np.array(y)).tolist() == [2.0, 1.0, 5.0]
    many = np.zeros((1000, 2))
    many[0, 0] = 1
    # 999 / 2 = 499.5 -> 100 (upper clip); 1000 / 1 -> 100
    assert pos_weight_from_targets(many).tolist() == [100.0, 100.0]
    assert pos_weight_from_targets(many, max_weight=300).tolist() == [300.0, 300.0]


def test_loss_never_changes_grad_mode():
    loss = AsymmetricFocalLoss()
    x, y = torch.randn(4, 3, requires_grad=True), torch.ones(4, 3)
    with torch.no_grad():
        loss(x, y)
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled()
    loss(x, y).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_sqrt_frequency_weights_as_the_papers_sampler():
    t = np.array([[1, 0, 0], [1, 0, 0], [1, 1, 0], [0, 0, 0]])
    w = sqrt_frequency_weights(t)
    # N = 4; (P + 1) / N = 1, 0.5, 0.25 -> label weights 1, sqrt(2), 2; a frame takes its heaviest
    # label's weight; the frame without labels weighs 1
    assert w.tolist() == pytest.approx([1.0, 1.0, math.sqrt(2), 1.0])
    t = np.array([[0, 1], [0, 0], [0, 0], [0, 0], [0, 0], [0, 0], [0, 0], [0, 0]])
    # label 1: (1 + 1) / 8 -> 2
    assert sqrt_frequency_weights(t).tolist() == pytest.approx([2.0] + [1.0] * 7)


def test_epoch_sampler_is_reproducible_and_shards_exactly():
    w = np.array([1.0, 5.0, 1.0, 1.0, 3.0, 1.0, 1.0, 2.0])
    single = EpochSampler(8, w, num_samples=16, seed=3)
    batches = list(single.batches(epoch=2, batch_size=4))
    assert batches == list(EpochSampler(8, w, num_samples=16, seed=3).batches(epoch=2, batch_size=4))
    assert batches != list(single.batches(epoch=3, batch_size=4))
    assert list(single.batches(2, 4, start=2)) == batches[2:]
    ranks = [list(EpochSampler(8, w, 16, seed=3, rank=r, world_size=2).batches(2, 2)) for r in range(2)]
    for b, global_batch in enumerate(batches):
        assert sorted(ranks[0][b] + ranks[1][b]) == sorted(global_batch)
    counts = np.bincount(np.concatenate([list(EpochSampler(8, w, 8000, seed=e).global_order(0)) for e in range(3)]), minlength=8)
    assert counts[1] / counts[0] == pytest.approx(5, rel=0.15)


def test_mixup_lambda_and_targets():
    x = torch.arange(4.0).view(4, 1)
    y = torch.eye(4)
    for seed in range(20):
        xm, ym, lam = mixup(x, y, np.random.default_rng(seed))
        assert 0.5 <= lam <= 1.0
        assert torch.allclose(ym.sum(1), torch.ones(4))
        assert torch.allclose(xm[:, 0], ym @ x[:, 0])


def test_threshold_search_and_metrics_on_hand_made_case():
    probs = np.array([[0.9, 0.2], [0.6, 0.1], [0.4, 0.3], [0.1, 0.05]])
    targets = np.array([[1, 0], [1, 0], [0, 0], [0, 0]])
    thr = search_thresholds(probs, targets)
    # common label: grid 0.15, 0.17, ... 0.83; the first grid value above 0.4 is 0.41
    assert thr[0] == pytest.approx(0.41)
    assert thr[1] == pytest.approx(0.2)  # no positives: the paper's 0.2
    m = frame_metrics(probs, targets, thr, labels=["a", "b"])
    assert m["per_label"]["a"]["ap"] == pytest.approx(average_precision_score(targets[:, 0], probs[:, 0])) == 1.0
    assert m["per_label"]["a"]["f1"] == 1.0 and m["per_label"]["a"]["support"] == 2
    assert math.isnan(m["per_label"]["b"]["ap"])
    assert m["map_supported"] == 1.0 and m["map_all"] == 0.5 and m["labels_supported"] == 1


def test_config_overrides_and_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 3\nlr: 0.01\nbackbone: tiny\n")
    cfg = load_config(path, ["epochs=4", "mixup=false", "export_dir=null", "lr=1e-3"])
    assert cfg.epochs == 4 and cfg.mixup is False and cfg.export_dir is None and cfg.lr == 0.001
    with pytest.raises(ValueError, match=r"unknown config keys \['epoch'\]"):
        load_config(path, ["epoch=3"])
    with pytest.raises(ValueError, match="'epochs' must be an integer"):
        load_config(path, ["epochs=many"])
    with pytest.raises(ValueError, match="must look like key=value"):
        load_config(path, ["epochs"])
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_config_overrides_with_tags_or_containers_are_plain_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("1: 2\n")
    with pytest.raises(ValueError, match=r"unknown config keys \[1\]"):  # not a TypeError from sorting
        load_config(path)
    path.write_text("epochs: 3\n")
    with pytest.raises(ValueError, match=r"^override 'name=!foo x': YAML tag not allowed .*'!foo'"):
        load_config(path, ["name=!foo x"])
    with pytest.raises(ValueError, match=r"^override 'lr=\[1': invalid YAML"):
        load_config(path, ["lr=[1"])
    with pytest.raises(ValueError, match=r"config key 'name' must be a single value, got a list"):
        load_config(path, ["name=[a, b]"])


def test_report_keeps_the_sections_after_its_table(tmp_path):
    from training.report import _sections_after_table

    path = tmp_path / "report.md"
    assert _sections_after_table(path) == ""
    path.write_text("Held-out ...\n\n| label | AP |\n|---|---|\n| mouth | 1.000 |\n")
    assert _sections_after_table(path) == ""
    path.write_text("Held-out ...\n\n| a |\n\n## Attention noise\n\ntable\n\n## Training time\n\n27 min\n")
    assert _sections_after_table(path) == "\n## Attention noise\n\ntable\n\n## Training time\n\n27 min\n"


def test_threshold_search_as_the_papers_grid():
    # a rare label (1 positive in 200 frames < 1%) is searched from 0.05: its positive at 0.07 is found
    probs = np.full((200, 3), 0.01)
    targets = np.zeros((200, 3))
    probs[0, 0], targets[0, 0] = 0.07, 1
    # a common label with a positive at 0.10, below the common grid's 0.15: F1 is 0 everywhere -> 0.5
    probs[:3, 1], targets[:3, 1] = 0.10, 1
    # a common label separable only above 0.84: the grid stops at 0.83, where F1 is the same 8 / 14 as
    # at 0.15 (4 true, 6 false positives), so the first best, 0.15, is kept
    probs[:4, 2], targets[:4, 2] = 0.95, 1
    probs[4:10, 2] = 0.84
    thr = search_thresholds(probs, targets)
    assert thr[0] == pytest.approx(0.05)  # 0.05 already separates 0.07 from 0.01: the first best
    assert thr[1] == pytest.approx(0.5)
    assert thr[2] == pytest.approx(0.15)


def test_text_prompt_term_as_the_papers():
    from training.losses import TextPromptLoss

    def softplus(v):
        return math.log1p(math.exp(v))

    term = TextPromptLoss(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), pos_weight=torch.tensor([2.0, 3.0]))
    feats, y = torch.tensor([[3.0, 4.0]]), torch.tensor([[1.0, 0.0]])
    # cos = 0.6, 0.8; scale 1 / 0.07; BCE with pos_weight 2 on the positive; mean of the two
    s = 1 / 0.07
    expected = (2 * softplus(-0.6 * s) + softplus(0.8 * s)) / 2
    assert term(feats, y).item() == pytest.approx(expected, rel=1e-5)
    with torch.no_grad():
        term.logit_scale.fill_(math.log(500.0))  # the scale is clamped at 100
    assert term(feats, y).item() == pytest.approx((2 * softplus(-60.0) + softplus(80.0)) / 2, rel=1e-5)


def test_global_batchnorm_keeps_fp32_statistics_under_bf16_autocast(tmp_path):
    """Under bf16 autocast the head's features arrive in bf16; the running statistics stay fp32 and equal
    the fp32 update of the same batch (before the fix, lerp_ refused bf16 statistics)."""
    import torch.distributed as dist

    from training.distributed import GlobalBatchNorm1d

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        torch.manual_seed(0)
        x = (torch.randn(16, 8) * 3 + 1).bfloat16()
        bn = GlobalBatchNorm1d(8).train()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = bn(x)
        xf = x.float()
        assert out.dtype == torch.bfloat16 and bn.running_mean.dtype == torch.float32
        assert torch.allclose(bn.running_mean, 0.1 * xf.mean(0), atol=1e-6)
        assert torch.allclose(bn.running_var, 0.9 + 0.1 * xf.var(0, unbiased=True), atol=1e-5)
        ref = torch.nn.functional.batch_norm(xf, None, None, training=True)
        assert torch.allclose(out.float(), ref, atol=0.05)  # bf16 output of the fp32 normalisation
    finally:
        dist.destroy_process_group()


def test_report_tests_checkpoints_on_the_look_alikes_they_trained_with(tmp_path):
    """The bundled trio learnt frames with look-alike distractors: its report tests on such frames, and
    checkpoints trained on different kinds of frames are not put in one table."""
    import json

    from training.report import trained_lookalikes

    def checkpoint(name, config):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps({"training": {"config": config}}))
        return tmp_path / name

    synthetic = {"data": "synthetic", "synth_frames": 300, "synth_size": 224, "synth_rare_share": 0.03, "synth_seed": 0}
    a, b = checkpoint("a", {**synthetic, "synth_lookalikes": 0.25}), checkpoint("b", {**synthetic, "synth_lookalikes": 0.25})
    # "old": trained before look-alikes existed (no such key)
    old, other = checkpoint("old", synthetic), checkpoint("other", {**synthetic, "synth_lookalikes": 0.1})
    assert trained_lookalikes([a, b]) == 0.25 and trained_lookalikes([old]) == 0.0
    with pytest.raises(ValueError, match=r"different look-alike shares \[0.0, 0.25\]"):
        trained_lookalikes([a, old])
    with pytest.raises(ValueError, match=r"\[0.1, 0.25\]"):
        trained_lookalikes([other, b])
