"""One sentence of what the multi-seed noise study (docs/noise-study.json) found, for the Noise lab, so that
the UI says what the numbers say and one frame is not read as the answer."""

from __future__ import annotations

import json
from pathlib import Path

from .resources import NOISE_STUDY


def _ci(entry: dict, signed: bool = False) -> str:
    fmt = "{:+.3f}" if signed else "{:.3f}"
    return f"{fmt.format(entry['mean'])} [95% CI {fmt.format(entry['ci'][0])}, {fmt.format(entry['ci'][1])}]"


#: how the UI names each variant
NAMES = {"vanilla": "standard", "diff": "differential", "diff_v2": "DIFF V2"}
#: (figure, where the mass lies, whether less is better): what the study was powered for (issue 31), each
#: reported for every model; an earlier study has only the first figure
MEASURES = (("drawn_distractor_mass", "drawn distractors", True), ("rim_mass", "the dark rim", True),
            ("lesion_mass", "the lesion", False))
OLD_MEASURE = ("distractor_mass", "distractors (bubbles, highlights, debris and the dark rim)", True)
FOCUSED = 0.8  # median normalised entropy at or below which a map counts as focused (issue 31, point 3)


def _gap(summary: dict, a: str, b: str, key: str) -> tuple[float, float] | None:
    """The paired interval of ``a - b`` for ``key``, from whichever of the two pair entries the study holds."""
    for pair, sign in ((f"{a}_minus_{b}", 1.0), (f"{b}_minus_{a}", -1.0)):
        if key in summary.get(pair, {}):
            lo, hi = summary[pair][key]["ci"]
            return (lo, hi) if sign > 0 else (-hi, -lo)
    return None


def winner(summary: dict, variants: list[str], key: str, less_is_better: bool) -> str | None:
    """The variant whose paired interval against every other variant excludes zero in its favour, if any."""
    for v in variants:
        gaps = [_gap(summary, v, w, key) for w in variants if w != v]
        if gaps and all(g is not None and (g[1] < 0 if less_is_better else g[0] > 0) for g in gaps):
            return v
    return None


def _measure_clause(summary: dict, variants: list[str], key: str, where: str, less: bool) -> str:
    shares = ", ".join(f"{NAMES.get(v, v)} {_ci(summary[v][key])}" for v in variants)
    if len(variants) < 2:
        return f"on {where}: {shares}"
    best = winner(summary, variants, key, less)
    if best is None:
        verdict = (f"no model puts resolvably {'less' if less else 'more'} there than the other"
                   f"{'s' if len(variants) > 2 else ''}")
    else:
        verdict = f"the {NAMES.get(best, best)} model puts {'less' if less else 'more'} there than every other"
    return f"on {where}: {shares} ({verdict})"


def study_sentence(path: str | Path = NOISE_STUDY) -> str:
    """What the study found, in words: each model's last-layer mass on what the study measures, with 95%
    intervals over seeds, which model (if any) is resolved better on each by every paired interval, what
    none of them does, and whether the bundled models are the study's median seeds. Empty when there is no
    study file."""
    try:
        study = json.loads(Path(path).read_text(encoding="utf-8"))
        summary = study["summary"]
        variants = [v for v in study["seeds"] if study["seeds"][v] and v in summary]
        seeds = min(len(study["seeds"][v]) for v in variants)
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    measures = [m for m in MEASURES if all(m[0] in summary[v] for v in variants)] or [OLD_MEASURE]
    try:
        clauses = [_measure_clause(summary, variants, *m) for m in measures]
    except KeyError:
        return ""
    text = (f"**What {seeds} training seeds per model say** (docs/noise-lab.md), last-layer attention "
            + "; ".join(clauses) + ".")
    if measures[0] is OLD_MEASURE and len(variants) == 2:  # the earlier study's own words
        gap = summary.get("diff_minus_vanilla", {}).get(OLD_MEASURE[0])
        if gap is not None:
            lo, hi = gap["ci"]
            found = ("the interval includes zero: over these seeds the two models show no difference in attention "
                     "noise that the study can resolve, so one frame here can look either way" if lo <= 0 <= hi else
                     f"the differential model puts {'less' if hi < 0 else 'more'} of its last-layer attention on "
                     "distractors than the standard one over these seeds")
            text += f" Paired difference {_ci(gap, signed=True)}: {found}."
    entropy = {v: summary[v]["entropy"]["mean"] for v in variants if "entropy" in summary[v]}
    if entropy and min(entropy.values()) > FOCUSED:
        text += (f" None of them focuses: every model's median normalised entropy is above {FOCUSED} (1 is a "
                 f"uniform map; lowest {min(entropy.values()):.2f}).")
    if all("lesion_mass" in summary[v] for v in variants):
        most = max(summary[v]["lesion_mass"]["mean"] for v in variants)
        text += f" None puts more than {most:.0%} of its attention on the lesion on average."
    if "bundled" in study:
        chosen = study["bundled"]
        text += (" The bundled models are the study's median seeds ("
                 + ", ".join(f"{NAMES.get(v, v)} {s}" for v, s in chosen.items()) + ")." if chosen else
                 " The bundled models are not this study's runs: docs/demo-models.md says which they are.")
    elif study.get("median_seed") is not None:
        text += f" The bundled pair is the study's median seed ({study['median_seed']})."
    return text


def study_verdict(path: str | Path = NOISE_STUDY) -> str:
    """The study's finding in one clause, for the intros that state what differential attention is designed
    to do: the paired difference in last-layer distractor mass and whether it excludes zero; a plain "not
    measured" clause when there is no study file. Read at run time, so the words follow the numbers."""
    try:
        study = json.loads(Path(path).read_text(encoding="utf-8"))
        gap = study["summary"]["diff_minus_vanilla"]["distractor_mass"]
        seeds = min(len(study["seeds"]["vanilla"]), len(study["seeds"]["diff"]))
    except (OSError, ValueError, KeyError, TypeError):
        return "this project has not measured whether it does so on its bundled models"
    lo, hi = gap["ci"]
    found = ("no difference the study can resolve" if lo <= 0 <= hi else
             f"the differential model with {'less' if hi < 0 else 'more'} attention on distractors")
    return (f"on this project's small synthetic-trained models, {seeds} training seeds per model give a paired "
            f"difference in last-layer attention on distractors of {_ci(gap, signed=True)}: {found}")

