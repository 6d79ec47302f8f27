import contextlib
import math

import pytest
import timm
import torch
from timm.layers import Attention, DiffAttention

from diffclip.attention import (
    ATTENTION_VARIANTS,
    PaperDiffAttention,
    TimmDiffAttention,
    convert_attention,
    make_attention,
    record_attention,
)

DIFF_VARIANTS = ("diff", "diff_paper", "diff_preserving")


def _pretrained_attention(dim=48, heads=4):
    attn = Attention(dim, num_heads=heads, qkv_bias=True).eval()
    with torch.no_grad():
        for p in attn.parameters():
            p.normal_(0, 0.3)
    return attn


def _randomise_lambdas(module):
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.startswith("lambda"):
                p.normal_(0, 0.3)


def _run_both(module, x, **kw):
    fast = module(x, **kw)
    with record_attention() as maps:
        slow = module(x, **kw)
    assert len(maps) == 1
    return fast, slow, maps[0]


def test_diff_preserving_vit_base_keeps_logits():
    vit = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=10).eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        before = vit(x)
        convert_attention(vit, "diff_preserving")
        after = vit(x)
        with record_attention() as maps:
            after_maps = vit(x)
    assert len(maps) == 12
    assert (after - before).abs().max().item() <= 1e-5
    assert (after_maps - before).abs().max().item() <= 1e-5
    for m in maps:
        assert torch.allclose(m.a1, m.a2)
        assert torch.all(m.lam == 0)


@pytest.mark.parametrize("variant", list(ATTENTION_VARIANTS))
@pytest.mark.parametrize("mask", ["none", "causal", "bool", "float"])
def test_fast_path_matches_maps_path(variant, mask):
    attn = make_attention(variant, _pretrained_attention(), depth=3).eval()
    _randomise_lambdas(attn)
    x = torch.randn(2, 7, 48)
    kw = {}
    if mask == "causal":
        kw["is_causal"] = True
    elif mask == "bool":
        keep = torch.rand(7, 7) > 0.3
        keep.fill_diagonal_(True)
        kw["attn_mask"] = keep
    elif mask == "float":
        kw["attn_mask"] = torch.randn(7, 7)
    with torch.no_grad():
        fast, slow, maps = _run_both(attn, x, **kw)
    assert (fast - slow).abs().max().item() <= 1e-5
    if mask == "causal":
        assert torch.all(maps.a1.triu(1) == 0)


@pytest.mark.parametrize("variant", list(ATTENTION_VARIANTS))
def test_fast_path_in_bf16_autocast_stays_with_the_maps_path(variant):
    """bf16 autocast (what `--precision bf16` runs) takes the fast path's own kernels; both paths stay within
    3% of the largest fp32 output (measured: at most 1.1% fast, 1.9% maps), and really run in bf16."""
    attn = make_attention(variant, _pretrained_attention(), depth=3).eval()
    _randomise_lambdas(attn)
    x = torch.randn(3, 9, 48)
    with torch.no_grad():
        ref = attn(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fast, slow, _ = _run_both(attn, x)
    assert fast.dtype == torch.bfloat16
    tol = 0.03 * ref.abs().max().item()
    fast_err, slow_err = (fast.float() - ref).abs().max().item(), (slow.float() - ref).abs().max().item()
    assert 0 < fast_err <= tol and slow_err <= tol and (fast.float() - slow.float()).abs().max().item() <= tol


@pytest.mark.parametrize("variant", DIFF_VARIANTS)
def test_map_rows_sum_to_one_and_one_minus_lambda(variant):
    attn = make_attention(variant, _pretrained_attention(), depth=5).eval()
    _randomise_lambdas(attn)
    with torch.no_grad():
        _, _, maps = _run_both(attn, torch.randn(3, 9, 48))
    ones = torch.ones(maps.a1.shape[:-1])
    assert torch.allclose(maps.a1.sum(-1), ones, atol=1e-5)
    assert torch.allclose(maps.a2.sum(-1), ones, atol=1e-5)
    expected = (1 - maps.lam).view(1, -1, 1).expand_as(ones)
    assert torch.allclose(maps.diff.sum(-1), expected, atol=1e-5)
    assert torch.allclose(maps.diff, maps.a1 - maps.lam.view(1, -1, 1, 1) * maps.a2)
    assert not torch.allclose(maps.lam, torch.zeros_like(maps.lam))


def test_vanilla_matches_timm_attention_and_returns_single_map():
    base = _pretrained_attention()
    attn = make_attention("vanilla", base).eval()
    x = torch.randn(2, 5, 48)
    with torch.no_grad():
        fast, slow, maps = _run_both(attn, x)
        ref = base(x)
    assert (fast - ref).abs().max().item() <= 1e-6
    assert (slow - ref).abs().max().item() <= 1e-5
    assert maps.a2 is None and torch.all(maps.lam == 0) and maps.diff is maps.a1
    assert maps.a1.shape == (2, 4, 5, 5)


def test_diff_matches_timm_diff_attention_with_same_weights():
    base = _pretrained_attention()
    depth = 4
    ours = make_attention("diff", base, depth=depth).eval()
    _randomise_lambdas(ours)
    assert isinstance(ours, TimmDiffAttention)
    assert ours.num_heads == 2 and ours.head_dim == 12
    assert ours.qkv is base.qkv and ours.proj is base.proj
    assert math.isclose(ours.lambda_init, 0.8 - 0.6 * math.exp(-0.3 * depth))

    ref = DiffAttention(48, num_heads=2, qkv_bias=True, depth=depth).eval()
    ref.fused_attn = False  # timm's explicit path, independent of ours
    ref.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(2, 6, 48)
    with torch.no_grad():
        expected = ref(x)
        fast, slow, maps = _run_both(ours, x)
    assert (fast - expected).abs().max().item() <= 1e-5
    assert (slow - expected).abs().max().item() <= 1e-5
    assert maps.a1.shape == (2, 2, 6, 6)
    lam = ref._compute_lambda()
    assert torch.allclose(maps.lam, lam.expand(2))


def test_diff_paper_matches_hand_computation():
    torch.manual_seed(3)
    dim, heads, n = 8, 4, 3
    base = _pretrained_attention(dim, heads)
    attn = make_attention("diff_paper", base).eval()
    assert isinstance(attn, PaperDiffAttention)
    _randomise_lambdas(attn)
    x = torch.randn(1, n, dim)
    with torch.no_grad():
        fast, slow, maps = _run_both(attn, x)

    # Section 5, written out head by head with no batching tricks.
    d = dim // heads
    w, b = base.qkv.weight, base.qkv.bias
    qkv = x[0] @ w.T + b  # (n, 3 dim)
    q, k, v = qkv[:, :dim], qkv[:, dim:2 * dim], qkv[:, 2 * dim:]

    def head(t, h):
        return t[:, h * d:(h + 1) * d]

    def softmax_map(h):
        s = head(q, h) @ head(k, h).T / math.sqrt(d)
        return torch.softmax(s, dim=-1)

    l1 = [math.exp(min(float((attn.lambda_q1[i] * attn.lambda_k1[i]).detach().sum()), 5.0)) for i in range(heads // 2)]
    l2 = [math.exp(min(float((attn.lambda_q2[i] * attn.lambda_k2[i]).detach().sum()), 5.0)) for i in range(heads // 2)]
    lam = sum(a - c + 0.8 for a, c in zip(l1, l2, strict=True)) / (heads // 2)
    first, second = [], []
    for i in range(heads // 2):
        a1, a2 = softmax_map(i), softmax_map(i + heads // 2)
        o1, o2 = a1 @ head(v, i), a2 @ head(v, i + heads // 2)
        first.append(o1 - lam * o2)
        second.append(o2)
        assert torch.allclose(maps.a1[0, i], a1, atol=1e-6)
        assert torch.allclose(maps.a2[0, i], a2, atol=1e-6)
    out = torch.cat(first + second, dim=-1) @ base.proj.weight.T + base.proj.bias
    assert math.isclose(float(maps.lam[0]), lam, rel_tol=1e-6)
    assert (fast[0] - out).abs().max().item() <= 1e-5
    assert (slow[0] - out).abs().max().item() <= 1e-5


def test_paper_lambda_init_statistics():
    attn = PaperDiffAttention(768, num_heads=12)
    assert attn.lambda_q1.shape == (6, 64)
    assert abs(attn.lambda_q1.std().item() - 0.02) < 0.004
    # exp(~0) - exp(~0) + 0.8
    assert abs(attn.compute_lambda().item() - 0.8) < 0.01


def test_convert_attention_errors():
    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0, depth=2)
    with pytest.raises(ValueError, match="even number of heads"):
        convert_attention(vit, "diff")  # vit_tiny has 3 heads
    with pytest.raises(ValueError, match="unknown attention variant 'softmax'"):
        convert_attention(vit, "softmax")
    convert_attention(vit, "diff_preserving")
    with pytest.raises(TypeError, match="already differential"):
        convert_attention(vit, "diff_paper")
    with pytest.raises(TypeError, match="VisionTransformer"):
        convert_attention(torch.nn.Linear(2, 2), "diff")


def test_converted_variants_train():
    """Gradients reach the differential parameters (lambda and the second q/k) once lambda moves."""
    attn = make_attention("diff_preserving", _pretrained_attention()).train()
    with torch.no_grad():
        attn.lambda_a.fill_(0.1)
    attn(torch.randn(2, 5, 48)).pow(2).sum().backward()
    assert attn.lambda_a.grad.abs().sum() > 0
    assert attn.qk2.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("variant", ["diff", "diff_preserving"])
def test_fast_path_one_image_at_a_time_matches_maps_path_with_per_image_masks(variant):
    """Without autograd the CPU kernel goes image by image; with it, the whole batch at once."""
    attn = make_attention(variant, _pretrained_attention(), depth=2).eval()
    _randomise_lambdas(attn)
    x = torch.randn(5, 7, 48)
    keep = torch.rand(5, 1, 7, 7) > 0.4
    keep[:, :, torch.arange(7), torch.arange(7)] = True
    whole = attn(x, attn_mask=keep)  # parameters require grad: the batched autograd route
    assert whole.requires_grad
    with torch.no_grad():
        fast, slow, _ = _run_both(attn, x, attn_mask=keep)
    assert (fast - slow).abs().max().item() <= 1e-5
    assert (fast - whole.detach()).abs().max().item() <= 1e-5
    # Masks differ per image, so an image that took another image's mask would not match.
    with torch.no_grad():
        assert (attn(x[1:2], attn_mask=keep[1:2]) - fast[1:2]).abs().max().item() <= 1e-5


@pytest.mark.parametrize("variant", ["diff", "diff_preserving"])
def test_fast_path_gradients_match_maps_path(variant):
    attn = make_attention(variant, _pretrained_attention(), depth=2).train()
    _randomise_lambdas(attn)
    x = torch.randn(3, 6, 48)
    grads = []
    for record in (False, True):
        attn.zero_grad()
        with record_attention() if record else contextlib.nullcontext():
            attn(x).square().sum().backward()
        grads.append({name: p.grad.clone() for name, p in attn.named_parameters()})
    assert {name for name in grads[0] if name.startswith("lambda")}
    for name, g in grads[0].items():
        ref = grads[1][name]
        assert (g - ref).abs().max().item() <= 1e-5 * ref.abs().max().item(), name


def test_a_fifth_variant_is_one_class_and_one_registration(tmp_path):
    """A toy variant registered from this test flows through the model, checkpoints, the Predictor,
    explanations and the demo's views without any of them naming it."""
    import numpy as np

    from demo.compare_view import compare
    from demo.frames_view import attention_overlays
    from demo.models import ModelBank
    from diffclip.attention import (
        ATTENTION_VARIANTS,
        MapSemantics,
        PreservingDiffAttention,
        register_attention,
    )
    from diffclip.checkpoint import save_checkpoint
    from diffclip.factory import build_model
    from diffclip.inference import Predictor
    from explain.analysis import analyse
    from explain.methods import explain

    class ToyAttention(PreservingDiffAttention):
        """The retrofit under another name, with one lambda per layer (its own semantics)."""

        variant = "toy"
        semantics = MapSemantics(differential=True, shown="diff", applied=("diff",), signed=True, lambda_per="layer")

    register_attention(ToyAttention)
    try:
        model = build_model("micro", "toy").eval()
        assert all(type(b.attn) is ToyAttention for b in model.backbone.trunk.blocks)
        save_checkpoint(model, tmp_path / "toy", thresholds=[0.5] * 17)
        predictor = Predictor(tmp_path / "toy", device="cpu", precision="fp32")
        frame = (np.random.default_rng(0).random((80, 96, 3)) * 255).astype(np.uint8)
        analysis = analyse(predictor, frame)
        assert analysis.has_second_map and analysis.shown_kind == "diff" and analysis.semantics.signed
        for method in ("attention", "rollout", "gradattn"):
            m = explain(analysis, predictor, method, "blood").map
            assert m.shape == (4, 4) and np.isfinite(m).all()
        a1, a2, diff, caption = attention_overlays(analysis, 1, "mean", 0.5)
        assert a2 is not None and diff is not None and "λ" in caption
        vanilla = tmp_path / "vanilla"
        save_checkpoint(build_model("micro", "vanilla").eval(), vanilla, thresholds=[0.5] * 17)
        bank = ModelBank(tmp_path / "toy", vanilla, device="cpu")
        standard, differential = bank.pair()
        assert standard.model.config.attention == "vanilla" and differential.model.config.attention == "toy"
        images, table, numbers = compare(standard, differential, frame, "blood")
        assert images["toy"].shape == images["vanilla"].shape and "p(blood)" in table
        assert set(numbers["ood"]) == {"vanilla", "toy"} and "in_distribution" in numbers
    finally:
        ATTENTION_VARIANTS.pop("toy")
