"""``diffclip import-paper CHECKPOINT.pth --out DIR``: the RARE-VISION paper's own checkpoint as one of ours
(diffclip.paper_checkpoint; docs/design.md, "The paper's checkpoints")."""

from __future__ import annotations

import argparse

HELP = "import the RARE-VISION paper's best_model.pth (and its optimal_thresholds.npy) as a diffclip checkpoint"
#: The largest logit difference the self-check accepts between the imported model and the paper's forward (fp32).
TOLERANCE = 1e-4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..backbones import BACKBONES
    from ..paper_checkpoint import WEIGHT_SETS

    parser.add_argument("checkpoint", help="the paper script's best_model.pth (or latest_model.pth)")
    parser.add_argument("--out", required=True, help="checkpoint directory to write (model.safetensors + config.json)")
    parser.add_argument("--weights", choices=WEIGHT_SETS, default="ema",
                        help="ema: the EMA shadow, as the paper's test mode uses (default); model: the weights as trained")
    parser.add_argument("--thresholds", help="the paper's optimal_thresholds.npy (default: the one beside the "
                                             "checkpoint, if any; else 0.5 for every label)")
    parser.add_argument("--backbone", default="biomedclip", choices=list(BACKBONES),
                        help="the tower the paper's model was built on (default biomedclip, as the paper)")


def run(args: argparse.Namespace) -> int:
    import logging
    from pathlib import Path

    import torch

    from ..checkpoint import load_checkpoint, save_checkpoint
    from ..paper_checkpoint import build_imported, paper_weights, read_paper_checkpoint, read_thresholds
    from ..paper_reference import paper_logits
    from ..staged_folder import staged_folder

    log = logging.getLogger("diffclip.import_paper")
    source = Path(args.checkpoint)
    ckpt = read_paper_checkpoint(source)
    state = paper_weights(ckpt, args.weights)
    model = build_imported(state, args.backbone)
    thresholds_path = Path(args.thresholds) if args.thresholds else source.with_name("optimal_thresholds.npy")
    if args.thresholds or thresholds_path.is_file():
        thresholds = read_thresholds(thresholds_path, model.labels)
        said = f"thresholds from {thresholds_path.name}"
    else:
        thresholds, said = None, "no optimal_thresholds.npy beside it: thresholds 0.5"
        log.warning("%s has no optimal_thresholds.npy beside it; every label's threshold is 0.5", source.name)
    size = model.config.preprocess.image_size
    images = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    reference = paper_logits(state, images)
    training = {"command": f"diffclip import-paper {source.name} --weights {args.weights}",
                "source": "the RARE-VISION paper's script (rare_vision_pipeline_v3_1.py)", "file": source.name,
                "weights": args.weights, "epoch": _plain(ckpt.get("epoch")), "val_mAP": _plain(ckpt.get("val_mAP")),
                "seed": _plain(ckpt.get("seed"))}
    with staged_folder(Path(args.out), empty=True) as tmp:
        save_checkpoint(model, tmp, thresholds=thresholds, training=training)
        reloaded, _ = load_checkpoint(tmp)  # check what was written, not what is in memory
        with torch.no_grad():
            ours = reloaded(images.float())
        gap = float((ours - reference).abs().max())
        if not gap <= TOLERANCE:
            raise ValueError(f"the imported model's logits differ from the paper's forward by {gap:.2e} "
                             f"(> {TOLERANCE:g}): not written")
    print(f"{source.name} ({args.weights} weights, epoch {training['epoch']}, val mAP {training['val_mAP']}) -> "
          f"{args.out}: diff_paper on {args.backbone}, {said}; logits equal the paper's forward to {gap:.1e}")
    return 0


def _plain(value):
    """A checkpoint's number as JSON can hold it (the paper stores numpy floats)."""
    return value.item() if hasattr(value, "item") else value
