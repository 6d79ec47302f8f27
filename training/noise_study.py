"""The attention-noise study: standard (vanilla) and differential (diff) models trained with one config and
several seeds, then measured on held-out synthetic frames that show a lesion and distractors: how much of each
model's last-layer attention falls on the lesion and on the distractors (docs/design.md, "The noise study").

    python -m training.noise_study --seeds 0 1 2 --out runs/noise-study --json docs/noise-study.json

Runs that finished are kept (``<out>/<variant>-seed<N>/best``) and not trained again; an interrupted one
resumes from its saved state. ``--bundle`` copies the median seed's pair to demo/weights (the bundled pair).
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import stats

from diffclip.atomic import write_json
from diffclip.attention_noise import (
    DISTRACTORS,
    DRAWN,
    DRAWN_TYPES,
    distractor_mass,
    drawn_distractor_mass,
    masses,
    merge_drawn,
    regions,
    subtraction_effect,
)
from diffclip.distractors import OUTSIDE
from diffclip.inference import Predictor
from diffclip.staged_folder import staged_folder

from .config import TrainConfig, load_config
from .fit_ood import fit_checkpoints, settings_for_training
from .heldout import HeldoutFrame, heldout_frames
from .loop import train

log = logging.getLogger(__name__)

CONFIG = Path(__file__).parent / "configs" / "noise-study.yaml"
VARIANTS = ("vanilla", "diff")
#: The study's figure: share of the last-layer attention on the distractors (bubbles, specular highlights,
#: debris and the rim outside the field of view: diffclip.attention_noise.distractor_mass).
METRIC = "distractor_mass"


def run_config(config: str | Path, variant: str, seed: int, out: Path) -> TrainConfig:
    """The study's config for one run: ``config`` with its attention variant, seed and output folder."""
    return load_config(config, [f"attention={variant}", f"seed={seed}", f"name=noise-study-{variant}-seed{seed}",
                                f"out_dir={out / f'{variant}-seed{seed}'}", "export_dir=null"])


def train_runs(config: str | Path, seeds: Sequence[int], out: Path) -> dict[tuple[str, int], Path]:
    """Train every (variant, seed) whose run has not finished; returns each run's best checkpoint."""
    done = {}
    for seed in seeds:
        for variant in VARIANTS:
            cfg = run_config(config, variant, seed, out)
            run = Path(cfg.out_dir)
            marker = run / "study-done.json"
            if not marker.is_file():
                start = time.time()
                log.info("training %s seed %d -> %s", variant, seed, run)
                train(cfg, resume=(run / "state.pt").is_file())
                write_json(marker, {"seconds": round(time.time() - start, 1), "config": cfg.to_dict()})
            done[(variant, seed)] = run / "best"
    return done


def _cls_rows(maps, kind: str) -> np.ndarray:
    """(B, gh, gw) head-mean CLS-to-patch row of the last layer's ``kind`` map."""
    t = getattr(maps, kind)[:, :, 0, 1:].float().mean(1)
    side = math.isqrt(t.shape[-1])
    return t.reshape(-1, side, side).cpu().numpy()


def measure(checkpoint: str | Path, frames: Sequence[HeldoutFrame], batch_size: int = 20) -> dict:
    """Mean shares of the last-layer attention (head mean; diff: a1 - lambda a2, positive part) on the lesion,
    each distractor type and elsewhere over ``frames``; for a differential model also a1's shares and what the
    subtraction removes of a1's mass per region (:func:`diffclip.attention_noise.subtraction_effect`, head-mean maps)."""
    predictor = Predictor(checkpoint, precision="fp32")
    rows: list[dict] = []
    for i in range(0, len(frames), batch_size):
        chunk = frames[i : i + batch_size]
        out = predictor.run(predictor.crops([f.rgb for f in chunk]), maps=True)
        last = out.maps[-1]
        shown = _cls_rows(last, last.semantics.shown)
        a1 = _cls_rows(last, "a1") if last.semantics.differential else None
        size = out.crops.shape[-1]
        for k, f in enumerate(chunk):
            if f.rgb.shape[:2] != (size, size):
                raise ValueError(f"held-out frames must be {size} px, the model's input; got {f.rgb.shape[:2]}")
            parts = regions(f.mask, f.distractors, (size, size))
            row = {"shown": masses(shown[k], parts),
                   "probability": float(out.probs[k][predictor.labels.index(f.label)])}
            if a1 is not None:
                per_type = subtraction_effect(a1[k], shown[k], parts)  # shown: the head mean of a1 - lambda a2
                row["a1"] = per_type["a1"]
                merged = subtraction_effect(a1[k], shown[k], merge_drawn(parts))
                row["removed"] = {**per_type["removed"], DRAWN: merged["removed"][DRAWN]}
            rows.append(row)
    return summarise_frames(rows, predictor.model.config.attention)


def summarise_frames(rows: list[dict], variant: str) -> dict:
    """One run's figures: means over frames (NaN-aware) of the shown map's shares, and for diff of a1's."""
    def mean(values) -> float:
        values = [v for v in values if not math.isnan(v)]
        return float(np.mean(values)) if values else math.nan

    shown = [r["shown"] for r in rows]
    out = {
        "variant": variant,
        "frames": len(rows),
        "lesion_mass": mean(s["lesion"] for s in shown),
        "distractor_mass": mean(distractor_mass(s) for s in shown),
        "drawn_distractor_mass": mean(drawn_distractor_mass(s) for s in shown),
        "rim_mass": mean(s[DISTRACTORS[OUTSIDE]] for s in shown),
        "elsewhere_mass": mean(s["elsewhere"] for s in shown),
        "per_type": {n: mean(s[n] for s in shown) for n in DRAWN_TYPES},
        "label_probability": mean(r["probability"] for r in rows),
    }
    if "a1" in rows[0]:
        out["a1_lesion_mass"] = mean(r["a1"]["lesion"] for r in rows)
        out["a1_distractor_mass"] = mean(distractor_mass(r["a1"]) for r in rows)
        out["a1_drawn_distractor_mass"] = mean(drawn_distractor_mass(r["a1"]) for r in rows)
        out["a1_rim_mass"] = mean(r["a1"][DISTRACTORS[OUTSIDE]] for r in rows)
        out["removed"] = {k: mean(r["removed"][k] for r in rows) for k in rows[0]["removed"]}
    return out


def interval(values: Sequence[float], level: float = 0.95) -> list[float]:
    """Student-t confidence interval of the mean of a few seeds' values."""
    v = np.asarray(values, np.float64)
    if len(v) < 2:
        return [float(v.mean()), float(v.mean())]
    half = stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return [float(v.mean() - half), float(v.mean() + half)]


SUMMARY_KEYS = ("distractor_mass", "drawn_distractor_mass", "rim_mass", "lesion_mass", "label_probability",
                "val_map")


def summarise(seeds: dict[str, list[dict]]) -> dict:
    """Per variant: mean and 95% t-interval over seeds of each figure; and the paired differences."""
    out: dict = {}
    for variant, runs in seeds.items():
        out[variant] = {}
        for key in SUMMARY_KEYS:
            values = [r[key] for r in runs]
            out[variant][key] = {"mean": float(np.mean(values)), "ci": interval(values)}
        # the study's headline figure also at the top level of each variant
        out[variant].update(mean=out[variant][METRIC]["mean"], ci=out[variant][METRIC]["ci"])
    if set(VARIANTS) <= set(seeds):
        by_seed = {v: {r["seed"]: r for r in seeds[v]} for v in VARIANTS}
        common = sorted(set(by_seed["vanilla"]) & set(by_seed["diff"]))
        out["diff_minus_vanilla"] = {}
        for key in SUMMARY_KEYS:
            gaps = [by_seed["diff"][s][key] - by_seed["vanilla"][s][key] for s in common]
            out["diff_minus_vanilla"][key] = {"per_seed": gaps, "mean": float(np.mean(gaps)), "ci": interval(gaps)}
    return out


def median_seed(seeds: dict[str, list[dict]]) -> int:
    """The seed whose diff - vanilla distractor-mass gap is the median over seeds (lower median when even):
    the bundled pair is a typical run of the study, not its best."""
    gaps = sorted((d[METRIC] - v[METRIC], d["seed"]) for v in seeds["vanilla"] for d in seeds["diff"]
                  if v["seed"] == d["seed"])
    return gaps[(len(gaps) - 1) // 2][1]


def best_val_map(run: Path) -> float:
    """The best validation mAP (labels with support) of a finished run, from its metrics.csv."""
    with (run / "metrics.csv").open(encoding="utf-8") as fh:
        return max(float(row["val_map_supported"]) for row in csv.DictReader(fh))


def bundle(checkpoints: dict[tuple[str, int], Path], seed: int, cfg: TrainConfig, dest: Path) -> None:
    """Copy the pair of ``seed`` to ``dest/<variant>`` with out-of-distribution statistics fitted, as the
    training export does."""
    for variant in VARIANTS:
        with staged_folder(dest / variant, empty=True) as tmp:
            shutil.copytree(checkpoints[(variant, seed)], tmp, dirs_exist_ok=True)
            fit_checkpoints([tmp], settings_for_training(cfg.synth_frames, cfg.synth_size, cfg.synth_rare_share,
                                                          cfg.synth_seed))
            name_the_config(tmp, variant)


def name_the_config(checkpoint: Path, variant: str) -> None:
    """Point the checkpoint's reproduce command at ``training/configs/demo-<variant>.yaml`` when that file
    holds the run's settings (all but its name and folders): the run's own config is written by the study,
    not kept in the repository. A study with other settings (a test's) keeps its command, with a warning."""
    from dataclasses import asdict

    from diffclip.json_input import read_json

    from .config import load_config

    path = Path("training/configs") / f"demo-{variant}.yaml"
    meta = read_json(checkpoint / "config.json")
    ran = meta["training"]["config"]
    named = asdict(load_config(Path(__file__).resolve().parent / "configs" / path.name))
    differ = sorted(k for k in set(ran) | set(named)
                    if k not in ("name", "out_dir", "export_dir") and ran.get(k) != named.get(k))
    if differ:
        log.warning("%s does not hold the settings of this run (%s): its reproduce command is left as it is",
                    path, ", ".join(differ[:5]))
        return
    meta["training"]["command"] = f"diffclip train --config {path.as_posix()}"
    write_json(checkpoint / "config.json", meta)


def table(result: dict) -> str:
    """The study as a markdown table: per seed, then mean [95% interval] per variant."""
    lines = ["| variant | seed | distractor mass (all) | drawn distractors | rim | lesion mass | p(label) | val mAP |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for variant in VARIANTS:
        for r in result["seeds"][variant]:
            lines.append(f"| {variant} | {r['seed']} | " + " | ".join(f"{r[k]:.3f}" for k in SUMMARY_KEYS) + " |")
    for variant in (*VARIANTS, "diff_minus_vanilla"):
        s = result["summary"][variant]
        cells = [f"{s[k]['mean']:+.3f} [{s[k]['ci'][0]:+.3f}, {s[k]['ci'][1]:+.3f}]" if variant.startswith("diff_")
                 else f"{s[k]['mean']:.3f} [{s[k]['ci'][0]:.3f}, {s[k]['ci'][1]:.3f}]" for k in SUMMARY_KEYS]
        name = "diff - vanilla (paired)" if variant.startswith("diff_") else variant
        lines.append(f"| **{name}** | mean [95% CI] | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.noise_study", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--config", default=str(CONFIG), help="the training config every run shares")
    parser.add_argument("--out", default="runs/noise-study", help="folder of the runs")
    parser.add_argument("--frames", type=int, default=60, help="held-out frames with a lesion and distractors")
    parser.add_argument("--heldout-seed", type=int, default=777, help="generator seed of the held-out frames")
    parser.add_argument("--json", help="write the study here (e.g. docs/noise-study.json)")
    parser.add_argument("--bundle", metavar="DIR", help="copy the median seed's pair to DIR/vanilla, DIR/diff")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if len(args.seeds) != len(set(args.seeds)):
        parser.error(f"--seeds must be distinct, got {args.seeds}")
    out = Path(args.out)
    checkpoints = train_runs(args.config, args.seeds, out)
    size = run_config(args.config, "diff", args.seeds[0], out).synth_size
    frames = list(heldout_frames(args.frames, args.heldout_seed, with_distractors=True, size=size))
    seeds: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    for variant in VARIANTS:
        for seed in args.seeds:
            log.info("measuring %s seed %d on %d held-out frames", variant, seed, len(frames))
            run = measure(checkpoints[(variant, seed)], frames)
            run.update(seed=seed, val_map=best_val_map(checkpoints[(variant, seed)].parent))
            seeds[variant].append(run)
    chosen = median_seed(seeds)
    result = {
        "command": "python -m training.noise_study " + " ".join(argv if argv is not None else sys.argv[1:]),
        "config": Path(args.config).as_posix(),
        "heldout": {"frames": len(frames), "seed": args.heldout_seed, "size": size,
                    "uniform": uniform_shares(frames)},
        "map": "last-layer CLS attention, head mean; diff: a1 - lambda a2 (positive part, renormalised)",
        "seeds": seeds,
        "summary": summarise(seeds),
        "median_seed": chosen,
    }
    print(table(result))
    print(f"median seed (diff - vanilla distractor mass): {chosen}")
    if args.json:
        write_json(Path(args.json), finite(result), indent=1)
    if args.bundle:
        bundle(checkpoints, chosen, run_config(args.config, "diff", chosen, out), Path(args.bundle))
        log.info("bundled seed %d's pair in %s", chosen, args.bundle)
    return 0


def finite(data):
    """``data`` with NaN (a region no frame has) as null, so that the JSON is standard."""
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list):
        return [finite(v) for v in data]
    return None if isinstance(data, float) and math.isnan(data) else data


def uniform_shares(frames: Sequence[HeldoutFrame]) -> dict[str, float]:
    """What a uniform map would put on each region: the regions' mean pixel shares."""
    parts = [regions(f.mask, f.distractors, f.mask.shape) for f in frames]
    return {"lesion": float(np.mean([p["lesion"].mean() for p in parts])),
            "distractor": float(np.mean([sum(p[n].mean() for n in DISTRACTORS.values()) for p in parts])),
            "drawn_distractor": float(np.mean([sum(p[n].mean() for n in DRAWN_TYPES) for p in parts])),
            "rim": float(np.mean([p[DISTRACTORS[OUTSIDE]].mean() for p in parts]))}


if __name__ == "__main__":
    raise SystemExit(main())
