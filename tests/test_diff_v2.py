"""diff_v2 (issue 31, point 1): against a plain restatement of the reference layer (microsoft/unilm,
Diff-Transformer-V2, read and restated, not copied), exact conversion from a pretrained layer, fast against
maps path in fp32 and bf16, the recorded maps, and gradients."""

from __future__ import annotations

import math

import pytest
import torch
from timm.layers import Attention

from diffclip.attention import DiffV2Attention, record_attention

DIM, HEADS = 64, 4


def reference(x, wq, wk, wv, wo, wl, heads):
    """The reference's computation, non-causal (a ViT): 2H query heads of size d, query head i reading key and
    value head i // 2; outputs of even heads minus sigmoid(x W_lambda) times odd heads; output projection."""
    b, n, _ = x.shape
    d = wk.shape[0] // heads
    q = (x @ wq.T).view(b, n, 2 * heads, d).transpose(1, 2)
    k = (x @ wk.T).view(b, n, heads, d).transpose(1, 2).repeat_interleave(2, dim=1)
    v = (x @ wv.T).view(b, n, heads, d).transpose(1, 2).repeat_interleave(2, dim=1)
    attn = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), dim=-1) @ v  # (B, 2H, N, d)
    lam = torch.sigmoid(x @ wl.T).transpose(1, 2).unsqueeze(-1)  # (B, H, N, 1)
    out = attn[:, 0::2] - lam * attn[:, 1::2]
    return out.transpose(1, 2).reshape(b, n, heads * d) @ wo.T


def _layer(seed=0):
    torch.manual_seed(seed)
    layer = DiffV2Attention(DIM, num_heads=HEADS, qkv_bias=False, proj_bias=False).eval()
    with torch.no_grad():
        for p in layer.parameters():
            p.normal_(0, 0.2)
    return layer


def test_the_layer_equals_the_restated_reference():
    layer = _layer()
    d = DIM // HEADS
    q1 = layer.qkv.weight[:DIM].view(HEADS, d, DIM)
    q2 = layer.q2.weight.view(HEADS, d, DIM)
    wq = torch.stack([q1, q2], dim=1).reshape(2 * DIM, DIM)  # query heads (2h, 2h+1) = (first, second) of h
    x = torch.randn(2, 9, DIM)
    with torch.no_grad():
        expected = reference(x, wq, layer.qkv.weight[DIM:2 * DIM], layer.qkv.weight[2 * DIM:], layer.proj.weight,
                             layer.lambda_proj.weight, HEADS)
        assert torch.allclose(layer(x), expected, atol=1e-5)
        with record_attention() as maps:
            assert torch.allclose(layer(x), expected, atol=1e-5)
    m = maps[0]
    lam = torch.sigmoid(x @ layer.lambda_proj.weight.T).transpose(1, 2)  # (B, H, N)
    assert torch.allclose(m.lam_tokens, lam, atol=1e-6) and torch.allclose(m.lam, lam[:, :, 0].mean(0), atol=1e-6)
    assert torch.allclose(m.diff, m.a1 - lam.unsqueeze(-1) * m.a2, atol=1e-6)
    one = m.select(1)  # one image: its own CLS lambda
    assert torch.allclose(one.lam, lam[1, :, 0], atol=1e-6) and one.lam_tokens.shape == (1, HEADS, 9)


def test_conversion_is_exact_and_leaves_the_pretrained_layer_alone():
    torch.manual_seed(1)
    attn = Attention(DIM, num_heads=HEADS, qkv_bias=True).eval()
    proj = attn.proj.weight.clone()
    new = DiffV2Attention.from_attention(attn).eval()
    x = torch.randn(3, 17, DIM)
    with torch.no_grad():
        assert torch.equal(new(x), attn(x))  # fast path: bit for bit
        with record_attention():
            assert torch.allclose(new(x), attn(x), atol=1e-6)
    assert torch.equal(attn.proj.weight, proj) and new.proj is not attn.proj and new.qkv is attn.qkv


@pytest.mark.parametrize(("dtype", "tol"), [(None, 1e-5), (torch.bfloat16, 3e-2)])
def test_fast_and_maps_paths_agree(dtype, tol):
    layer = _layer(2)
    x = torch.randn(2, 17, DIM)
    with torch.no_grad(), torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        fast = layer(x).float()
        with record_attention():
            maps = layer(x).float()
    assert (fast - maps).abs().max() <= tol * max(1.0, fast.abs().max().item())


def test_gradients_reach_the_second_queries_and_lambda_from_a_converted_layer():
    torch.manual_seed(3)
    new = DiffV2Attention.from_attention(Attention(DIM, num_heads=HEADS, qkv_bias=True))
    x = torch.randn(2, 9, DIM)
    for maps in (False, True):
        new.zero_grad()
        if maps:
            with record_attention():
                new(x).square().sum().backward()
        else:
            new(x).square().sum().backward()
        assert new.lambda_proj.weight.grad.abs().sum() > 0 and new.q2.weight.grad.abs().sum() > 0


def test_the_tools_accept_a_trained_diff_v2_checkpoint(tmp_path):
    """A micro diff_v2 trained by the training package (the config names the variant), then explained by
    `diffclip explain`, compared with a standard model, put through the Noise lab and described by the model
    card."""
    import sys
    from pathlib import Path

    import numpy as np

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "tests"))
    from test_training_run import MICRO

    from demo import compare_view
    from demo.model_card import model_card
    from demo.resources import examples
    from demo.tabs.noise_lab import experiment as lab
    from diffclip.cli import main
    from diffclip.inference import Predictor
    from training.config import load_config
    from training.loop import train

    config = tmp_path / "micro.yaml"
    config.write_text(MICRO.format(data=tmp_path / "data").replace("attention: diff", "attention: diff_v2"))
    out = train(load_config(config, [f"out_dir={tmp_path / 'run'}", "epochs=1", "mixup=false"]))
    v2 = Predictor(out / "best", device="cpu", precision="fp32")
    assert v2.model.config.attention == "diff_v2"
    frame = str(examples()[0].image)
    assert main(["explain", frame, "--checkpoint", str(out / "best"), "--label", "blood", "--method", "attention",
                 "--out", str(tmp_path / "panel.png"), "--npy", str(tmp_path / "map.npy")]) == 0
    assert np.isfinite(np.load(tmp_path / "map.npy")).all()
    config_std = tmp_path / "std.yaml"
    config_std.write_text(MICRO.format(data=tmp_path / "data").replace("attention: diff", "attention: vanilla"))
    std = Predictor(train(load_config(config_std, [f"out_dir={tmp_path / 'std'}", "epochs=1", "mixup=false"]))
                    / "best", device="cpu", precision="fp32")
    images, table, numbers = compare_view.compare(std, v2, frame, "blood")
    assert images["diff_v2"].shape == images["vanilla"].shape and "p(blood)" in table
    assert list(numbers["models"]) == ["vanilla", "diff_v2"] and "| DIFF V2 (diff_v2) |" in table
    with pytest.raises(ValueError, match="pick two different models"):
        compare_view.compare(v2, v2, frame, "blood")
    # the app's Compare tab compares any two of the served three (issue 31, point 5), by name
    from demo.models import ModelBank
    from demo.resources import DEFAULT_CHECKPOINT
    from demo.ui import build_demo

    bank = ModelBank(DEFAULT_CHECKPOINT, tmp_path / "std" / "best", "cpu", "fp32", extra=[out / "best"])
    assert list(bank.names) == ["diff", "vanilla", "diff_v2"]
    on_compare = next(f.fn for f in build_demo(bank).fns.values() if f.api_name == "compare")
    *maps, table, numbers = on_compare(frame, "blood", 0.5, None, "mean", "diff", "diff_v2")
    assert list(numbers["models"]) == ["diff", "diff_v2"] and "| differential (diff) | DIFF V2 (diff_v2) |" in table
    assert [m.label for m in maps] == ["differential (diff) · a1 − λ·a2 of the chosen layer",
                                       "DIFF V2 (diff_v2) · a1 − λ·a2 of the chosen layer",
                                       "differential (diff) · rollout", "DIFF V2 (diff_v2) · rollout"]
    with pytest.raises(Exception, match="no model called 'diff_v3'"):
        on_compare(frame, "blood", 0.5, None, "mean", "diff", "diff_v3")
    result = lab.run_lab(std, v2, lab.pick_frame(examples(), 0, None, std), dict.fromkeys(lab.KINDS, 0.5))
    assert len(lab.lab_numbers(result, "blood")["differential"]["lambda_per_head"]) == 2  # layers of the micro
    assert "diff_v2" in model_card(v2, out / "best")
