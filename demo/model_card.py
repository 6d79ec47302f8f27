"""The model card panel: what the checkpoint is, how well it did on which data, and what it is not for.

Two scores, each named for what it is: the checkpoint's own validation split (the one that chose its
thresholds and its best epoch, so not an independent estimate) and, for the bundled models, the held-out
synthetic test set of docs/demo-models.json (written by ``python -m training.report``). No machine paths:
a card is shown to strangers, so paths are shown relative to the repository or as the folder's name.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from diffclip.inference import Predictor
from diffclip.labels import SECTIONS

REPO = Path(__file__).resolve().parents[1]
TEST_RESULTS = REPO / "docs" / "demo-models.json"
TEST_REPORT = REPO / "docs" / "demo-models.md"

WARNING = ("**Not for clinical use.** A research and teaching demo. The bundled models were trained on "
           "synthetic capsule videos made by this project, not on patient data.")
PAPER_TITLE = ("Differential Attention-Augmented BiomedCLIP with Asymmetric Focal Optimization for Imbalanced "
               "Multi-Label Video Capsule Endoscopy Classification")
PAPER_URL = "https://arxiv.org/abs/2603.17879"
PAPER_CODE_URL = "https://github.com/Satyajithchary/MINDH_ICPR_RARE-VISION_Challenge_2026"
PAPER = (f"[{PAPER_TITLE}]({PAPER_URL}) (arXiv 2603.17879, ICPR 2026 RARE-VISION "
         f"challenge); the authors' code: [{PAPER_CODE_URL.removeprefix('https://')}]({PAPER_CODE_URL})")
TINY_NOTE = ("**Tiny models, synthetic data.** This is a tiny vision transformer trained from scratch on this "
             "project's synthetic capsule videos, for the demo to run on a CPU. Its numbers describe that toy "
             "task only: they say nothing about BiomedCLIP-scale models or real capsule videos. (The paper "
             "reports temporal `mAP@0.5` 0.2456 on RARE-VISION's real test videos, a different measure on "
             "different data.)")
# an absolute POSIX path, a home-relative one or a Windows drive path inside free text
_ABSOLUTE = re.compile(r"(?<![\w.:/-])(?:~|[A-Za-z]:)?/[^\s`'\"]+")


@dataclass(frozen=True)
class Score:
    """A macro mAP and what it was measured on."""

    split: str  # "validation" or "test"
    data: str
    map: float
    per_label_ap: dict[str, float]


def shown_path(path: str | Path) -> str:
    """``path`` as a card may print it: relative to the repository when inside it, else the last folder's
    name; a relative path stays as it is."""
    p = Path(path).expanduser()
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return p.name


def without_machine_paths(text: str) -> str:
    """``text`` with every absolute path replaced by :func:`shown_path` of it."""
    return _ABSOLUTE.sub(lambda m: shown_path(m.group(0)), text)


def _frames(per_label: dict) -> int:
    """Frames in a set, from its per-label supports: every frame lies in exactly one section."""
    return int(sum(per_label.get(s, {}).get("support", 0) for s in SECTIONS))


def _aps(per_label: dict) -> dict[str, float]:
    return {lab: float(m["ap"]) for lab, m in per_label.items() if m.get("ap") is not None}


def validation_score(predictor: Predictor) -> Score | None:
    """The checkpoint's own validation result, with a sentence on that split."""
    metrics = predictor.config.get("metrics") or {}
    if "map_supported" not in metrics:
        return None
    training = predictor.config.get("training", {})
    cfg = training.get("config", {})
    per_label = metrics.get("per_label", {})
    if training.get("synthetic") and "synth_videos" in cfg:
        split = (f"{cfg.get('val_fraction', 0.2):.0%} of the {cfg['synth_videos']} synthetic videos made for "
                 f"training (seed {cfg.get('synth_seed')}), held out by whole video")
    else:
        split = "the validation split of the training data"
    data = (f"{split}, {_frames(per_label)} frames: the split that chose this checkpoint's per-label thresholds "
            f"and its best epoch, so not an independent estimate")
    return Score("validation", data, float(metrics["map_supported"]), _aps(per_label))


def _test_set_sentence() -> str:
    """How the report describes its test set (the first line of docs/demo-models.md)."""
    try:
        first = TEST_REPORT.read_text().splitlines()[0]
    except (OSError, IndexError):
        return ""
    found = re.search(r"(\d+) videos x (\d+) frames \((\d+) frames\), seed (\d+)", first)
    if not found:
        return ""
    videos, per_video, frames, seed = found.groups()
    lookalikes = " with look-alike distractors" if "look-alike" in first else ""
    return f"{videos} videos x {per_video} frames ({frames} frames){lookalikes}, seed {seed}"


def held_out_score(predictor: Predictor, path: str | Path, results: Path = TEST_RESULTS) -> Score | None:
    """This checkpoint's result on the held-out synthetic test set, if ``results`` holds one: found by the
    checkpoint folder's name and accepted only when its per-label thresholds are this checkpoint's (a
    retrained checkpoint with a stale report gets no test score rather than another model's)."""
    try:
        entry = json.loads(Path(results).read_text()).get(Path(path).name)
    except (OSError, ValueError):
        return None
    if not entry or "map_supported" not in entry:
        return None
    per_label = entry.get("per_label", {})
    mine = dict(zip(predictor.labels, (float(t) for t in predictor.thresholds), strict=True))
    if any(lab not in per_label or not math.isclose(float(per_label[lab].get("threshold", math.nan)), t,
                                                    rel_tol=0, abs_tol=1e-6) for lab, t in mine.items()):
        return None
    described = _test_set_sentence() or f"{_frames(per_label)} frames"
    data = (f"held-out synthetic test videos, {described}, generated apart from the training data and never "
            f"used to train or tune (`python -m training.report`, docs/demo-models.md)")
    return Score("test", data, float(entry["map_supported"]), _aps(per_label))


def _is_tiny_synthetic(predictor: Predictor) -> bool:
    training = predictor.config.get("training", {})
    from_scratch = not training.get("config", {}).get("weights")
    return predictor.config.get("backbone") == "tiny" and from_scratch and bool(training.get("synthetic"))


def _scores_table(scores: list[Score]) -> list[str]:
    """The macro mAPs side by side, then what each was measured on."""
    lines = ["| | " + " | ".join(s.split for s in scores) + " |", "|---|" + "---:|" * len(scores),
             "| macro mAP (labels with support) | " + " | ".join(f"**{s.map:.3f}**" for s in scores) + " |", ""]
    return lines + [f"- **{s.split}**: {s.data}" for s in scores]


def _label_table(predictor: Predictor, scores: list[Score]) -> list[str]:
    heads = "".join(f" {s.split} AP |" for s in scores)
    lines = [f"| label | threshold |{heads}", "|---|---:|" + "---:|" * len(scores)]
    for lab, t in zip(predictor.labels, predictor.thresholds, strict=True):
        aps = "".join(f" {s.per_label_ap[lab]:.3f} |" if lab in s.per_label_ap else " - |" for s in scores)
        lines.append(f"| {lab} | {t:.2f} |{aps}")
    return lines


PRECISION_NOTE = "`python app.py --precision auto|fp32|bf16|fp16`; the last layers always run in fp32"


def _ood_line(predictor: Predictor) -> str:
    """What the out-of-distribution statistics are and the precision they were fitted in."""
    stats = predictor.ood
    if stats is None:
        return predictor.ood_missing or "none"
    return (f"{stats.method}, threshold {stats.threshold:.4g}, fitted in **{stats.fit_precision}** on "
            f"{stats.fitted.get('fit_frames', '?')} synthetic frames (`python -m training.fit_ood CHECKPOINT`)")


def model_card(predictor: Predictor, path: str | Path, results: Path = TEST_RESULTS) -> str:
    """The card of one checkpoint as markdown (no colours of its own: it follows the light or dark theme)."""
    cfg = predictor.config
    training = cfg.get("training", {})
    synthetic = training.get("synthetic", training.get("data") == "synthetic")
    data = "synthetic capsule videos (training.synthetic)" if synthetic else training.get("data", "unknown")
    scores = [s for s in (validation_score(predictor), held_out_score(predictor, path, results)) if s is not None]
    lines = [f"### Model: `{shown_path(path)}`", WARNING, ""]
    if _is_tiny_synthetic(predictor):
        lines += [f"> {TINY_NOTE}", ""]
    lines += [
        f"- backbone: **{cfg.get('backbone')}**, attention: **{cfg.get('attention')}**",
        f"- training data: **{data}**",
        f"- runs on: **{predictor.device}** in **{predictor.precision}** ({PRECISION_NOTE})",
        f"- out-of-distribution check: {_ood_line(predictor)}",
        f"- after the paper: {PAPER}",
    ]
    if training.get("command"):
        lines.append(f"- reproduce: `{without_machine_paths(training['command'])}`")
    if scores:
        lines += ["", *_scores_table(scores)]
    if not any(s.split == "test" for s in scores):
        lines += ["", "No held-out test result for this checkpoint (docs/demo-models.json covers the bundled "
                      "models; `python -m training.report <checkpoint>` measures one)."]
    lines += ["", *_label_table(predictor, scores)]
    return "\n".join(lines)


def comparison(cards: list[tuple[str, Predictor, str | Path]], results: Path = TEST_RESULTS) -> str:
    """One table with each served model's validation and test mAP side by side: which model is ahead can
    differ between the two, and the test set is the one that was never used to choose anything."""
    rows = ["| model | validation mAP | held-out test mAP |", "|---|---:|---:|"]
    for name, predictor, path in cards:
        val, test = validation_score(predictor), held_out_score(predictor, path, results)
        rows.append(f"| {name} (`{shown_path(path)}`) | {f'{val.map:.3f}' if val else '-'} | "
                    f"{f'{test.map:.3f}' if test else '-'} |")
    return "\n".join(["### Scores side by side", *rows])
