"""One sentence of what the multi-seed noise study (docs/noise-study.json) found, for the Noise lab, so that
the UI says what the numbers say and one frame is not read as the answer."""

from __future__ import annotations

import json
from pathlib import Path

from .resources import NOISE_STUDY


def _ci(entry: dict, signed: bool = False) -> str:
    fmt = "{:+.3f}" if signed else "{:.3f}"
    return f"{fmt.format(entry['mean'])} [95% CI {fmt.format(entry['ci'][0])}, {fmt.format(entry['ci'][1])}]"


def study_sentence(path: str | Path = NOISE_STUDY) -> str:
    """What the study found about last-layer distractor mass, in words; empty when there is no study file."""
    try:
        study = json.loads(Path(path).read_text(encoding="utf-8"))
        summary = study["summary"]
        gap = summary["diff_minus_vanilla"]["distractor_mass"]
        seeds = min(len(study["seeds"]["vanilla"]), len(study["seeds"]["diff"]))
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    lo, hi = gap["ci"]
    if lo <= 0 <= hi:
        verdict = ("the interval includes zero: over these seeds the two models show no difference in attention "
                   "noise that the study can resolve, so one frame here can look either way")
    else:
        verdict = (f"the differential model puts {'less' if hi < 0 else 'more'} of its last-layer attention on "
                   "distractors than the standard one over these seeds")
    return (f"**What {seeds} training seeds per model say** (docs/noise-lab.md): last-layer mass on distractors "
            f"(bubbles, highlights, debris and the dark rim), standard {_ci(summary['vanilla']['distractor_mass'])}, "
            f"differential {_ci(summary['diff']['distractor_mass'])}; paired difference {_ci(gap, signed=True)}: "
            f"{verdict}. The bundled pair is the study's median seed ({study.get('median_seed')}).")


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

