"""Per-label AP of checkpoints on a held-out synthetic test set, as a markdown table.

    python -m training.report demo/weights/diff demo/weights/vanilla --out docs/demo-models.md

``--out`` replaces the file's table and keeps its ``## ...`` sections.

The test set is generated with a seed that no training config uses (default 4242) unless it exists.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from diffclip.inference import Predictor

from .fit_ood import settings_of
from .galar_splits import scan_galar
from .metrics import frame_metrics, metrics_table
from .synthetic import generate

log = logging.getLogger(__name__)

TEST_SEED = 4242


def ensure_test_set(root: Path, seed: int, videos: int, frames: int, rare_share: float,
                    lookalikes: float = 0.0) -> Path:
    """The held-out synthetic test set under ``root``, generated unless a matching one is there."""
    marker = root / "synth.json"
    if marker.is_file():
        made = json.loads(marker.read_text())
        cfg = made["config"]
        if cfg["seed"] != seed or cfg["frames"] != frames or cfg.get("lookalikes", 0.0) != lookalikes:
            raise ValueError(f"{root} holds a test set with seed {cfg['seed']}, frames {cfg['frames']}, look-alikes "
                             f"{cfg.get('lookalikes', 0.0)}: give --test-root another folder")
        if "distractor_values" not in made:
            raise ValueError(f"{root} was made by an earlier generator (no distractor masks): delete it and rerun")
        return root
    generate(root, videos=videos, frames=frames, seed=seed, rare_share=rare_share, first_id=101,
             lookalikes=lookalikes)
    return root


def trained_lookalikes(checkpoints: Sequence[str | Path]) -> float:
    """The look-alike share the checkpoints were trained with (their config.json), so that they are tested on
    the kind of frames they learnt; checkpoints trained on different kinds are not put in one table."""
    shares = {float(settings_of(c).lookalikes) for c in checkpoints}
    if len(shares) > 1:
        raise ValueError(f"the checkpoints were trained with different look-alike shares {sorted(shares)}: "
                         "report them separately or pass --lookalikes")
    return shares.pop()


def evaluate_checkpoint(checkpoint: str | Path, root: Path, batch_size: int = 64) -> dict:
    """Frame metrics of a checkpoint (with its own thresholds) on every frame under ``root``."""
    index = scan_galar(root)
    predictor = Predictor(checkpoint, batch_size=batch_size, precision="fp32")  # the same table on any CPU
    probs = predictor.predict([r.path for r in index.records], progress=True).probs
    return frame_metrics(probs, index.targets(), predictor.thresholds, predictor.labels)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Per-label AP of checkpoints on a held-out synthetic test set.")
    parser.add_argument("checkpoints", nargs="+", help="checkpoint directories")
    parser.add_argument("--test-root", default=None,
                        help="default data/synthetic-test, or data/synthetic-test-lookalikes with look-alikes")
    parser.add_argument("--seed", type=int, default=TEST_SEED)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--rare-share", type=float, default=0.03)
    parser.add_argument("--lookalikes", type=float, default=None,
                        help="look-alike distractor share of the test set (default: the checkpoints' training)")
    parser.add_argument("--out", default=None, help="write the markdown table here as well")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    lookalikes = trained_lookalikes(args.checkpoints) if args.lookalikes is None else args.lookalikes
    test_root = args.test_root or ("data/synthetic-test-lookalikes" if lookalikes else "data/synthetic-test")
    root = ensure_test_set(Path(test_root), args.seed, args.videos, args.frames, args.rare_share, lookalikes)
    start = time.time()
    results = {Path(c).name: evaluate_checkpoint(c, root) for c in args.checkpoints}
    n = len(scan_galar(root))
    table = metrics_table(results)
    header = (f"Held-out synthetic test set: {args.videos} videos x {args.frames} frames ({n} frames), seed "
              f"{args.seed} (not used in training), rare labels raised to {args.rare_share:.0%} of frames"
              + (f", each kind of look-alike distractor on about {lookalikes:.0%} of frames" if lookalikes else "")
              + ".\n"
              f"Regenerate: `python -m training.report {' '.join(args.checkpoints)}`\n")
    text = header + "\n" + table + "\n"
    print(text)
    log.info("evaluated in %.0f s", time.time() - start)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + _sections_after_table(out))
        with open(out.with_suffix(".json"), "w") as fh:
            json.dump({k: {kk: vv for kk, vv in v.items()} for k, v in results.items()}, fh, indent=1)
    return 0


def _sections_after_table(path: Path) -> str:
    """The ``## ...`` sections an existing report file carries after its table (written by hand or by
    other benchmarks), kept when the table is regenerated."""
    if not path.is_file():
        return ""
    text = path.read_text()
    at = text.find("\n## ")
    return "" if at < 0 else text[at:]


if __name__ == "__main__":
    raise SystemExit(main())
