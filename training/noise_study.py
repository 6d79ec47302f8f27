"""The attention-noise study: standard (vanilla), differential (diff) and DIFF V2 (diff_v2) models trained
with one config and several seeds, then measured on held-out synthetic frames that show a lesion and
distractors (training.noise_measure; docs/design.md, "The noise study").

    python -m training.noise_study --seeds 0 1 2 3 4 5 6 7 --json docs/noise-study.json --bundle demo/weights

Each finished run's figures are written to ``<results>/<variant>-seed<N>.json`` (small, committed), so that a
rerun, another process or a new machine trains only what is missing: the study can be split over processes
(``--seeds 0 2 4 6`` beside ``--seeds 1 3 5 7``) and summarised by a last call that trains nothing. A run's
checkpoint stays in ``<out>/<variant>-seed<N>/best``; an interrupted run resumes from its saved state.
``--bundle`` copies each variant's median seed to demo/weights (retraining it when its checkpoint is gone).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import logging
import math
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from diffclip.atomic import write_json
from diffclip.json_input import read_json
from diffclip.staged_folder import staged_folder

from .config import TrainConfig, load_config
from .fit_ood import fit_checkpoints, settings_for_training
from .heldout import heldout_frames
from .loop import train
from .noise_measure import measure, uniform_shares
from .noise_stats import METRIC, SUMMARY_KEYS, median_seeds, power, summarise

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
CONFIG = Path("training/configs/noise-study-lookalikes.yaml")
RESULTS = Path("docs/noise-study-runs")
VARIANTS = ("vanilla", "diff", "diff_v2")
PILOT_SEEDS = 3  # the power analysis' pilot: the study's first three seeds
#: The run settings a stored result must share to be reused (all but its seed, names and folders).
_NOT_SETTINGS = ("name", "out_dir", "export_dir", "seed")


def run_config(config: str | Path, variant: str, seed: int, out: Path) -> TrainConfig:
    """The study's config for one run: ``config`` with its attention variant, seed and output folder."""
    return load_config(config, [f"attention={variant}", f"seed={seed}", f"name=noise-study-{variant}-seed{seed}",
                                f"out_dir={out / f'{variant}-seed{seed}'}", "export_dir=null"])


def _settings(cfg: TrainConfig) -> dict:
    return {k: v for k, v in cfg.to_dict().items() if k not in _NOT_SETTINGS}


def stored_result(path: Path, cfg: TrainConfig, heldout: dict) -> dict | None:
    """A run's stored figures when they were measured with these settings and held-out frames, else None."""
    if not path.is_file():
        return None
    saved = read_json(path)
    # a setting added to TrainConfig after the run was stored ran at its default
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.name not in _NOT_SETTINGS}
    if {**defaults, **saved.get("settings", {})} != _settings(cfg) or saved.get("heldout") != heldout:
        log.warning("%s was measured with other settings or frames: not reused", path)
        return None
    return saved["result"]


def run_one(cfg: TrainConfig, frames, heldout: dict, result_path: Path) -> dict:
    """Train one run (resuming its saved state), measure it and store its figures; returns them."""
    run = Path(cfg.out_dir)
    if (run / "config.yaml").is_file() and _settings(load_config(run / "config.yaml")) != _settings(cfg):
        # an earlier study's run in the same folder: measuring or resuming it would mix two studies
        raise ValueError(f"{run} holds a run with other settings: give this study its own --out folder")
    if not (run / "best").is_dir() or not (run / "study-done.json").is_file():
        start = time.time()
        log.info("training %s seed %d -> %s", cfg.attention, cfg.seed, run)
        train(cfg, resume=(run / "state.pt").is_file())
        write_json(run / "study-done.json", {"seconds": round(time.time() - start, 1)})
    log.info("measuring %s seed %d on %d held-out frames", cfg.attention, cfg.seed, len(frames))
    result = measure(run / "best", frames)
    result.update(seed=cfg.seed, val_map=best_val_map(run))
    seconds = read_json(run / "study-done.json").get("seconds")
    # the thread count too: CPU training is deterministic for a seed, torch build and thread count, so a bundled
    # run retrained elsewhere (its checkpoint gone) is the measured one only with the same count
    write_json(result_path, finite({"settings": _settings(cfg), "heldout": heldout, "train_seconds": seconds,
                                    "threads": torch.get_num_threads(), "result": result}), indent=1)
    return result


def collect(config: str | Path, variants: Sequence[str], seeds: Sequence[int], out: Path, results: Path,
            frames, heldout: dict, train_missing: bool = True) -> dict[str, list[dict]]:
    """Every (variant, seed)'s figures: stored ones reused, the rest trained and measured (or, without
    ``train_missing``, left out)."""
    got: dict[str, list[dict]] = {v: [] for v in variants}
    for seed in seeds:
        for variant in variants:
            cfg = run_config(config, variant, seed, out)
            path = results / f"{variant}-seed{seed}.json"
            result = stored_result(path, cfg, heldout)
            if result is None and train_missing:
                if path.is_file():  # a run of another study (settings or frames): never overwritten
                    raise ValueError(f"{path} holds a run measured with other settings or frames: give this study "
                                     "its own --results folder (or remove the file to redo the run)")
                result = run_one(cfg, frames, heldout, path)
            if result is not None:
                got[variant].append(result)
    return got


def best_val_map(run: Path) -> float:
    """The best validation mAP (labels with support) of a finished run, from its metrics.csv."""
    with (run / "metrics.csv").open(encoding="utf-8") as fh:
        return max(float(row["val_map_supported"]) for row in csv.DictReader(fh))


def bundle(config: str | Path, chosen: dict[str, int], out: Path, dest: Path, results: Path = RESULTS) -> None:
    """Copy each variant's chosen seed to ``dest/<variant>`` with out-of-distribution statistics fitted, as the
    training export does; a run whose checkpoint is gone (its figures came from a stored result) is retrained
    first, with the thread count it was measured with (training on the CPU is deterministic for a seed, torch
    build and thread count; the study's runs trained with one thread each, two at a time)."""
    for variant, seed in chosen.items():
        cfg = run_config(config, variant, seed, out)
        run = Path(cfg.out_dir)
        if not (run / "study-done.json").is_file():
            stored = results / f"{variant}-seed{seed}.json"
            threads = read_json(stored).get("threads", 1) if stored.is_file() else torch.get_num_threads()
            log.info("retraining %s seed %d with %d thread(s) to bundle it", variant, seed, threads)
            before = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                train(cfg, resume=(run / "state.pt").is_file())
            finally:
                torch.set_num_threads(before)
            write_json(run / "study-done.json", {"seconds": None})
        with staged_folder(dest / variant, empty=True) as tmp:
            shutil.copytree(run / "best", tmp, dirs_exist_ok=True)
            fit_checkpoints([tmp], settings_for_training(cfg.to_dict()))
            name_the_config(tmp, variant)


def name_the_config(checkpoint: Path, variant: str) -> None:
    """Point the checkpoint's reproduce command at ``training/configs/demo-<variant>.yaml`` when that file
    holds the run's settings (all but its name and folders): the run's own config is written by the study,
    not kept in the repository. A study with other settings (a test's) keeps its command, with a warning."""
    from dataclasses import asdict

    path = Path("training/configs") / f"demo-{variant}.yaml"
    if not (REPO / path).is_file():
        log.warning("%s does not exist: the reproduce command of %s is left as it is", path, checkpoint)
        return
    meta = read_json(checkpoint / "config.json")
    # a setting the run's config lacks was added later with the default it ran with (new options keep the old
    # behaviour by default), so the run is read through TrainConfig as the file is
    ran = asdict(TrainConfig(**meta["training"]["config"]))
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
    """The study as a markdown table: per seed, then mean [95% interval] per variant and per pair."""
    keys = [k for k in SUMMARY_KEYS if any(k in result["summary"].get(v, {}) for v in result["seeds"])]
    lines = ["| variant | seed | " + " | ".join(k.replace("_", " ") for k in keys) + " |",
             "|---|---:|" + "---:|" * len(keys)]
    for variant, runs in result["seeds"].items():
        for r in runs:
            lines.append(f"| {variant} | {r['seed']} | " + " | ".join(_cell(r.get(k)) for k in keys) + " |")
    for name, s in result["summary"].items():
        signed = "_minus_" in name
        cells = [f"{s[k]['mean']:{'+' if signed else ''}.3f} [{s[k]['ci'][0]:{'+' if signed else ''}.3f}, "
                 f"{s[k]['ci'][1]:{'+' if signed else ''}.3f}]" if k in s else "" for k in keys]
        label = name.replace("_minus_", " - ") + " (paired)" if signed else name
        lines.append(f"| **{label}** | mean [95% CI] | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.noise_study", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(8)))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--config", default=str(REPO / CONFIG), help="the training config every run shares")
    parser.add_argument("--out", default="runs/noise-study", help="folder of the runs (checkpoints)")
    parser.add_argument("--results", default=RESULTS.as_posix(), help="folder of each run's figures (committed)")
    parser.add_argument("--frames", type=int, default=60, help="held-out frames with a lesion and distractors")
    parser.add_argument("--heldout-seed", type=int, default=777, help="generator seed of the held-out frames")
    parser.add_argument("--no-train", action="store_true", help="summarise stored results only; train nothing")
    parser.add_argument("--json", help="write the study here (e.g. docs/noise-study.json)")
    parser.add_argument("--bundle", metavar="DIR", help="copy each variant's median seed to DIR/<variant>")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if len(args.seeds) != len(set(args.seeds)):
        parser.error(f"--seeds must be distinct, got {args.seeds}")
    out, results = Path(args.out), Path(args.results)
    first = run_config(args.config, args.variants[0], args.seeds[0], out)
    frames = list(heldout_frames(args.frames, args.heldout_seed, with_distractors=True, size=first.synth_size,
                                 lookalikes=first.synth_lookalikes))
    heldout = {"frames": len(frames), "seed": args.heldout_seed, "size": first.synth_size,
               "lookalikes": first.synth_lookalikes}
    seeds = collect(args.config, args.variants, args.seeds, out, results, frames, heldout,
                    train_missing=not args.no_train)
    summary = summarise(seeds)
    pilot = {v: [r for r in runs if r["seed"] in sorted(args.seeds)[:PILOT_SEEDS]] for v, runs in seeds.items()}
    chosen = median_seeds(seeds)
    result = {
        "command": "python -m training.noise_study " + " ".join(argv if argv is not None else sys.argv[1:]),
        "config": _shown_path(args.config),
        "heldout": {**heldout, "uniform": uniform_shares(frames)},
        "map": "last-layer CLS attention, head mean; diff, diff_v2: a1 - lambda a2 (positive part, renormalised)",
        "seeds": seeds,
        "summary": summary,
        "power": {"pilot": power(summarise(pilot), f"seeds {sorted(args.seeds)[:PILOT_SEEDS]} of this study"),
                  "reached": power(summary, "all seeds run")},
        "median_seeds": chosen,
        # the earlier field: one seed for all variants, the diff model's median
        "median_seed": chosen.get("diff", next(iter(chosen.values()), None)),
    }
    print(table(result))
    print(f"median seeds ({METRIC}): {chosen}")
    if args.bundle:
        bundle(args.config, chosen, out, Path(args.bundle), results)
        log.info("bundled %s in %s", chosen, args.bundle)
    # which runs the bundled models are, for the Noise lab's sentence (demo.study_note); written after the
    # bundle succeeded, so that the file never names models that are not there
    result["bundled"] = chosen if args.bundle else None
    if args.json:
        write_json(Path(args.json), finite(result), indent=1)
    return 0


def _shown_path(path: str | Path) -> str:
    """``path`` relative to the repository when inside it: no machine paths in committed JSON."""
    p = Path(path).resolve()
    try:
        return p.relative_to(REPO).as_posix()
    except ValueError:
        return Path(path).name


def finite(data):
    """``data`` with NaN (a region no frame has) as null, so that the JSON is standard."""
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list):
        return [finite(v) for v in data]
    return None if isinstance(data, float) and math.isnan(data) else data


if __name__ == "__main__":
    raise SystemExit(main())
