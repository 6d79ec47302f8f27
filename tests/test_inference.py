from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from diffclip import device as device_mod
from diffclip.images import to_rgb
from diffclip.inference import Predictor


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:180, 0:240]
    img = np.stack([(xx * 255 / 239), (yy * 255 / 179), np.full_like(xx, 90)], axis=-1)
    img = img + rng.normal(0, 10, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def predictor(tiny_checkpoint):
    return Predictor(tiny_checkpoint, device="cpu", batch_size=4, precision="fp32")


def test_every_accepted_form_gives_the_same_probabilities(predictor, frame, tmp_path):
    import cv2

    rgba = np.dstack([frame, np.full(frame.shape[:2], 255, np.uint8)])
    png16 = tmp_path / "frame16.png"
    cv2.imwrite(str(png16), cv2.cvtColor(frame.astype(np.uint16) * 257, cv2.COLOR_RGB2BGR))
    png8 = tmp_path / "frame.png"
    Image.fromarray(frame).save(png8)
    inputs = [
        frame,
        Image.fromarray(frame),
        Image.fromarray(rgba, mode="RGBA"),
        rgba,
        frame.astype(np.uint16) * 257,
        frame.astype(np.float32) / 255.0,
        png8,
        str(png16),
    ]
    pred = predictor(inputs)
    assert pred.probs.shape == (len(inputs), 17)
    assert np.all((pred.probs >= 0) & (pred.probs <= 1))
    assert np.abs(pred.probs - pred.probs[0]).max() <= 1e-5


def test_grayscale_and_16_bit_grayscale(predictor, frame, tmp_path):
    gray = np.asarray(Image.fromarray(frame).convert("L"))
    g16 = tmp_path / "gray16.png"
    Image.fromarray(gray.astype(np.uint16) * 257).save(g16)
    assert Image.open(g16).mode.startswith("I")
    pred = predictor([gray, Image.fromarray(gray), g16, gray[:, :, None]])
    assert np.abs(pred.probs - pred.probs[0]).max() <= 1e-5
    rgb_from_gray = np.asarray(to_rgb(g16))
    assert rgb_from_gray.dtype == np.uint8 and rgb_from_gray.shape == (*gray.shape, 3)
    assert np.array_equal(rgb_from_gray[:, :, 0], gray)


def test_rgba_transparent_pixels_become_black():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[0, 0, 3] = 255
    out = np.asarray(to_rgb(rgba))
    assert out[0, 0].tolist() == [200, 200, 200] and out[1, 1].tolist() == [0, 0, 0]


def test_batching_does_not_change_results(tiny_checkpoint, frame):
    rng = np.random.default_rng(1)
    frames = [np.clip(frame.astype(int) + rng.integers(-40, 40, frame.shape), 0, 255).astype(np.uint8) for _ in range(5)]
    a = Predictor(tiny_checkpoint, device="cpu", batch_size=2, precision="fp32")(frames).probs
    b = Predictor(tiny_checkpoint, device="cpu", batch_size=5, precision="fp32")(frames).probs
    c = np.concatenate([Predictor(tiny_checkpoint, device="cpu", precision="fp32")(f).probs for f in frames])
    assert np.abs(a - b).max() <= 1e-5 and np.abs(a - c).max() <= 1e-5
    assert np.abs(a - a[0]).max() > 1e-4  # different frames, different scores


def test_thresholds_give_label_sets(tiny_checkpoint, frame):
    pred = Predictor(tiny_checkpoint, device="cpu", precision="fp32")([frame])
    assert pred.thresholds[0] == pytest.approx(0.3) and pred.thresholds[16] == pytest.approx(0.46)
    expected = [lab for lab, p, t in zip(pred.labels, pred.probs[0], pred.thresholds, strict=True) if p >= t]
    assert pred.label_sets == [expected]
    low = Predictor(tiny_checkpoint, device="cpu", precision="fp32", thresholds=[0.0] * 17)([frame])
    assert low.label_sets == [list(pred.labels)]
    high = Predictor(tiny_checkpoint, device="cpu", precision="fp32", thresholds=[1.01] * 17)([frame])
    assert high.label_sets == [[]]


@pytest.mark.parametrize(
    ("bad", "error", "pattern"),
    [
        (42, ValueError, "cannot read an image from int"),
        (np.zeros(5, np.uint8), ValueError, "expected an image array"),
        (np.zeros((4, 4, 2), np.uint8), ValueError, "expected an image array"),
        (np.zeros((4, 4, 3), np.int64), ValueError, "unsupported array dtype int64"),
        (np.full((4, 4, 3), 2.0, np.float32), ValueError, r"must lie in \[0, 1\]"),
        ("does/not/exist.png", FileNotFoundError, "does/not/exist.png does not exist"),
    ],
)
def test_bad_inputs_raise_clear_errors(predictor, bad, error, pattern):
    with pytest.raises(error, match=pattern):
        predictor([bad])


def test_non_image_and_corrupt_files(predictor, tmp_path, frame):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="notes.txt is not an image file"):
        predictor([text])
    png = tmp_path / "cut.png"
    Image.fromarray(frame).save(png)
    png.write_bytes(png.read_bytes()[:200])
    with pytest.raises(ValueError, match="cut.png is a corrupt or truncated image"):
        predictor([png])
    with pytest.raises(ValueError, match="no images"):
        predictor([])


def test_device_and_autocast_choice(monkeypatch):
    assert device_mod.resolve_device("auto").type in ("cuda", "mps", "cpu")
    cpu = torch.device("cpu")
    monkeypatch.delenv(device_mod.AUTO_PRECISION_ENV, raising=False)  # the CPU decides "auto"
    monkeypatch.setattr(device_mod, "cpu_has_fast_bf16", lambda: True)
    assert device_mod.autocast_dtype(cpu, "auto") is torch.bfloat16
    assert device_mod.autocast_dtype(cpu, False) is None
    monkeypatch.setattr(device_mod, "cpu_has_fast_bf16", lambda: False)
    assert device_mod.autocast_dtype(cpu, "auto") is None
    assert device_mod.autocast_dtype(cpu, "bf16") is torch.bfloat16
    with pytest.raises(ValueError, match="unknown precision"):
        device_mod.autocast_dtype(cpu, "int8")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        device_mod.resolve_device("cuda")


def test_auto_precision_can_be_pinned_by_the_environment(monkeypatch, tiny_checkpoint):
    """DIFFCLIP_AUTO_PRECISION pins what "auto" means (the test suite's second pass), never an explicit choice;
    a bad value is refused with the variable's name."""
    cpu = torch.device("cpu")
    monkeypatch.setattr(device_mod, "cpu_has_fast_bf16", lambda: False)
    monkeypatch.setenv(device_mod.AUTO_PRECISION_ENV, "bf16")
    assert device_mod.autocast_dtype(cpu, "auto") is torch.bfloat16 and device_mod.other_cpu_precision() == "fp32"
    assert Predictor(tiny_checkpoint, device="cpu").precision == "bf16"
    assert device_mod.autocast_dtype(cpu, "fp32") is None
    monkeypatch.setenv(device_mod.AUTO_PRECISION_ENV, "fp16")
    assert device_mod.autocast_dtype(cpu, "auto") is torch.float16
    monkeypatch.setenv(device_mod.AUTO_PRECISION_ENV, "FP32 ")
    monkeypatch.setattr(device_mod, "cpu_has_fast_bf16", lambda: True)
    assert device_mod.autocast_dtype(cpu, "auto") is None and device_mod.other_cpu_precision() == "bf16"
    monkeypatch.setenv(device_mod.AUTO_PRECISION_ENV, "int8")
    with pytest.raises(ValueError, match="DIFFCLIP_AUTO_PRECISION='int8'"):
        device_mod.autocast_dtype(cpu, "auto")


def test_last_layers_run_in_fp32_under_autocast(tiny_checkpoint):
    """The projection and the classifier head run in fp32 under bf16 autocast (diffclip.device.full_precision):
    their output is fp32 and equals the fp32 head applied to the bf16 trunk's tokens."""
    model = Predictor(tiny_checkpoint, device="cpu", precision="fp32").model
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        logits, feats = model(x, return_features=True)
        tokens = model.backbone.trunk(x)
    assert logits.dtype == feats.dtype == torch.float32
    with torch.inference_mode():
        ref = model.backbone.head(tokens.float())
        assert torch.equal(feats, ref) and torch.equal(logits, model.head(ref))


#: bf16 autocast against fp32 on the bundled diff model and the eight example frames: measured max
#: |p_bf16 - p_fp32| 0.0052 on the 208 frames of benchmarks/cpu_bf16.py (0.022 before the last layers ran in fp32).
BF16_TOLERANCE, BF16_MEAN_TOLERANCE = 0.01, 0.002


def test_bf16_path_forced_on_any_cpu_stays_close_to_fp32():
    """Forced bf16 runs on any x86 CPU (slowly without AMX/AVX512-BF16); it must really run in bf16
    (probabilities move) and stay within the measured tolerance of fp32."""
    root = Path(__file__).resolve().parents[1]
    frames = sorted(p for p in (root / "demo" / "examples" / "frames").glob("*.png") if "_mask" not in p.name)
    fp32 = Predictor(root / "demo" / "weights" / "diff", device="cpu", precision="fp32")
    bf16 = Predictor(root / "demo" / "weights" / "diff", device="cpu", precision="bf16")
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    diff = np.abs(fp32(frames).probs - bf16(frames).probs)
    assert 1e-5 < diff.max() <= BF16_TOLERANCE and diff.mean() <= BF16_MEAN_TOLERANCE, (diff.max(), diff.mean())


def test_precision_auto_follows_the_cpu(tiny_checkpoint, monkeypatch):
    monkeypatch.delenv(device_mod.AUTO_PRECISION_ENV, raising=False)  # the CPU decides "auto"
    monkeypatch.setattr(device_mod, "cpu_has_fast_bf16", lambda: True)
    assert Predictor(tiny_checkpoint, device="cpu").precision == "bf16"
    assert Predictor(tiny_checkpoint, device="cpu", precision="fp32").precision == "fp32"
    monkeypatch.setattr(device_mod, "cpu_has_fast_bf16", lambda: False)
    assert Predictor(tiny_checkpoint, device="cpu").precision == "fp32"
    assert Predictor(tiny_checkpoint, device="cpu", precision="bf16").precision == "bf16"


def test_model_card_says_which_precision_runs(tiny_checkpoint, monkeypatch):
    from demo.model_card import model_card

    monkeypatch.delenv(device_mod.AUTO_PRECISION_ENV, raising=False)  # the CPU decides "auto"
    monkeypatch.setattr(device_mod, "cpu_has_fast_bf16", lambda: True)
    assert "runs on: **cpu** in **bf16**" in model_card(Predictor(tiny_checkpoint, device="cpu"), "tiny")
    assert "in **fp32**" in model_card(Predictor(tiny_checkpoint, device="cpu", precision="fp32"), "tiny")


@pytest.mark.parametrize("shape", [(480, 640), (336, 336), (300, 200)])
def test_one_preprocessing_route_matches_open_clip_on_frames_that_need_resizing(tiny_checkpoint, tmp_path, shape):
    """The Predictor, the explanations and the video pipeline share one route (crop -> uint8 ->
    normalise); it equals open_clip's eval transform, BiomedCLIP's reference preprocessing."""
    from open_clip.transform import image_transform

    from diffclip.pipeline import batches
    from diffclip.video import Sampling, folder_source
    from explain.analysis import analyse

    rng = np.random.default_rng(sum(shape))
    img = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    (tmp_path / "v").mkdir()
    Image.fromarray(img).save(tmp_path / "v" / "frame_000000.png")
    predictor = Predictor(tiny_checkpoint, device="cpu", precision="fp32")
    pre = predictor.pre
    reference = image_transform(pre.image_size, is_train=False, mean=pre.mean, std=pre.std,
                                interpolation=pre.interpolation, resize_mode=pre.resize_mode)(Image.fromarray(img))
    ours = predictor.run(predictor.crops([img]), maps=True).x[0]
    assert ours.shape == reference.shape == (3, 224, 224)
    assert (ours - reference).abs().max().item() <= 1e-5  # float rounding of x * a + b against (x / 255 - m) / s
    assert torch.equal(analyse(predictor, img).x[0], ours)
    (_, _, crops), = list(batches(predictor, folder_source(tmp_path / "v", Sampling()), workers=0))
    assert torch.equal(predictor.run(crops, maps=True).x[0], ours)


def _png_claiming(path, width, height):
    """A small PNG whose header claims ``width`` x ``height`` (a real image, then its IHDR rewritten)."""
    import struct
    import zlib

    Image.new("RGB", (4, 4)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("size", [(7000, 7000), (16000, 16000), (50000, 50000)])
def test_images_over_the_pixel_limit_are_refused_before_decoding(predictor, tmp_path, size):
    import time

    big = _png_claiming(tmp_path / "big.png", *size)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"big.png: (\d+ x \d+ pixels|more than \d+ megapixels).*at most 40 megapixels"):
        predictor([big])
    assert time.perf_counter() - start < 5  # refused from the header, nothing decoded
    with pytest.raises(ValueError, match="at most 40 megapixels"):
        predictor([np.zeros((8000, 6000, 3), np.uint8)])
    assert predictor([np.zeros((4000, 6000, 3), np.uint8)]).probs.shape == (1, 17)  # 24 megapixels: fine


def test_crop_into_writes_the_crops_pixels_by_the_quick_route_where_it_can(tmp_path, monkeypatch):
    """The batch decoder (`crop_into`, OpenCV straight into a buffer row) gives the same pixels as `crop`
    (the reference route above) for every form of PNG; a plain 8-bit S x S PNG never touches Pillow."""
    import cv2

    from diffclip import images
    from diffclip.backbones import Preprocess

    pre = Preprocess()
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    files = {
        "plain.png": cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
        "rgba.png": np.dstack([cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), rng.integers(0, 256, (224, 224), np.uint8)]),
        "deep.png": cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257 + 3,
        "grey.png": rgb[:, :, 0],
        "large.png": rng.integers(0, 256, (336, 400, 3), dtype=np.uint8),
        "frame.jpg": cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
    }
    for name, arr in files.items():
        cv2.imwrite(str(tmp_path / name), arr)
    for name in files:
        out = np.zeros((224, 224, 3), np.uint8)
        pre.crop_into(tmp_path / name, out)
        assert np.array_equal(out, pre.crop(tmp_path / name).permute(1, 2, 0).numpy()), name
    strided = np.zeros((224, 224, 4), np.uint8)[:, :, :3]  # not a plain C array: OpenCV cannot write into it
    pre.crop_into(tmp_path / "plain.png", strided)
    assert np.array_equal(strided, rgb)

    def no_pillow(*args, **kwargs):
        raise AssertionError("the quick route went through Pillow")

    monkeypatch.setattr(images, "crop_array", no_pillow)
    out = np.zeros((224, 224, 3), np.uint8)
    pre.crop_into(str(tmp_path / "plain.png"), out)
    assert np.array_equal(out, rgb)
    with pytest.raises(AssertionError, match="Pillow"):
        pre.crop_into(tmp_path / "large.png", out)
    with pytest.raises(FileNotFoundError, match="missing.png does not exist"):
        pre.crop_into(tmp_path / "missing.png", out)
