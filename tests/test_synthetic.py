import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from diffclip.labels import GALAR_FREQUENCIES, LABELS, LESIONS, SECTIONS
from training.galar_splits import scan_galar
from training.grounding import grounding_auc
from training.synthetic import SynthConfig, generate, plan_video, render_frame

LESION_IDX = [LABELS.index(lab) for lab in LESIONS]


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "a"
    return generate(root, videos=2, frames=60, seed=7, size=96, rare_share=0.05, mp4=True, progress=False)


def _digest(root):
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_reader_gives_exactly_the_generated_labels(synth):
    index = scan_galar(synth.root)
    assert index.missing == 0
    assert index.video_ids == ["1", "2"]
    for plan in synth.plans:
        recs = [r for r in index.records if r.video_id == plan.video_id]
        assert [r.frame for r in recs] == plan.frame_numbers.tolist()
        assert np.array_equal(np.stack([r.target for r in recs]), plan.labels.astype(np.float32))
        assert [r.section for r in recs] == [SECTIONS[s] for s in plan.sections]


def test_ground_truth_json_matches_labels(synth):
    truth = json.loads(synth.ground_truth.read_text())
    assert [v["video_id"] for v in truth["videos"]] == ["1", "2"]
    for plan, video in zip(synth.plans, truth["videos"], strict=True):
        rebuilt = np.zeros_like(plan.labels)
        for ev in video["events"]:
            assert isinstance(ev["label"], list) and ev["start"] <= ev["end"]
            for lab in ev["label"]:
                rebuilt[ev["start"] : ev["end"] + 1, LABELS.index(lab)] = True
        assert np.array_equal(rebuilt, plan.labels)
        # maximal runs: neighbouring events differ in their label sets
        sets = [tuple(ev["label"]) for ev in video["events"]]
        assert all(a != b for a, b in zip(sets, sets[1:], strict=False))


def test_masks_non_empty_exactly_on_lesion_frames(synth):
    index = scan_galar(synth.root)
    for rec in index.records:
        mask = np.asarray(Image.open(rec.mask_path))
        has_lesion = bool(rec.target[LESION_IDX].any())
        assert bool(mask.any()) == has_lesion, (rec.video_id, rec.frame)
        present = {LABELS[v - 1] for v in np.unique(mask) if v}
        assert present <= {lab for lab, on in zip(LABELS, rec.target, strict=True) if on}


def test_same_seed_gives_byte_identical_files(synth, tmp_path):
    again = generate(tmp_path / "b", videos=2, frames=60, seed=7, size=96, rare_share=0.05, mp4=True,
                     progress=False, workers=1)
    first, second = _digest(synth.root), _digest(again.root)
    assert first.keys() == second.keys()
    assert "videos/1.mp4" in first and "1/frame_000059_mask.png" in first and "1/frame_000059_distractors.png" in first
    # PNGs, CSVs and JSON byte for byte; libx264's bitstream is not identical on every CPU (seen on
    # one with AVX512), so MP4s are compared by their decoded frames (test_mp4_frames_match_the_pngs)
    assert {k: v for k, v in first.items() if not k.endswith(".mp4")} == \
        {k: v for k, v in second.items() if not k.endswith(".mp4")}
    for result in (synth, again):
        for plan, video in zip(result.plans, result.videos, strict=True):
            pngs = sorted((result.root / plan.video_id).glob("frame_*.PNG"))
            _assert_mp4_shows(video, [np.asarray(Image.open(p).convert("RGB")) for p in pngs])
    other = generate(tmp_path / "c", videos=1, frames=60, seed=8, size=96, progress=False, workers=1)
    assert _digest(other.root)["1/frame_000030.PNG"] != first["1/frame_000030.PNG"]


def _assert_mp4_shows(video, frames, min_psnr=28.0):
    """Every decoded frame, in order, within ``min_psnr`` dB of its source RGB frame (measured: 30.9 dB
    worst, 32.1 median at crf 20 with yuv420p chroma subsampling)."""
    import av

    with av.open(str(video)) as container:
        decoded = [f.to_ndarray(format="rgb24").astype(np.float64) for f in container.decode(video=0)]
    assert len(decoded) == len(frames)
    for i, (frame, source) in enumerate(zip(decoded, frames, strict=True)):
        mse = np.mean((frame - np.asarray(source, np.float64)) ** 2)
        assert 10 * np.log10(255**2 / max(mse, 1e-12)) >= min_psnr, (video, i)


def test_mp4_is_browser_playable_h264(synth):
    import av

    with av.open(str(synth.videos[0])) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.pix_fmt == "yuv420p"
        assert sum(1 for _ in container.decode(stream)) == 60


def test_frequencies_follow_galar():
    shares = np.mean([plan_video(str(i), SynthConfig(frames=20000, seed=i)).labels.mean(0) for i in range(3)], axis=0)
    for lab in ("colon", "small intestine", "stomach", "blood"):
        expected = GALAR_FREQUENCIES[lab]
        assert expected / 2 < shares[LABELS.index(lab)] < expected * 2, (lab, shares[LABELS.index(lab)])
    for lab in ("z-line", "mouth", "esophagus", "active bleeding"):
        assert shares[LABELS.index(lab)] < 0.01
    # order of passage: mouth, esophagus, stomach, small intestine, colon
    plan = plan_video("1", SynthConfig(frames=2000, seed=1))
    assert np.all(np.diff(plan.sections) >= 0) and set(plan.sections) == set(range(5))
    boosted = plan_video("1", SynthConfig(frames=2000, seed=1, rare_share=0.02)).labels.mean(0)
    assert np.all(boosted >= 0.015)


def test_distractor_masks_mark_what_was_drawn(synth):
    from diffclip.fov import fov_mask

    for plan in synth.plans:
        on = plan.distractor_frames()
        for t, number in enumerate(plan.frame_numbers):
            codes = np.asarray(Image.open(synth.root / plan.video_id / f"frame_{number:06d}_distractors.png"))
            rgb = np.asarray(Image.open(synth.root / plan.video_id / f"frame_{number:06d}.PNG").convert("RGB"))
            assert codes.dtype == np.uint8 and set(np.unique(codes).tolist()) <= {0, 1, 2, 3, 4}
            # a bubble, highlight or debris pixel exactly on the frames of a distractor run
            assert bool((np.isin(codes, (1, 2, 3))).any()) == bool(on[t]), (plan.video_id, t)
            # code 4 is the dark rim, as the field-of-view finder sees it
            assert np.mean((codes == 4) == ~fov_mask(rgb)) > 0.98
    kinds = {inst.kind for plan in synth.plans for inst in plan.instances}
    assert {"bubbles", "highlights", "debris"} <= kinds


def test_distractors_cover_a_third_of_frames_independently_of_the_labels():
    for seed in range(3):
        plan = plan_video("1", SynthConfig(seed=seed))  # the default settings
        assert plan.distractor_frames().mean() >= 0.30, seed
    # where distractors fall does not depend on the labels: other labels (rare labels boosted), same runs
    plain = plan_video("1", SynthConfig(frames=2000, seed=5))
    boosted = plan_video("1", SynthConfig(frames=2000, seed=5, rare_share=0.05))
    assert not np.array_equal(plain.labels, boosted.labels)

    def runs(p):
        return [(i.kind, i.start, i.end) for i in p.instances if i.kind in ("bubbles", "highlights", "debris")]

    assert runs(plain) == runs(boosted) and len(runs(plain)) > 50
    # and as often on lesion frames as elsewhere (runs of ~17 frames: one video varies by +-0.07, so average)
    gaps = []
    for seed in range(6):
        big = plan_video("1", SynthConfig(frames=20000, seed=seed, rare_share=0.05))
        lesion, on = big.labels[:, LESION_IDX].any(1), big.distractor_frames()
        gaps.append(on[lesion].mean() - on[~lesion].mean())
    assert abs(np.mean(gaps)) < 0.04, gaps


def test_bad_settings():
    with pytest.raises(ValueError, match="at least 15 frames"):
        SynthConfig(frames=10)
    with pytest.raises(ValueError, match="rare_share"):
        SynthConfig(rare_share=0.5)


def test_labels_are_visually_grounded():
    """Colour/texture features and logistic regression (no deep net), 2,000 training frames."""
    targets = ("mouth", "esophagus", "stomach", "small intestine", "colon", "blood")
    aucs = grounding_auc(train_videos=4, test_videos=1, frames=500, seed=0, labels=targets)
    print(aucs)
    for lab in targets:
        assert aucs[lab] > 0.9, (lab, aucs[lab])


def test_synth_command_line(tmp_path, capsys):
    from diffclip.cli import main

    out = tmp_path / "cli"
    assert main(["synth", "--out", str(out), "--videos", "1", "--frames", "20", "--seed", "3", "--size", "64",
                 "--workers", "1"]) == 0
    captured = capsys.readouterr()
    assert "wrote 1 videos x 20 frames" in captured.out
    assert "synth: 100%" in captured.err  # progress bar
    assert len(list((out / "1").glob("frame_*.PNG"))) == 20
    summary = json.loads((out / "synth.json").read_text())
    assert summary["config"]["seed"] == 3 and summary["videos"]["1"]["mouth"] >= 3
    assert main(["synth", "--out", str(out), "--frames", "5"]) == 2
    assert "at least 15 frames" in capsys.readouterr().err


def test_committed_examples_are_reproduced_by_their_command(tmp_path):
    from pathlib import Path

    from training.examples import main as examples_main

    committed = Path(__file__).resolve().parents[1] / "demo" / "examples"
    from training.examples import CLIP_FRAMES, SEED
    from training.synthetic import render_frame

    assert examples_main(["--out", str(tmp_path / "ex")]) == 0
    made, kept = _digest(tmp_path / "ex"), _digest(committed)
    assert made.keys() == kept.keys()
    assert {k: v for k, v in made.items() if k != "clip.mp4"} == {k: v for k, v in kept.items() if k != "clip.mp4"}
    # the clip by its decoded frames (libx264's bytes differ between CPUs; see above)
    plan = plan_video("clip", SynthConfig(frames=CLIP_FRAMES, seed=SEED + 1, rare_share=0.05))
    sources = [render_frame(plan, t)[0] for t in range(CLIP_FRAMES)]
    _assert_mp4_shows(committed / "clip.mp4", sources)
    _assert_mp4_shows(tmp_path / "ex" / "clip.mp4", sources)
    index = json.loads((committed / "examples.json").read_text())
    assert len(index["frames"]) == 8 and len({f["shows"] for f in index["frames"]}) == 8
    for entry in index["frames"]:
        # each example shows its finding alone: no other lesion or landmark, and its mask is that lesion's
        assert [lab for lab in entry["labels"] if lab not in SECTIONS] == [entry["shows"]]
        values = set(np.unique(np.asarray(Image.open(committed / entry["mask"]))).tolist())
        named = LABELS.index(entry["shows"]) + 1
        assert values == ({0, named} if entry["shows"] in LESIONS else {0}), (entry["shows"], values)
    assert len({(f["source"]["video"], f["source"]["frame"]) for f in index["frames"]}) == 8


def test_lookalikes_add_distractors_in_findings_colours_and_change_nothing_else():
    """The noise study's setting where looking matters (training.synthetic.lookalikes): the same video with
    look-alikes has the same labels, the same other instances and, on frames without a look-alike, the same
    pixels; a look-alike's pixels carry the code of the distractor whose shape it has, in a finding's colour."""
    from training.synthetic.lookalikes import CODES, DARK_RED, RED

    plain = plan_video("1", SynthConfig(frames=300, seed=3, rare_share=0.03))
    look = plan_video("1", SynthConfig(frames=300, seed=3, rare_share=0.03, lookalikes=0.25))
    assert np.array_equal(plain.labels, look.labels)
    extra = [i for i in look.instances if i.kind in CODES]
    assert look.instances[: len(plain.instances)] == plain.instances and len(extra) == len(look.instances) - len(plain.instances)
    assert {i.kind for i in extra} == set(CODES)
    shown = np.zeros(300, bool)
    for inst in extra:
        shown[inst.start : inst.end + 1] = True
    assert 0.3 < shown.mean() < 0.85  # three kinds on about 25% of frames each: 58% expected, one video varies
    quiet = int(np.flatnonzero(~shown)[0])
    assert np.array_equal(render_frame(plain, quiet).rgb, render_frame(look, quiet).rgb)
    # each against the ordinary distractor of its shape: white glints, yellow-brown debris
    for kind, colour, ordinary, code in (("red glare", RED, (1.0, 1.0, 1.0), 2),
                                         ("dark clumps", DARK_RED, (0.45, 0.42, 0.12), 3)):
        inst = next(i for i in extra if i.kind == kind)
        t = (inst.start + inst.end) // 2
        before, after = render_frame(plain, t), render_frame(look, t)
        added = (after.distractors == code) & (before.distractors != code)
        assert added.sum() > 20 and CODES[kind] == code
        # the added pixels lean towards the finding's colour: red well above green and blue
        rgb = after.rgb[added].astype(float).mean(0)
        assert rgb[0] > 1.5 * max(rgb[1], rgb[2]), (kind, rgb)
        assert np.linalg.norm(rgb / 255 - colour) < np.linalg.norm(rgb / 255 - ordinary), (kind, rgb)
        assert look.distractor_frames()[t]
    with pytest.raises(ValueError, match="lookalikes"):
        SynthConfig(lookalikes=0.9)
