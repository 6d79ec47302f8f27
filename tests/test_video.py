import numpy as np
import pytest

from diffclip.prefetch import prefetch
from diffclip.video import Sampling, discover_sources, folder_source, images_source, video_source


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 30-frame, 10 fps H.264 clip whose frame i has mean brightness 8 * i."""
    import av

    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for i in range(30):
            img = np.full((64, 64, 3), 8 * i, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def test_video_frames_numbers_and_timestamps(clip):
    frames = list(video_source(clip))
    assert [f.number for f in frames] == list(range(30))
    assert frames[10].time == pytest.approx(1.0)
    assert abs(frames[12].image.mean() - 96) < 4  # decoded pixels follow the encoded brightness
    assert video_source(clip).estimate == 30


def test_video_sampling_by_stride_fps_and_cap(clip):
    assert [f.number for f in video_source(clip, Sampling(stride=4))] == list(range(0, 30, 4))
    by_fps = list(video_source(clip, Sampling(fps=2.5)))
    assert [f.number for f in by_fps] == [0, 4, 8, 12, 16, 20, 24, 28]
    assert [f.time for f in by_fps][:3] == pytest.approx([0.0, 0.4, 0.8])
    capped = video_source(clip, Sampling(stride=2, max_frames=5))
    assert [f.number for f in capped] == [0, 2, 4, 6, 8] and capped.estimate == 5


def test_bad_video_files(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(ValueError, match="broken.mp4 is not a readable video"):
        video_source(bad)
    with pytest.raises(FileNotFoundError):
        video_source(tmp_path / "missing.mp4")
    with pytest.raises(ValueError, match="stride must be >= 1"):
        Sampling(stride=0)


def _frames(folder, numbers, upper=True, digits=6):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        ext = "PNG" if upper else "png"
        Image.new("RGB", (8, 8)).save(folder / f"frame_{n:0{digits}d}.{ext}", format="PNG")


def test_folder_layouts_and_discovery(tmp_path, clip):
    _frames(tmp_path / "galar" / "3", [0, 5, 10, 15])
    (tmp_path / "galar" / "3" / "frame_000005_mask.png").write_bytes(b"")  # masks are not frames
    _frames(tmp_path / "challenge" / "ukdd_navi_00051", [49, 50, 51], upper=False, digits=7)
    _frames(tmp_path / "challenge" / "ukdd_navi_00068", [1, 2], upper=False, digits=7)
    src = folder_source(tmp_path / "galar" / "3", Sampling(stride=2))
    assert [f.number for f in src] == [0, 10] and src.video_id == "3"
    sources = discover_sources([tmp_path / "challenge", tmp_path / "galar" / "3", clip])
    assert [s.video_id for s in sources] == ["ukdd_navi_00051", "ukdd_navi_00068", "3", "clip"]
    assert [f.number for f in sources[0]] == [49, 50, 51]
    loose = discover_sources([tmp_path / "galar" / "3" / "frame_000000.PNG"])
    assert loose[0].video_id == "images" and loose[0].estimate == 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: no frames, frame folders or videos"):
        discover_sources([tmp_path / "empty"])
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    with pytest.raises(ValueError, match="notes.txt: not a video"):
        discover_sources([notes])
    with pytest.raises(ValueError, match="share the video id"):
        discover_sources([tmp_path / "galar" / "3", tmp_path / "galar"])
    with pytest.raises(FileNotFoundError):
        images_source([tmp_path / "nope.png"])


def test_prefetch_runs_ahead_and_reraises():
    import threading

    seen = []

    def produce():
        for i in range(10):
            seen.append(threading.current_thread().name)
            yield i

    assert list(prefetch(produce(), depth=2)) == list(range(10))
    assert set(seen) == {"diffclip-prefetch"}

    def broken():
        yield 1
        raise RuntimeError("decoder died")

    it = prefetch(broken())
    assert next(it) == 1
    with pytest.raises(RuntimeError, match="decoder died"):
        next(it)
    # stopping early does not hang the producer
    gen = prefetch(iter(range(1000)), depth=2)
    assert next(gen) == 0
    gen.close()


def test_upper_and_lower_case_copies_of_a_frame_count_once(tmp_path, caplog):
    import logging

    from diffclip.frame_files import list_frame_files

    _frames(tmp_path / "v", [0, 1], upper=True)
    _frames(tmp_path / "v", [1], upper=False)
    with caplog.at_level(logging.WARNING):
        files = list_frame_files(tmp_path / "v")
    assert [n for n, _ in files] == [0, 1] and files[1][1].name == "frame_000001.PNG"
    assert "both hold frame 1" in caplog.text


def test_video_frames_over_the_pixel_limit_are_refused_before_decoding(clip, monkeypatch):
    from diffclip import images

    monkeypatch.setattr(images, "MAX_PIXELS", 64 * 64 - 1)  # the clip's 64 x 64 frames are one pixel over
    with pytest.raises(ValueError, match=r"clip.mp4 \(video frames\): 64 x 64 pixels .* at most 0 megapixels"):
        video_source(clip)


def test_a_truncated_video_says_so(tmp_path, capsys):
    from diffclip.cli import main
    from diffclip.mp4 import write_mp4
    from diffclip.video import video_source

    rng = np.random.default_rng(0)
    full = write_mp4((rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(100)), tmp_path / "f.mp4", 10)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    source = video_source(cut)
    n = len(list(source))
    assert 0 < n < 100 and source.warnings == [f"cut.mp4: decoded {n} of 100 frames; the file looks truncated"]
    whole = video_source(full)
    assert len(list(whole)) == 100 and whole.warnings == []
    capped = video_source(cut, Sampling(max_frames=5))
    assert len(list(capped)) == 5 and capped.warnings == []  # stopped on purpose: nothing to say
    from diffclip.checkpoint import save_checkpoint
    from diffclip.factory import build_model

    save_checkpoint(build_model("micro", "diff"), tmp_path / "m")
    assert main(["predict", str(cut), "--checkpoint", str(tmp_path / "m"), "--out", str(tmp_path / "e.json"),
                 "--device", "cpu"]) == 0
    assert f"warning: cut.mp4: decoded {n} of 100 frames; the file looks truncated" in capsys.readouterr().out
    from demo.tabs.clip.clip_view import analyse_clip
    from diffclip.inference import Predictor

    result = analyse_clip(Predictor(tmp_path / "m", device="cpu", precision="fp32"), cut, 30, 200,
                          out_dir=tmp_path / "clip")
    assert len(result.frames) == n and result.warnings == source.warnings
