import math
from pathlib import Path

import numpy as np
import pytest
import torch

from diffclip.attention import AttentionMaps
from diffclip.factory import build_model
from diffclip.inference import Predictor
from diffclip.labels import LABELS
from explain import attention_readout as M
from explain.analysis import analyse, panel
from explain.faithfulness import (
    deletion_curve,
    entropy,
    insertion_curve,
    mass_in_mask,
    pointing_game,
)
from explain.methods import EXPLAINERS, Explainer, Explanation, explain, register
from explain.overlay import color_limits, colorize, overlay


def _identity_maps(layers=3, b=2, heads=2, n=17):
    eye = torch.eye(n).expand(b, heads, n, n).clone()
    return [AttentionMaps(eye, eye.clone(), torch.full((heads,), 0.3), 0.7 * eye) for _ in range(layers)]


def test_rollout_of_identity_maps_is_identity():
    for kind in ("a1", "a2", "diff"):
        for signed in ("clamp", "abs"):
            r = M.rollout_matrix(_identity_maps(), kind=kind, signed=signed)
            assert torch.allclose(r, torch.eye(17).expand(2, 17, 17))
    # CLS row over patches of the identity is all zero
    assert np.all(M.rollout(_identity_maps()) == 0)


def test_rollout_handles_signed_maps_as_stated():
    a = torch.tensor([[[0.6, 0.6, -0.2], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])[:, None]  # (1, 1, 3, 3)
    maps = [AttentionMaps(a, a, torch.zeros(1), a)]
    clamp = M.rollout_matrix(maps, "diff", "clamp", residual=0.0)
    assert torch.allclose(clamp[0, 0], torch.tensor([0.5, 0.5, 0.0]))
    absolute = M.rollout_matrix(maps, "diff", "abs", residual=0.0)
    assert torch.allclose(absolute[0, 0], torch.tensor([0.6, 0.6, 0.2]) / 1.4)


def test_cls_map_selects_layer_head_and_mean():
    n = 1 + 16
    a1 = torch.rand(1, 2, n, n)
    a2 = torch.rand(1, 2, n, n)
    lam = torch.tensor([0.2, 0.4])
    m = AttentionMaps(a1, a2, lam, a1 - lam.view(1, -1, 1, 1) * a2)
    got = M.cls_map([m], layer=0, head=1, kind="diff")
    assert got.shape == (1, 4, 4)
    assert np.allclose(got[0].ravel(), (a1[0, 1, 0, 1:] - 0.4 * a2[0, 1, 0, 1:]).numpy())
    assert np.allclose(M.cls_map([m], head=None, kind="a1")[0].ravel(), a1[0, :, 0, 1:].mean(0).numpy())
    with pytest.raises(ValueError, match="head 5 out of range"):
        M.cls_map([m], head=5)
    assert M.lambdas([m, m]).shape == (2, 2)


#: The maps each variant multiplies with its values, from their maths (docs/design.md): standard attention
#: applies a1; diff and diff_preserving apply a1 - lambda a2; diff_paper's output heads are
#: [A1 V1 - lambda A2 V2, A2 V2], so both softmax maps are applied.
APPLIED = {"vanilla": ("a1",), "diff": ("diff",), "diff_preserving": ("diff",), "diff_paper": ("a1", "a2")}


@pytest.mark.parametrize("variant", ["vanilla", "diff", "diff_preserving", "diff_paper"])
def test_gradient_weighted_attention_equals_hand_computation(variant):
    """Two-layer toy model (the micro backbone: 2 blocks, 16 patches)."""
    assert build_model("micro", variant).attention_semantics.applied == APPLIED[variant]
    torch.manual_seed(0)
    model = build_model("micro", variant).eval()
    with torch.no_grad():  # lambda away from its initial value, so both maps matter
        for name, p in model.named_parameters():
            if "lambda" in name:
                p.normal_(0, 0.3)
    x = torch.randn(1, 3, 64, 64)
    label = 4
    got = M.gradient_weighted_attention(model, x, label)
    # by hand: gradients of the logit with respect to each applied map, then R = I; R += mean_h((g a)+) R
    logits, maps = model(x, return_attention=True)
    applied = [[getattr(m, kind) for kind in APPLIED[variant]] for m in maps]
    n = applied[0][0].shape[-1]
    r = np.eye(n)
    for layer in applied:
        grads = torch.autograd.grad(logits[0, label], layer, retain_graph=True)
        prods = [np.maximum((g * a).detach().numpy()[0], 0) for a, g in zip(layer, grads, strict=True)]
        cam = np.concatenate(prods).mean(0)  # mean over all applied heads of the layer
        r = r + cam @ r
    expected = r[0, 1:].reshape(4, 4)
    assert got.shape == (1, 4, 4)
    assert np.allclose(got[0], expected, atol=1e-6)
    assert np.abs(expected).sum() > 0


def test_color_limits_and_overlay():
    diff = np.array([[-0.2, 0.05], [0.1, 0.0]])
    assert color_limits(diff, diverging=True) == (-0.2, 0.2)
    assert color_limits(np.array([[0.1, 0.3]]), diverging=False) == (0.1, 0.3)
    rgb = colorize(np.array([[-1.0, 0.0, 1.0]]), diverging=True)
    assert rgb[0, 1].min() > 230  # zero is (near) white on the diverging map
    assert rgb[0, 0, 2] > rgb[0, 0, 0] and rgb[0, 2, 0] > rgb[0, 2, 2]  # negative blue, positive red
    img = np.full((8, 8, 3), 100, np.uint8)
    assert np.array_equal(overlay(img, np.ones((2, 2)), alpha=0.0), img)
    with pytest.raises(ValueError, match="alpha"):
        overlay(img, np.ones((2, 2)), alpha=2)


def test_faithfulness_numbers_on_hand_made_maps():
    mask = np.zeros((4, 4), bool)
    mask[:2, :2] = True
    m = np.zeros((4, 4))
    m[0, 0], m[3, 3], m[1, 1] = 3.0, 1.0, -5.0  # negative part ignored
    assert mass_in_mask(m, mask) == pytest.approx(3 / 4)
    assert pointing_game(m, mask) is True
    m2 = m.copy()
    m2[3, 3] = 10
    assert pointing_game(m2, mask) is False
    # (3, 3) is sqrt(8) = 2.83 px from the mask's nearest pixel (1, 1)
    assert pointing_game(m2, mask, tolerance=2) is False
    assert pointing_game(m2, mask, tolerance=3) is True
    assert entropy(np.ones((4, 4))) == pytest.approx(1.0)
    assert entropy(np.eye(1, 16).reshape(4, 4)) == pytest.approx(0.0)
    two = np.zeros(16)
    two[:2] = 1
    assert entropy(two) == pytest.approx(math.log(2) / math.log(16))
    # map upsampled to the mask: a 2x2 map on an 8x8 mask
    big = np.zeros((8, 8), bool)
    big[:4, :4] = True
    assert mass_in_mask(np.array([[1.0, 0.0], [0.0, 0.0]]), big) > 0.75


def test_deletion_and_insertion_curves_on_a_toy_score():
    # score = mean of the image's top-left quadrant; the map ranks exactly that quadrant first
    x = torch.ones(1, 3, 4, 4)
    baseline = torch.zeros_like(x)

    def score(batch):
        return batch[:, :, :2, :2].mean(dim=(1, 2, 3))

    good = np.zeros((4, 4))
    good[:2, :2] = 1
    d = deletion_curve(score, x, baseline, good, steps=4)
    assert d.fractions.tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    assert d.scores.tolist() == [1, 0, 0, 0, 0]
    assert d.auc == pytest.approx(0.125)
    i = insertion_curve(score, x, baseline, good, steps=4)
    assert i.scores.tolist() == [0, 1, 1, 1, 1]
    assert i.auc == pytest.approx(0.875)
    bad = 1 - good  # ranks the quadrant last
    assert deletion_curve(score, x, baseline, bad, steps=4).auc == pytest.approx(0.875)


@pytest.fixture(scope="module")
def predictor(tiny_checkpoint):
    return Predictor(tiny_checkpoint, device="cpu", precision="fp32")


def test_every_method_returns_an_image_sized_map(predictor, monkeypatch):
    from explain.methods import integrated_gradients

    monkeypatch.setattr(integrated_gradients, "MAX_STEPS", 8)  # IG doubles 4 -> 8 steps at most here
    frame = np.random.default_rng(0).integers(0, 255, (224, 224, 3), dtype=np.uint8)
    analysis = analyse(predictor, frame)
    assert analysis.image.shape == (224, 224, 3) and analysis.num_layers == 6
    # every method module of explain/methods registers (none forgotten on the import line), and only they do
    folder = Path(integrated_gradients.__file__).parent
    modules = {p.stem for p in folder.glob("*.py")} - {"__init__", "base", "registry", "captum_tools"}
    assert {e.compute.__module__.rsplit(".", 1)[1] for e in EXPLAINERS.values()} == modules
    for method, explainer in EXPLAINERS.items():
        seen = []
        att = explain(analysis, predictor, method, "blood", progress=seen.append, steps=4, samples=2, window=56,
                      internal_batch_size=8)
        assert isinstance(att, Explanation) and att.method == method and att.label == LABELS.index("blood")
        if explainer.family == "attention":
            assert att.map.shape == (14, 14), method
        else:
            assert att.map.shape == (224, 224), method
            assert seen and seen[-1] == pytest.approx(1.0), method
        assert np.isfinite(att.map).all() and np.abs(att.map).sum() > 0, method
        if method == "ig":
            assert 3 <= att.meta["steps"] <= att.meta["cap"] == 4 and att.delta is not None
    with pytest.raises(ValueError, match="unknown explanation method 'lime'"):
        explain(analysis, predictor, "lime", "blood")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['stpes'\]"):
        explain(analysis, predictor, "ig", "blood", stpes=4)
    with pytest.raises(ValueError, match="unknown label 'tumour'"):
        explain(analysis, predictor, "attention", "tumour")
    fig = panel(analysis, layer=2, head=1, extra=explain(analysis, predictor, "rollout", "blood"))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert any("layer 2, head 1" in t for t in titles) and any("diff = a1 -" in t for t in titles)


def test_explain_command(tiny_checkpoint, tmp_path):
    from PIL import Image

    from diffclip.cli import main

    frames = []
    for i in range(2):
        p = tmp_path / f"f{i}.png"
        Image.fromarray(np.full((240, 240, 3), 60 * i + 40, np.uint8)).save(p)
        frames.append(str(p))
    assert main(["explain", *frames, "--checkpoint", str(tiny_checkpoint), "--label", "polyp", "--method",
                 "gradcam", "--out", str(tmp_path / "panel.png"), "--npy", str(tmp_path / "map.npy")]) == 0
    assert (tmp_path / "panel_f0.png").stat().st_size > 10_000 and (tmp_path / "panel_f1.png").exists()
    assert np.load(tmp_path / "map_f1.npy").shape == (224, 224)
    assert main(["explain", frames[0], "--checkpoint", str(tiny_checkpoint), "--label", "tumour",
                 "--out", str(tmp_path / "x.png")]) == 2


def test_integrated_gradients_adds_points_until_attributions_add_up_on_a_bundled_example():
    """On the erosion example (bundled diff model, its label) 3 points on the path miss completeness by more than 5%;
    with the default budget the points are added until the attributions add up to F(x) - F(baseline) within 5%
    (F = the label's logit, restated here from the model's own logits)."""
    import json
    from pathlib import Path

    from explain.methods.captum_tools import baseline_like

    root = Path(__file__).resolve().parents[1]
    frames = json.loads((root / "demo" / "examples" / "examples.json").read_text())["frames"]
    example = next(f for f in frames if f["shows"] == "erosion")
    bundled = Predictor(root / "demo" / "weights" / "diff", device="cpu", precision="fp32")
    analysis = analyse(bundled, root / "demo" / "examples" / example["image"])
    short = explain(analysis, bundled, "ig", example["shows"], steps=3)
    assert short.meta["steps"] == 3 and short.meta["relative_delta"] > 0.05
    assert "at the cap of 3 points on the path: read the map with care" in short.caption
    att = explain(analysis, bundled, "ig", example["shows"])
    label = bundled.labels.index(example["shows"])
    with torch.no_grad():
        fx = bundled.model(analysis.x)[0, label].item()
        fb = bundled.model(baseline_like(analysis.x, bundled.pre))[0, label].item()
    by_hand = abs(att.map.sum() - (fx - fb)) / abs(fx - fb)
    assert abs(fx - fb) > 0.1  # a meaningful difference to explain
    assert att.meta["relative_delta"] == pytest.approx(by_hand, rel=1e-3, abs=1e-5)
    assert by_hand < 0.05 and 3 < att.meta["steps"] <= att.meta["cap"] == 64
    assert f"within {by_hand:.1%} ({att.meta['steps']} points on the path)" in att.caption


def _grad_cam_by_hand(model, x, label):
    """Plain-torch Grad-CAM: the last block's norm1 output (hooked), prefix tokens dropped, channel weights
    = mean gradient over the patch tokens, ReLU of the weighted channel sum, on the token grid, bilinear up."""
    trunk = model.backbone.trunk
    seen = {}
    handle = trunk.blocks[-1].norm1.register_forward_hook(lambda m, i, o: seen.setdefault("a", o))
    try:
        logits = model(x)
    finally:
        handle.remove()
    act = seen["a"]
    (grad,) = torch.autograd.grad(logits[0, label], act)
    k = trunk.num_prefix_tokens
    a, g = act[0, k:], grad[0, k:]  # (P, C) patch tokens, row-major over the grid
    cam = torch.relu((a * g.mean(0)).sum(-1))
    side = int(round(cam.numel() ** 0.5))
    return torch.nn.functional.interpolate(cam.reshape(1, 1, side, side), size=x.shape[-2:], mode="bilinear",
                                           align_corners=False)[0, 0]


@pytest.mark.parametrize("variant", ["diff", "vanilla"])
def test_grad_cam_is_the_vit_recipe(variant):
    from explain.methods.gradcam import grad_cam

    torch.manual_seed(3)
    model = build_model("micro", variant).eval().float()
    x = torch.randn(1, 3, 64, 64, dtype=torch.float32)
    norm = model.backbone.trunk.blocks[-1].norm1
    with torch.no_grad():
        before = model(x)
    for label in (0, 7):
        expected = _grad_cam_by_hand(model, x, label)
        got = grad_cam(model, x, label)
        assert got.shape == (1, 1, 64, 64) and expected.abs().sum() > 0
        torch.testing.assert_close(got[0, 0], expected.detach(), rtol=1e-5, atol=1e-7)
    assert model.backbone.trunk.blocks[-1].norm1 is norm  # the tap is gone
    with torch.no_grad():
        assert torch.equal(model(x), before)
    assert EXPLAINERS["gradcam"].exclusive  # it swaps a module of the shared model while it runs


def test_a_new_method_is_one_registration(predictor, tiny_checkpoint):
    """A toy method registered from this test is offered by the CLI and the frames view's menu, and runs
    through the one verb, without either naming it."""
    from demo.frames_view import FramesState, attribution_choices, attribution_overlay
    from diffclip.cli import build_parser

    def brightness(ctx, label, opt):
        return Explanation(ctx.analysis.image.mean(-1), False, "mean brightness")

    register(Explainer("toy", "Toy brightness", brightness))
    try:
        frame = np.random.default_rng(1).integers(0, 255, (224, 224, 3), dtype=np.uint8)
        analysis = analyse(predictor, frame)
        att = explain(analysis, predictor, "toy", "polyp")
        assert att.caption == "mean brightness" and np.allclose(att.map, frame.mean(-1))
        assert "Toy brightness" in attribution_choices()
        state = FramesState([analysis], ["f"])
        image, caption = attribution_overlay(state, predictor, "polyp", "Toy brightness", 0.5)
        assert image.ndim == 3 and image.shape[2] == 3 and "**Toy brightness** for **polyp**" in caption
        args = build_parser().parse_args(["explain", "f.png", "--checkpoint", "c", "--label", "polyp", "--method", "toy",
                                          "--out", "p.png"])
        assert args.method == "toy"
    finally:
        EXPLAINERS.pop("toy")


def test_explain_command_refuses_bad_options_in_one_line(tiny_checkpoint, tmp_path, capsys):
    from PIL import Image

    from diffclip.cli import main

    frame = tmp_path / "f.png"
    Image.fromarray(np.full((224, 224, 3), 90, np.uint8)).save(frame)
    base = ["explain", str(frame), "--checkpoint", str(tiny_checkpoint), "--label", "polyp", "--out",
            str(tmp_path / "p.png")]
    for extra, message in [(["--layer", "99"], "layer 99 out of range: the model has 6 layers"),
                           (["--method", "ig", "--steps", "0"], "steps must be a whole number >= 1, got 0"),
                           (["--method", "occlusion", "--window", "0"], "window must be a whole number >= 1, got 0")]:
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and err.strip().count("\n") == 0


def test_occlusion_in_fewer_passes_gives_the_same_map():
    """Occlusion's windows go through the model 64 at a time (explain.methods.occlusion.PER_PASS): the map equals
    Captum's with 16 a pass (the earlier setting) and the model is called 3 times instead of 11."""
    from captum.attr import Occlusion

    from explain.methods.captum_tools import black_baseline

    predictor = Predictor(Path(__file__).resolve().parents[1] / "demo" / "weights" / "diff", device="cpu",
                          precision="fp32")
    analysis = analyse(predictor, np.full((224, 224, 3), 120, np.uint8))
    calls = []
    model = predictor.model
    hook = model.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    try:
        new = explain(analysis, predictor, "occlusion", "blood").map
    finally:
        hook.remove()
    assert len(calls) == 1 + 3 and sum(calls) == 1 + 169  # the unoccluded frame, then 169 windows in 3 passes
    with torch.no_grad():
        x = analysis.x
        old = Occlusion(model).attribute(x, sliding_window_shapes=(3, 32, 32), strides=(3, 16, 16),
                                         baselines=black_baseline(model, x), target=LABELS.index("blood"),
                                         perturbations_per_eval=16).sum(1)[0].numpy()
    # the same sums in batches of 64 instead of 16: fp32 matrix products block differently by batch size, so
    # the maps agree to rounding (seen: 2.6e-5 on values near 1.7), not bit for bit
    np.testing.assert_allclose(new, old, rtol=1e-4, atol=1e-5)


def test_batched_analyses_and_explanations_equal_the_single_ones():
    """The report draws its overlays from analyse_many and explain_many (one model pass for a batch of frames,
    one backward pass for their gradient-weighted attention): the same numbers as one frame at a time, to float
    rounding (gradient-weighted attention and Saliency, one backward pass for the batch); a method without a
    batched form runs one by one."""
    from demo.resources import examples
    from explain.analysis import analyse_many
    from explain.methods import explain_many

    predictor = Predictor(Path(__file__).resolve().parents[1] / "demo" / "weights" / "diff", device="cpu",
                          precision="fp32")
    images = [str(e.image) for e in examples()[:5]]
    labels = [e.shows for e in examples()[:5]]
    many = analyse_many(predictor, images)
    singles = [analyse(predictor, image) for image in images]
    for a, b in zip(many, singles, strict=True):
        np.testing.assert_allclose(a.probs, b.probs, atol=1e-5)
        np.testing.assert_allclose(a.lam, b.lam, atol=1e-5)
        for kind in b.cls_rows:
            np.testing.assert_allclose(a.cls_rows[kind].astype(np.float32), b.cls_rows[kind].astype(np.float32),
                                       atol=2e-3)  # float16 storage
    for method in ("gradattn", "saliency"):
        got = explain_many(list(zip(many, labels, strict=True)), predictor, method, batch=2)
        for att, b, label in zip(got, singles, labels, strict=True):
            want = explain(b, predictor, method, label)
            assert att.method == want.method and att.label == want.label
            np.testing.assert_allclose(att.map, want.map, rtol=1e-3, atol=1e-5 * float(np.abs(want.map).max()))
