"""The paper's recipe, part two (issue 32, point 1): EMA's first step, gradient clipping with the text-prompt
temperature, and Galar reading (frame sampling over files with gaps and unlabelled frames, the frame column,
label-column aliases, the updated-labels folder), each against a restatement of the paper's code
(rare_vision_pipeline_v3_1.py) on hand-made cases."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from diffclip.galar import read_label_csv, scan_galar
from diffclip.labels import LABELS
from training.config import TrainConfig
from training.loop import make_ema, update_ema


class PaperEMA:
    """The paper's ModelEMA, restated: a shadow of the trainable parameters taken at construction, then
    ``shadow = decay * shadow + (1 - decay) * p`` after every step; evaluation copies the shadow over the
    parameters (buffers stay the model's)."""

    def __init__(self, model, decay):
        self.decay = decay
        self.shadow = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    def update(self, model):
        for n, p in model.named_parameters():
            if n in self.shadow:
                self.shadow[n].mul_(self.decay).add_(p.detach(), alpha=1 - self.decay)


def _toy():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))


def _steps(model, n, lr=0.5):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    model.train()
    for i in range(n):
        x = torch.randn(16, 4, generator=torch.Generator().manual_seed(i))
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()
        yield i + 1


def test_ema_without_warmup_is_the_papers_from_the_first_step():
    model = _toy()
    cfg = TrainConfig(ema_decay=0.9, ema_warmup=False)
    ours, paper = make_ema(model, cfg), PaperEMA(model, 0.9)
    for step in _steps(model, 3):
        update_ema(ours, model, step, cfg)
        paper.update(model)
    for name, p in ours.module.named_parameters():
        assert torch.allclose(p, paper.shadow[name], atol=1e-7), name
    # the shadow is not the weights after the first step (timm's copy), and the statistics are the model's
    assert not torch.allclose(ours.module[0].weight, model[0].weight, atol=1e-3)
    assert torch.equal(ours.module[1].running_mean, model[1].running_mean)
    # by hand, one step: shadow = 0.9 * w0 + 0.1 * w1
    model = _toy()
    w0 = model[2].bias.detach().clone()
    ema = make_ema(model, cfg)
    for step in _steps(model, 1):
        update_ema(ema, model, step, cfg)
    assert torch.allclose(ema.module[2].bias, 0.9 * w0 + 0.1 * model[2].bias.detach(), atol=1e-7)


def test_ema_with_warmup_keeps_timms_behaviour_for_the_demo_configs():
    model = _toy()
    cfg = TrainConfig(ema_decay=0.9, ema_warmup=True)
    ema = make_ema(model, cfg)
    for step in _steps(model, 1):
        update_ema(ema, model, step, cfg)
    assert torch.equal(ema.module[0].weight, model[0].weight)  # a copy at the first step


def test_clipping_includes_the_text_prompt_temperature(tmp_path, monkeypatch):
    """The paper clips every model parameter, its logit_scale among them; ours lives in TextPromptLoss and is
    clipped with the model's."""
    from training import loop

    monkeypatch.setattr(loop, "_text_features", lambda cfg, labels: torch.randn(len(labels), 64))
    seen = []
    real = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm, *a, **k):
        params = list(params)
        seen.append({id(p) for p in params})
        return real(params, max_norm, *a, **k)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    cfg = TrainConfig(backbone="micro", attention="diff", data_root=str(tmp_path / "data"), synth_videos=3,
                      synth_frames=20, synth_size=64, synth_rare_share=0.05, epochs=1, batch_size=16, text_weight=0.4,
                      out_dir=str(tmp_path / "run"), save_every_steps=0, amp="fp32", mixup=False)
    trainer = loop.Trainer(cfg)
    trainer._train_step(list(range(16)), trainer.train_set.raw(list(range(16))))
    temperature = {id(p) for p in trainer.text_loss.parameters()}
    assert seen and temperature and temperature <= seen[0]
    assert {id(p) for p in trainer.model.parameters()} <= seen[0]


def _write_csv(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([",".join(header), *(",".join(str(c) for c in r) for r in rows)]) + "\n")


def _galar_row(index, frame, on=()):
    return [index, *(int(lab in on) for lab in LABELS), "", frame]


HEADER = ["index", *LABELS, "section", "frame"]


@pytest.fixture()
def gappy_galar(tmp_path):
    """Video 1: files for frames 0-11 but 3; label rows for 0-11 but 7, in a shuffled order, 'index' equal to
    the frame number (as in Galar's files; test_the_papers_frame_column... shows what happens otherwise)."""
    folder = tmp_path / "1"
    folder.mkdir()
    for n in (0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11):
        (folder / f"frame_{n:06d}.PNG").touch()
    frames = [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11]
    order = [2, 0, 1, 3, 4, 6, 5, 8, 9, 10, 11]  # rows out of order
    _write_csv(tmp_path / "Labels" / "1.csv", HEADER,
               [_galar_row(f, f, ("blood",) if f % 2 else ()) for f in sorted(frames, key=order.index)])
    return tmp_path


def test_frame_sampling_as_the_paper_every_nth_file_then_the_labelled_ones(gappy_galar):
    # the paper: files sorted by number [0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11], every 3rd -> 0, 4, 7, 10; frame 7 has
    # no label row -> 0, 4, 10 (by hand)
    paper = scan_galar(gappy_galar, every=3, reader="paper")
    assert [r.frame for r in paper.records] == [0, 4, 10]
    assert [int(r.target[LABELS.index("blood")]) for r in paper.records] == [0, 0, 0]
    # ours: every 3rd labelled row in the file's order (2, 0, 1, 3, 4, 6, 5, 8, 9, 10, 11) -> 2, 3, 5, 10; frame 3
    # has no file -> 2, 5, 10: the two agree only when every frame has one row, in order
    ours = scan_galar(gappy_galar, every=3)
    assert [r.frame for r in ours.records] == [2, 5, 10] and ours.missing == 1


def test_the_papers_frame_column_is_the_first_of_its_names_in_header_order(tmp_path):
    path = tmp_path / "v.csv"
    # 'index' comes first, so the paper reads it as the frame number, whatever 'frame' says
    _write_csv(path, HEADER, [_galar_row(0, 40, ("polyp",)), _galar_row(1, 45)])
    frames, targets, _ = read_label_csv(path, reader="paper")
    assert frames == [0, 1] and targets[0, LABELS.index("polyp")] == 1
    assert read_label_csv(path)[0] == [40, 45]  # ours: the column named frame
    # frame_number alone: the paper finds it, ours asks for 'frame'
    _write_csv(path, ["Frame_Number", "polyp"], [[7, 1]])
    assert read_label_csv(path, reader="paper")[0] == [7]
    with pytest.raises(ValueError, match="no 'frame' column"):
        read_label_csv(path)
    # none of the names: the last column
    _write_csv(path, ["polyp", "n"], [[1, 9]])
    assert read_label_csv(path, reader="paper")[0] == [9]


def test_label_column_aliases_as_the_paper(tmp_path):
    path = tmp_path / "v.csv"
    header = ["frame", "Small_Intestine", "z_line", "ACTIVE BLEEDING", "smallintestine", "zline", "small-intestine"]
    # by hand from the paper's rule: Small_Intestine, z_line, ACTIVE BLEEDING and smallintestine name labels;
    # zline and small-intestine do not (the later smallintestine column is the one read)
    _write_csv(path, header, [[0, 0, 1, 1, 1, 0, 0]])
    _, targets, _ = read_label_csv(path, reader="paper")
    got = {lab for lab, v in zip(LABELS, targets[0], strict=True) if v}
    assert got == {"small intestine", "z-line", "active bleeding"}
    # ours reads the first column of each label, with hyphens ignored as well
    _, ours, _ = read_label_csv(path)
    assert {lab for lab, v in zip(LABELS, ours[0], strict=True) if v} == {"z-line", "active bleeding"}


def test_updated_labels_are_read_first_each_video_falling_back_to_the_original(tmp_path):
    for video in ("1", "2"):
        (tmp_path / "frames" / video).mkdir(parents=True)
        (tmp_path / "frames" / video / "frame_000000.PNG").touch()
    original = tmp_path / "Galar_labels_and_metadata" / "Labels"
    _write_csv(original / "1.csv", HEADER, [_galar_row(0, 0, ("ulcer",))])
    _write_csv(original / "2.csv", HEADER, [_galar_row(0, 0, ("erosion",))])
    _write_csv(tmp_path / "20251215_Labels_Updated" / "1.csv", HEADER, [_galar_row(0, 0, ("polyp",))])
    got = {r.video_id: {lab for lab, v in zip(LABELS, r.target, strict=True) if v}
           for r in scan_galar(tmp_path, reader="paper").records}
    assert got == {"1": {"polyp"}, "2": {"erosion"}}


def test_duplicate_rows_are_an_error_in_both_readers(tmp_path):
    """The paper's code would hand a (2, 17) target to the batch for such a frame and fail there; we say where."""
    path = tmp_path / "v.csv"
    _write_csv(path, HEADER, [_galar_row(5, 5), _galar_row(5, 5, ("blood",))])
    for reader in ("ours", "paper"):
        with pytest.raises(ValueError, match="already labelled at line 2"):
            read_label_csv(path, reader=reader)



def test_early_stopping_as_the_paper_and_its_per_epoch_plots(tmp_path, monkeypatch):
    """The paper: a better mAP resets the patience, anything else (a tie too) adds one, and the run stops when it
    reaches the patience. Scripted validation mAPs 0.5, 0.6, 0.6, 0.7 with patience 1: the third epoch ties, so
    the run stops after it (by hand)."""
    from training import loop

    scripted = iter([0.5, 0.6, 0.6, 0.7])
    real = loop.Trainer._evaluate

    def evaluate(self, epoch, train_loss, seconds):
        result = real(self, epoch, train_loss, seconds)
        result["row"]["val_map_supported"] = next(scripted)
        return result

    monkeypatch.setattr(loop.Trainer, "_evaluate", evaluate)
    cfg = TrainConfig(backbone="micro", attention="diff", data_root=str(tmp_path / "data"), synth_videos=3,
                      synth_frames=20, synth_size=64, synth_rare_share=0.05, epochs=4, batch_size=16, text_weight=0,
                      out_dir=str(tmp_path / "run"), save_every_steps=0, amp="fp32", early_stop_patience=1,
                      epoch_plots=True)
    out = loop.train(cfg)
    rows = (out / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 3  # header and three epochs
    assert sorted(p.name for p in (out / "curves").iterdir()) == sorted(
        f"val_ep{e}_{k}.png" for e in (1, 2, 3) for k in ("bar", "pr", "roc"))
    with pytest.raises(ValueError, match="early_stop_patience"):
        TrainConfig(early_stop_patience=-1)
