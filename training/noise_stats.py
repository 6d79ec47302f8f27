"""The noise study's statistics: Student-t intervals over seeds, paired differences for every pair of
variants, the power analysis that says how many seeds an interval of a given half-width needs, and the median
seed each variant bundles (docs/design.md, "The noise study")."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

#: The study's headline figure: share of the last-layer attention on all distractors (drawn and the rim).
METRIC = "distractor_mass"
SUMMARY_KEYS = ("distractor_mass", "drawn_distractor_mass", "rim_mass", "sink_mass", "lesion_mass", "entropy",
                "label_probability", "val_map")
#: The three measures the power analysis sizes the study for (issue 31: drawn distractors, rim/sink, lesion).
POWERED = ("drawn_distractor_mass", "rim_mass", "lesion_mass")
HALF_WIDTH = 0.05
MIN_SEEDS = 8


def interval(values: Sequence[float], level: float = 0.95) -> list[float]:
    """Student-t confidence interval of the mean of a few seeds' values."""
    v = np.asarray(values, np.float64)
    if len(v) < 2:
        return [float(v.mean()), float(v.mean())]
    half = stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return [float(v.mean() - half), float(v.mean() + half)]


def seeds_needed(sd: float, half_width: float = HALF_WIDTH, level: float = 0.95, most: int = 1000) -> int:
    """The fewest seeds n whose t-interval of a paired difference with standard deviation ``sd`` has half-width
    at most ``half_width``: t(level, n - 1) * sd / sqrt(n) <= half_width (``most`` when none up to it does)."""
    for n in range(2, most + 1):
        if stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n) <= half_width:
            return n
    return most


def pair_name(a: str, b: str) -> str:
    """The key of b - a (the later variant minus the earlier one), e.g. ``diff_minus_vanilla``."""
    return f"{b}_minus_{a}"


def _present(runs: Sequence[dict], key: str) -> bool:
    return all(r.get(key) is not None and not (isinstance(r[key], float) and math.isnan(r[key])) for r in runs)


def summarise(seeds: Mapping[str, list[dict]]) -> dict:
    """Per variant: mean and 95% t-interval over seeds of each figure; for every pair of variants (in the
    order given) the paired differences over their common seeds."""
    out: dict = {}
    for variant, runs in seeds.items():
        out[variant] = {}
        for key in SUMMARY_KEYS:
            if runs and _present(runs, key):
                values = [r[key] for r in runs]
                out[variant][key] = {"mean": float(np.mean(values)), "ci": interval(values)}
        if METRIC in out[variant]:  # the headline figure also at the top level of each variant
            out[variant].update(mean=out[variant][METRIC]["mean"], ci=out[variant][METRIC]["ci"])
    for a, b in itertools.combinations([v for v in seeds if seeds[v]], 2):
        by_seed = {v: {r["seed"]: r for r in seeds[v]} for v in (a, b)}
        common = sorted(set(by_seed[a]) & set(by_seed[b]))
        if not common:
            continue
        pair = out[pair_name(a, b)] = {"seeds": common}
        for key in SUMMARY_KEYS:
            if _present([by_seed[v][s] for v in (a, b) for s in common], key):
                gaps = [by_seed[b][s][key] - by_seed[a][s][key] for s in common]
                pair[key] = {"per_seed": gaps, "mean": float(np.mean(gaps)), "ci": interval(gaps)}
    return out


def power(summary: Mapping, pilot: str, half_width: float = HALF_WIDTH) -> dict:
    """The power analysis from the paired differences in ``summary`` (:func:`summarise`): per pair and powered
    measure, the pilot's standard deviation of the paired difference, the seeds a ``half_width`` interval needs,
    the seeds run and the half-width reached; ``seeds_needed`` is the largest need and ``seeds_planned`` what the
    study runs (that, but at least MIN_SEEDS)."""
    rows = {}
    for name, pair in summary.items():
        if "_minus_" not in name:
            continue
        rows[name] = {}
        for key in POWERED:
            if key in pair and len(pair[key]["per_seed"]) >= 2:
                gaps = pair[key]["per_seed"]
                sd = float(np.std(gaps, ddof=1))
                lo, hi = pair[key]["ci"]
                rows[name][key] = {"sd": sd, "seeds_needed": seeds_needed(sd, half_width), "seeds_run": len(gaps),
                                   "half_width": (hi - lo) / 2}
    needs = [r["seeds_needed"] for pair in rows.values() for r in pair.values()]
    needed = max(needs) if needs else MIN_SEEDS
    return {"pilot": pilot, "half_width_target": half_width, "level": 0.95, "pairs": rows,
            "seeds_needed": needed, "seeds_planned": max(MIN_SEEDS, needed)}


def median_seeds(seeds: Mapping[str, list[dict]], key: str = METRIC) -> dict[str, int]:
    """Per variant, the seed whose ``key`` is the median over its seeds (the lower median when even): each
    bundled model is a typical run of the study, not its best."""
    out = {}
    for variant, runs in seeds.items():
        ranked = sorted((r[key], r["seed"]) for r in runs)
        if ranked:
            out[variant] = ranked[(len(ranked) - 1) // 2][1]
    return out
