"""The checks beside every map (explain.checks), IG's convergence sentence and the faithfulness benchmark."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from diffclip.factory import build_model
from diffclip.fov import fov_mask, outside_share
from diffclip.inference import Predictor
from explain.analysis import analyse
from explain.checks import RIM_THRESHOLD, faithfulness, faithfulness_caption, rim_note
from explain.methods import Explanation, explain
from explain.methods.captum_tools import baseline_like
from explain.methods.integrated_gradients import (
    adaptive_integrated_gradients,
    convergence_sentence,
    ig_attribution,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def predictor(tiny_checkpoint):
    return Predictor(tiny_checkpoint, device="cpu", precision="fp32")


def _disc_frame(size=224, radius=100):
    """A lit disc (varied colours, so the model's score moves) on a black rim."""
    yy, xx = np.mgrid[:size, :size]
    inside = (yy - size / 2 + 0.5) ** 2 + (xx - size / 2 + 0.5) ** 2 <= radius**2
    rgb = np.random.default_rng(0).integers(60, 255, (size, size, 3), dtype=np.uint8)
    rgb[~inside] = 0
    return rgb, inside


def test_rim_note_speaks_only_above_the_threshold():
    assert RIM_THRESHOLD == 0.5
    assert rim_note(0.5) is None and rim_note(0.1) is None and rim_note(float("nan")) is None
    note = rim_note(0.62)
    assert note.startswith("62% of this map lies on the black rim outside the field of view")
    assert "Darcet et al. 2023" in note and "Vision Transformers Need Registers" in note


def test_rim_share_of_hand_made_maps():
    rgb, inside = _disc_frame()

    def rim_share(image, map2d):  # what faithfulness() reports as outside_fov_share
        return outside_share(map2d, fov_mask(image))

    on_rim = (~inside).astype(float)
    assert rim_share(rgb, on_rim) == pytest.approx(1.0)
    assert rim_share(rgb, inside.astype(float)) == pytest.approx(0.0)
    # a uniform map: the rim's area
    assert rim_share(rgb, np.ones((224, 224))) == pytest.approx(1 - inside.mean())
    # a 14 x 14 token map: each cell weighs its pixels outside the disc; the corner cell is all rim
    cell = np.zeros((14, 14))
    cell[0, 0] = 2.0
    assert rim_share(rgb, cell) == pytest.approx(1.0)


def test_faithfulness_numbers_restated_by_hand(predictor):
    rgb, inside = _disc_frame()
    analysis = analyse(predictor, rgb)
    assert np.array_equal(analysis.image, rgb)
    label = 3
    ranks = np.random.default_rng(1).permutation(224 * 224).reshape(224, 224).astype(float)  # distinct values
    ranks[~inside] = -1 - ranks[~inside]  # negative (and distinct) on the rim: no positive mass there
    ranks[60, 150] = ranks.max() + 1  # the peak: 16 px right of the mask below, 15 px tolerance -> a miss
    mask = np.zeros((224, 224), np.uint8)
    mask[60:140, 100:135] = 1
    att = Explanation(ranks, True, "ranks", method="toy", label=label)
    readers = []
    hook = predictor.model.register_forward_hook(
        lambda m, i, o: readers.append((predictor.lock._readers, torch.is_grad_enabled())))
    try:
        d = faithfulness(analysis, predictor, att, mask=mask, steps=4)
    finally:
        hook.remove()
    assert readers and set(readers) == {(1, False)}  # shared lock held, no autograd
    assert d["outside_fov_share"] == 0.0 and d["uniform_outside_share"] == pytest.approx(1 - inside.mean())
    positive = np.clip(ranks, 0, None)
    assert d["mask_share"] == pytest.approx(positive[mask > 0].sum() / positive.sum())
    assert d["uniform_mask_share"] == pytest.approx(80 * 35 / 224**2)
    assert d["pointing"] is False
    # deletion and insertion by hand: the top k pixels (k = 0, n/4, ... n) black / shown, trapezoid rule
    x = analysis.x
    black = baseline_like(x, predictor.pre)
    order = np.argsort(-ranks.ravel())
    dele, ins = [], []
    for k in np.linspace(0, ranks.size, 5).round().astype(int):
        top = np.zeros(ranks.size, bool)
        top[order[:k]] = True
        top = torch.from_numpy(top.reshape(1, 1, 224, 224))
        with torch.no_grad():
            dele.append(torch.sigmoid(predictor.model(torch.where(top, black, x))[0, label]).item())
            ins.append(torch.sigmoid(predictor.model(torch.where(top, x, black))[0, label]).item())
    trapezoid = lambda ys: sum((a + b) / 2 * 0.25 for a, b in zip(ys[:-1], ys[1:], strict=True))  # noqa: E731
    assert d["deletion_auc"] == pytest.approx(trapezoid(dele), abs=1e-6)
    assert d["insertion_auc"] == pytest.approx(trapezoid(ins), abs=1e-6)
    assert d["score"] == pytest.approx(dele[0], abs=1e-6)
    mask[60, 136] = 1  # now 14 px away: a hit
    assert faithfulness(analysis, predictor, att, mask=mask, steps=1)["pointing"] is True
    with pytest.raises(ValueError, match="the mask is 100x100 but the crop the model saw is 224x224"):
        faithfulness(analysis, predictor, att, mask=np.zeros((100, 100)))
    with pytest.raises(ValueError, match="names no label"):
        faithfulness(analysis, predictor, Explanation(ranks, True, "x"))


def test_faithfulness_caption_explains_each_number():
    d = {"score": 0.91, "deletion_auc": 0.214, "insertion_auc": 0.65, "outside_fov_share": 0.62,
         "uniform_outside_share": 0.27, "mask_share": 0.4, "uniform_mask_share": 0.06, "pointing": True}
    text = faithfulness_caption(d)
    assert text.startswith("Label score 0.91; deletion AUC 0.21 (lower = ")
    assert "insertion AUC 0.65 (higher = " in text and "40% of the map inside the lesion mask (a uniform map: 6%)" in text
    assert "its peak hits the lesion (within 15 px)" in text and "62% on the black rim" in text
    no_mask = {k: v for k, v in d.items() if k not in ("mask_share", "uniform_mask_share", "pointing")}
    assert "lesion" not in faithfulness_caption(no_mask)


def test_convergence_sentence():
    assert convergence_sentence(0.021, 13) == "attributions add up to the score change within 2.1% (13 points on the path)"
    assert convergence_sentence(0.073, 64, cap=64) == ("attributions add up to the score change within 7.3% at the "
                                                       "cap of 64 points on the path: read the map with care")
    assert convergence_sentence(0.073, 63, cap=64).endswith("(63 points on the path; more would bring them closer)")
    assert convergence_sentence(0.3, 16, cap=None).endswith("(16 points on the path; more would bring them closer)")
    assert "no score change" in convergence_sentence(math.inf, 32)


class Power(torch.nn.Module):
    """Logit 5 is (w . z + c)^p: along the path from b to x, F(a) = (s0 + a s1)^p with s0 = w . b + c and
    s1 = w . (x - b), and grad F = p (s0 + a s1)^(p - 1) w; the other logits are 0."""

    def __init__(self, w, c, p):
        super().__init__()
        self.w, self.c, self.p = w, c, p

    def forward(self, z):
        s = (z * self.w).flatten(1).sum(1) + self.c
        out = torch.zeros(z.shape[0], 17, dtype=z.dtype)
        out[:, 5] = s**self.p
        return out


def _power_case(seed=2, c=0.3):
    torch.manual_seed(seed)
    w = torch.randn(1, 3, 4, 4) * 0.1
    x, b = torch.randn(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)
    return w, x, b, float((w * b).sum()) + c, float((w * (x - b)).sum())


def test_adaptive_ig_by_hand_on_a_quadratic():
    """F quadratic along the path: g(a) = 2 s1 (s0 + a s1) is linear, which the trapezoid integrates exactly, so
    the first three points (two panels) are the answer: (x - b) * w * int_0^1 2 (s0 + a s1) da =
    (x - b) * w * ((s0 + s1)^2 - s0^2) / s1; by hand, no quadrature."""
    w, x, b, s0, s1 = _power_case()
    r = adaptive_integrated_gradients(Power(w, 0.3, 2), x, 5, b)
    by_hand = (x - b) * w * ((s0 + s1) ** 2 - s0**2) / s1
    assert r.steps == 3 and torch.allclose(r.attributions, by_hand, atol=1e-6)
    assert abs(r.delta) < 1e-5 and r.score_change == pytest.approx((s0 + s1) ** 2 - s0**2, rel=1e-6)


def test_adaptive_ig_by_hand_on_a_quartic():
    """F = s(a)^4 with s(a) = s0 + a s1, s0, s1 > 0, g(a) = 4 s1 s(a)^3. A trapezoid panel [a, c] errs by
    e = (c - a) (g(a) + g(c)) / 2 - (F(c) - F(a)), which grows along the path (g'' increases): from [0, 1/2],
    [1/2, 1] the second is halved, so with a cap of 4 the points are 0, 1/2, 3/4, 1 (read from what the model
    was given), delta is the three panels' e, and the attributions are the trapezoid's weights (1/4, 3/8, 1/4, 1/8)
    at those points times 4 (s0 + a s1)^3 (x - b) w; all restated here from the formulas."""
    torch.manual_seed(2)
    w = torch.randn(1, 3, 4, 4).abs() * 0.1
    x, b = torch.randn(1, 3, 4, 4).abs() + 0.1, torch.zeros(1, 3, 4, 4)
    s0, s1 = 0.05, float((w * x).sum())
    seen = []

    class Recording(Power):
        def forward(self, z):
            seen.extend((z[:, 0, 0, 0] / x[0, 0, 0, 0]).tolist())  # z = b + a (x - b), b = 0
            return super().forward(z)

    r = adaptive_integrated_gradients(Recording(w, s0, 4), x, 5, b, tolerance=1e-9, cap=4)
    assert r.steps == 4 and sorted(round(a, 6) for a in seen) == [0.0, 0.5, 0.75, 1.0]

    def F(a):
        return (s0 + a * s1) ** 4

    def g(a):
        return 4 * s1 * (s0 + a * s1) ** 3

    def e(a, c):
        return (c - a) * (g(a) + g(c)) / 2 - (F(c) - F(a))

    assert e(0.5, 1.0) > e(0.0, 0.5) > 0
    assert r.delta == pytest.approx(e(0, 0.5) + e(0.5, 0.75) + e(0.75, 1), rel=1e-4)
    weights = {0.0: 1 / 4, 0.5: 3 / 8, 0.75: 1 / 4, 1.0: 1 / 8}
    by_hand = sum(wt * 4 * (s0 + a * s1) ** 3 for a, wt in weights.items()) * (x - b) * w
    assert torch.allclose(r.attributions, by_hand, rtol=1e-5, atol=1e-6)


def test_adaptive_ig_stops_at_a_jump_in_the_score():
    """A score with a step (bf16 makes scores step-shaped) keeps one panel's error at the step's height however
    small the panel: the refinement stops once the panel is 2^-20 wide instead of halving forever."""
    import threading

    class Step(torch.nn.Module):
        def forward(self, z):
            s = z.flatten(1).sum(1)
            out = torch.zeros(z.shape[0], 17, dtype=torch.float64)
            out[:, 5] = s.double() + 1000 * (s > 0.3137 * 48).double()
            return out

    x, b = torch.ones(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)
    done = []
    worker = threading.Thread(target=lambda: done.append(adaptive_integrated_gradients(Step(), x, 5, b, cap=256)),
                              daemon=True)
    worker.start()
    worker.join(60)
    assert done, "the refinement did not stop"
    r = done[0]
    assert 3 < r.steps < 40 and r.relative_delta > 0.05  # the jump cannot be integrated: said, not hidden


def test_adaptive_ig_adds_points_where_the_score_changes_until_it_adds_up():
    torch.manual_seed(2)
    model = build_model("micro", "diff").eval().float()
    x = torch.randn(1, 3, 64, 64)
    black = baseline_like(x, model.config.preprocess)
    with torch.no_grad():
        fx, fb = model(x)[0, 5].item(), model(black)[0, 5].item()
    for cap in (3, 64):
        att = ig_attribution(model, x, 5, cap=cap)
        by_hand = abs(att.map.sum() - (fx - fb)) / abs(fx - fb)  # completeness restated from the model's logits
        # the map's float32 sum over 3 x 64 x 64 values carries about 1e-6 of the score change
        assert att.meta["relative_delta"] == pytest.approx(by_hand, rel=1e-4, abs=1e-5)
        assert att.meta["score_change"] == pytest.approx(fx - fb, rel=1e-4)
        assert 3 <= att.meta["steps"] <= max(cap, 3)  # 3, then one point per halved panel
        assert by_hand < 0.05 or att.meta["steps"] >= cap


def test_noise_tunnel_caption_states_its_convergence(predictor):
    frame = np.random.default_rng(0).integers(0, 255, (224, 224, 3), dtype=np.uint8)
    att = explain(analyse(predictor, frame), predictor, "noise_tunnel", "blood", steps=4, samples=2)
    assert "averaged over 2 noisy copies" in att.caption and "attributions add up to the score change" in att.caption
    assert f"{att.meta['relative_delta']:.1%}" in att.caption and "delta" not in att.caption
    # the map adds up to the mean score change minus the mean delta, by construction
    assert att.map.sum() - att.meta["delta"] == pytest.approx(att.meta["score_change"], rel=1e-4, abs=1e-6)


def test_benchmark_structure_and_a_hand_checked_number(tmp_path):
    from benchmarks._heldout import lesion_frames
    from benchmarks.faithfulness import METRICS, bootstrap_ci, main

    assert bootstrap_ci([0.3, 0.3, 0.3]) == [pytest.approx(0.3), pytest.approx(0.3)]
    lo, hi = bootstrap_ci([0.0, 1.0, float("nan")])
    assert 0.0 <= lo <= hi <= 1.0
    out = tmp_path / "f.json"
    assert main(["--frames", "3", "--methods", "attention", "rollout", "--models", str(REPO / "demo" / "weights" / "diff"),
                 "--curve-steps", "2", "--no-ig-examples", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    frames = lesion_frames(3, 777)
    assert result["frames"] == 3 and "partial" not in result and result["command"].endswith(str(out))
    assert result["uniform_mask_share"] == pytest.approx(np.mean([m.mean() for _, m, _ in frames]))
    rows = result["models"]["diff"]
    assert set(rows) == {"attention", "rollout"}
    for r in rows.values():
        assert set(METRICS) <= set(r) and set(r["ci"]) == set(METRICS)
        assert r["pointing"] in (0, 1 / 3, 2 / 3, 1)
        for k in METRICS:
            assert r["ci"][k][0] <= r[k] + 1e-12 and r[k] <= r["ci"][k][1] + 1e-12


def test_noise_tunnel_copies_are_captums_and_touch_no_global_generator():
    """Captum's NoiseTunnel with one copy per batch draws copy i as torch.normal(0, stdev) from the global
    generator seeded 0 (restated here); ours draws the same numbers from a generator of its own, leaving the
    global one as it was (concurrent requests never share a sequence)."""
    from explain.methods.noise_tunnel import SEED, STDEV, noisy_copies

    x = torch.randn(1, 3, 16, 16)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        captum = [x + torch.normal(0, torch.tensor(STDEV).repeat(x.shape)) for _ in range(3)]
    torch.manual_seed(123)
    state = torch.get_rng_state()
    ours = noisy_copies(x, 3)
    assert all(torch.equal(a, b) for a, b in zip(captum, ours, strict=True))
    assert torch.equal(torch.get_rng_state(), state)
