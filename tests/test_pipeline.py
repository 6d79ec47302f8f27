"""The pipeline's decoding routes (between batches on the CPU, worker processes, a background thread for
videos) feed the model the same frames in the same order as the Predictor on its own."""

import threading

import cv2
import numpy as np
import pytest

from diffclip import pipeline
from diffclip.backbones import Preprocess
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
    crop_into = Preprocess.crop_into

    def spy(self, image, out):
        decoders.add(threading.current_thread().name.split("_")[0])
        return crop_into(self, image, out)

    monkeypatch.setattr(Preprocess, "crop_into", spy)
    source = folder_source(folder, Sampling())
    sizes = [len(b[0]) for b in pipeline.batches(predictor, source, workers)]
    assert sizes == [4, 4, 2]
    (result,), stats = pipeline.predict_sources(predictor, [source], progress=False, workers=workers)
    pipeline_decoders = set(decoders)
    paths = sorted(folder.iterdir())
    assert result.frames.tolist() == [3 * i for i in range(10)] and stats.frames == 10
    np.testing.assert_allclose(result.probs, predictor.predict(paths).probs, atol=1e-6)
    # On the CPU (no workers) frames are decoded between batches by a pool of threads, not beside the model.
    assert pipeline_decoders == ({"diffclip-decode"} if workers == 0 else set())


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


def test_a_warm_heap_reuses_what_a_batch_freed_without_faulting_it_in_again():
    """After keep_heap_warm (every Predictor calls it) a freed 8 MB block comes back from the heap: its
    pages are not faulted in again, as they were with glibc's adaptive thresholds (diffclip.memory)."""
    import resource
    import sys

    from diffclip import memory

    assert memory.keep_heap_warm() is sys.platform.startswith("linux")
    if not memory.keep_heap_warm():
        return  # no glibc: nothing was changed, as the assertion above checked
    np.ones(8 * 2**20 // 8).sum()  # touch, free
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    np.ones(8 * 2**20 // 8).sum()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 8 * 2**20 // 4096 // 4, faults  # a fresh mapping would fault in 2,048 pages


def test_importing_diffclip_sets_the_cpu_runtime_defaults_and_they_yield_to_the_users(monkeypatch):
    import os
    import subprocess
    import sys

    from diffclip.runtime import CPU_RUNTIME_DEFAULTS, set_cpu_runtime_defaults

    env = {k: v for k, v in os.environ.items() if k not in CPU_RUNTIME_DEFAULTS}
    code = ("import sys, os; import diffclip; "
            "print(','.join(os.environ.get(k, '-') for k in sorted(diffclip.runtime.CPU_RUNTIME_DEFAULTS)))")
    # a fresh interpreter: importing diffclip sets every default (torch loads after, inside diffclip)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == ",".join(CPU_RUNTIME_DEFAULTS[k] for k in sorted(CPU_RUNTIME_DEFAULTS))
    monkeypatch.setenv("GOMP_SPINCOUNT", "123")
    monkeypatch.delenv("THP_MEM_ALLOC_ENABLE", raising=False)
    assert set_cpu_runtime_defaults() == {"THP_MEM_ALLOC_ENABLE": "1", "GOMP_SPINCOUNT": "123"}
