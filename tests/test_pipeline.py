"""The pipeline's decoding routes (between batches on the CPU, worker processes, a background thread for
videos) feed the model the same frames in the same order as the Predictor on its own."""

import threading

import cv2
import numpy as np
import pytest

from diffclip import pipeline
from diffclip.inference import Predictor
from diffclip.video import Sampling, folder_source


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("video") / "7"
    root.mkdir()
    rng = np.random.default_rng(2)
    for i in range(10):
        img = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
        cv2.imwrite(str(root / f"frame_{3 * i:06d}.PNG"), img)
    return root


@pytest.mark.parametrize("workers", [0, 1])
def test_decoding_routes_match_the_predictor(tiny_checkpoint, folder, workers, monkeypatch):
    predictor = Predictor(tiny_checkpoint, device="cpu", batch_size=4, precision="fp32")
    decoders = set()
    load_crop = predictor.load_crop

    def spy(image):
        decoders.add(threading.current_thread().name.split("_")[0])
        return load_crop(image)

    monkeypatch.setattr(predictor, "load_crop", spy)
    source = folder_source(folder, Sampling())
    sizes = [len(b[0]) for b in pipeline.batches(predictor, source, workers)]
    assert sizes == [4, 4, 2]
    (result,), stats = pipeline.predict_sources(predictor, [source], progress=False, workers=workers)
    paths = sorted(folder.iterdir())
    assert result.frames.tolist() == [3 * i for i in range(10)] and stats.frames == 10
    np.testing.assert_allclose(result.probs, predictor.predict(paths).probs, atol=1e-6)
    # On the CPU (no workers) frames are decoded between batches by a pool of threads, not beside the model.
    assert decoders == ({"diffclip-decode"} if workers == 0 else set())


def test_long_runs_hand_free_heap_pages_back_every_few_batches(tiny_checkpoint, folder, monkeypatch):
    import sys

    from diffclip import memory

    assert memory.trim_heap() is sys.platform.startswith("linux")
    calls = []
    monkeypatch.setattr(pipeline, "trim_heap", lambda: calls.append(1))
    monkeypatch.setattr(pipeline, "TRIM_EVERY_BATCHES", 2)
    predictor = Predictor(tiny_checkpoint, device="cpu", batch_size=2, precision="fp32")
    pipeline.predict_sources(predictor, [folder_source(folder, Sampling())], progress=False)
    assert len(calls) == 2  # 5 batches: at the 2nd and at the 4th
