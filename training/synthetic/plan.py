"""The plan of a synthetic video: sections, label runs, lesion instances and camera motion, all drawn
from its seed (docs/design.md, "Synthetic data")."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter1d

from diffclip.distractors import KIND_CODES
from diffclip.labels import GALAR_EXTRA_LABELS, GALAR_FREQUENCIES, LABELS, LESIONS, SECTIONS

from . import lookalikes

log = logging.getLogger(__name__)

LABEL_INDEX = {name: i for i, name in enumerate(LABELS)}
#: Where each lesion may appear.
LESION_SECTIONS: dict[str, tuple[str, ...]] = {
    "active bleeding": ("stomach", "small intestine", "colon"),
    "angiectasia": ("stomach", "small intestine"),
    "blood": ("stomach", "small intestine", "colon"),
    "erosion": ("stomach", "small intestine"),
    "erythema": ("stomach", "small intestine", "colon"),
    "hematin": ("stomach", "small intestine"),
    "lymphangioectasis": ("small intestine",),
    "polyp": ("small intestine", "colon"),
    "ulcer": ("stomach", "small intestine", "colon"),
}
#: Each landmark sits at the transition between two sections.
LANDMARK_TRANSITIONS: dict[str, tuple[str, str]] = {
    "z-line": ("esophagus", "stomach"),
    "pylorus": ("stomach", "small intestine"),
    "ileocecal valve": ("small intestine", "colon"),
}
MIN_EVENT = 3
#: Share of frames each distractor kind covers (placed independently of the labels).
DISTRACTOR_COVER: dict[str, float] = {"bubbles": 0.2, "highlights": 0.15, "debris": 0.12}
#: Every distractor kind an instance can have (ordinary and look-alike) and its mask code.
DISTRACTOR_CODES: dict[str, int] = {**KIND_CODES, **lookalikes.CODES}


@dataclass(frozen=True)
class SynthConfig:
    """Generator settings. ``rare_share`` raises every landmark and lesion to at least that share of
    frames (0 keeps Galar's frequencies, where most rare labels are absent from a short video);
    ``lookalikes`` adds look-alike distractors (:mod:`training.synthetic.lookalikes`), each kind on about that
    share of frames (0: none, the bundled demo models' data)."""

    frames: int = 1000
    size: int = 224
    seed: int = 0
    rare_share: float = 0.0
    frame_stride: int = 1
    fps: float = 10.0
    lookalikes: float = 0.0

    def __post_init__(self) -> None:
        if self.frames < 5 * MIN_EVENT:
            raise ValueError(f"need at least {5 * MIN_EVENT} frames per video (one run per section), got {self.frames}")
        if self.size < 64 or self.size % 2:
            raise ValueError(f"size must be an even number >= 64, got {self.size}")
        if not 0.0 <= self.rare_share <= 0.2:
            raise ValueError(f"rare_share must lie in [0, 0.2], got {self.rare_share}")
        if not 0.0 <= self.lookalikes <= 0.5:
            raise ValueError(f"lookalikes must lie in [0, 0.5], got {self.lookalikes}")
        if self.frame_stride < 1:
            raise ValueError(f"frame_stride must be >= 1, got {self.frame_stride}")


@dataclass(frozen=True)
class Instance:
    """One appearance of a lesion, landmark or distractor over frames [start, end] (indices)."""

    kind: str
    start: int
    end: int
    seed: int
    path: tuple[float, float, float, float]  # normalised (x0, y0, x1, y1) position at start and end
    scale: float


@dataclass
class VideoPlan:
    """Everything needed to render a video: per-frame labels, sections, instances, camera path."""

    video_id: str
    config: SynthConfig
    seed: int
    sections: np.ndarray  # (M,) index into SECTIONS
    labels: np.ndarray  # (M, 17) bool
    instances: list[Instance] = field(default_factory=list)
    camera: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))  # (M, 3): x, y, light

    @property
    def frame_numbers(self) -> np.ndarray:
        return np.arange(len(self.sections)) * self.config.frame_stride

    def active(self, t: int) -> list[Instance]:
        return [inst for inst in self.instances if inst.start <= t <= inst.end]

    def distractor_frames(self) -> np.ndarray:
        """(M,) bool: frames with a bubble, highlight or debris run (the rim is in every frame)."""
        on = np.zeros(len(self.sections), dtype=bool)
        for inst in self.instances:
            if inst.kind in DISTRACTOR_CODES:
                on[inst.start : inst.end + 1] = True
        return on

    def extra_columns(self) -> dict[str, np.ndarray]:
        """Galar's extra label columns: bubbles and dirt follow the distractors, the rest are 0."""
        m = len(self.sections)
        cols = {name: np.zeros(m, dtype=bool) for name in GALAR_EXTRA_LABELS}
        for inst in self.instances:
            code = DISTRACTOR_CODES.get(inst.kind)
            if code in (KIND_CODES["bubbles"], KIND_CODES["debris"]):
                cols["bubbles" if code == KIND_CODES["bubbles"] else "dirt"][inst.start : inst.end + 1] = True
        return cols


# ---------------------------------------------------------------------------------------------------
# Planning


def _section_lengths(m: int, rare_share: float, rng: np.random.Generator) -> list[int]:
    shares = np.array([GALAR_FREQUENCIES[s] for s in SECTIONS]) * rng.lognormal(0.0, 0.15, len(SECTIONS))
    shares = shares / shares.sum()
    lengths = [max(MIN_EVENT, round(max(share, rare_share) * m)) for share in shares[:-1]]
    rest = m - sum(lengths)
    if rest < MIN_EVENT:  # very short videos: squeeze the large sections, keep every section
        over = MIN_EVENT - rest
        for i in np.argsort(lengths)[::-1]:
            take = min(over, lengths[i] - MIN_EVENT)
            lengths[i] -= take
            over -= take
        rest = m - sum(lengths)
    return [*lengths, rest]


def _position_path(rng: np.random.Generator, spread: float = 0.45) -> tuple[float, float, float, float]:
    """Start and end positions inside the field of view (normalised to its radius)."""
    def point():
        r = spread * math.sqrt(rng.uniform(0, 1))
        a = rng.uniform(0, 2 * math.pi)
        return r * math.cos(a), r * math.sin(a)

    (x0, y0), (x1, y1) = point(), point()
    return float(x0), float(y0), float(x1), float(y1)


def _expected_frames(label: str, m: int, rare_share: float, rng: np.random.Generator) -> float:
    return max(GALAR_FREQUENCIES[label] * m * rng.lognormal(0.0, 0.3), rare_share * m)


def plan_video(video_id: str, config: SynthConfig, index: int = 0) -> VideoPlan:
    """Plan a video: section runs, landmark and lesion events, distractors and camera path."""
    seed = int(np.random.SeedSequence([config.seed, index]).generate_state(1)[0])
    rng = np.random.default_rng(seed)
    m = config.frames
    lengths = _section_lengths(m, config.rare_share, rng)
    bounds = np.cumsum([0, *lengths])
    sections = np.repeat(np.arange(len(SECTIONS)), lengths)
    labels = np.zeros((m, len(LABELS)), dtype=bool)
    labels[np.arange(m), [LABEL_INDEX[SECTIONS[s]] for s in sections]] = True
    instances: list[Instance] = []

    def add(kind: str, start: int, length: int, spread: float = 0.45) -> None:
        end = min(m - 1, start + length - 1)
        instances.append(
            Instance(kind, int(start), int(end), int(rng.integers(2**31)), _position_path(rng, spread),
                     float(rng.uniform(0.8, 1.25)))
        )
        if kind in LABEL_INDEX:
            labels[start : end + 1, LABEL_INDEX[kind]] = True

    for landmark, (before, _after) in LANDMARK_TRANSITIONS.items():
        expected = _expected_frames(landmark, m, config.rare_share, rng)
        if config.rare_share > 0 or rng.uniform() < expected / MIN_EVENT:
            length = max(MIN_EVENT, round(expected))
            boundary = int(bounds[SECTIONS.index(before) + 1])
            add(landmark, max(0, boundary - length // 2), length, spread=0.1)

    for lesion in LESIONS:
        j = LABEL_INDEX[lesion]
        expected = _expected_frames(lesion, m, config.rare_share, rng)
        mean_len = float(np.clip(expected, MIN_EVENT, 25))
        allowed = [SECTIONS.index(s) for s in LESION_SECTIONS[lesion]]
        weights = np.array([lengths[i] for i in allowed], dtype=float)
        # Galar-like sets: a Poisson number of events (often none in a short video); boosted sets:
        # events until the label covers its share.
        count = rng.poisson(expected / mean_len) if config.rare_share == 0 else None
        placed = attempts = 0
        while (placed < count) if count is not None else (labels[:, j].sum() < expected and attempts < 200):
            attempts += 1
            sec = allowed[rng.choice(len(allowed), p=weights / weights.sum())]
            lo, hi = int(bounds[sec]), int(bounds[sec + 1])
            length = int(min(hi - lo, rng.integers(MIN_EVENT, max(MIN_EVENT, 2 * mean_len - MIN_EVENT) + 1)))
            start = int(rng.integers(lo, hi - length + 1))
            # keep events of one label apart, so each stays a separate event
            if labels[max(0, start - 1) : start + length + 1, j].any() and attempts < 200:
                continue
            add(lesion, start, length)
            placed += 1

    # Smooth camera path over a texture three times the frame size, and a slow lighting drift.
    walk = gaussian_filter1d(np.cumsum(rng.normal(0, 6.0, (m, 2)), axis=0), sigma=4, axis=0)
    light = 1.0 + 0.08 * gaussian_filter1d(rng.normal(0, 1, m), sigma=8) * 4
    camera = np.column_stack([walk, light]).astype(np.float32)
    instances.extend(_distractors(m, seed))
    instances.extend(lookalikes.runs(m, seed, config.lookalikes, lambda kind, start, end, s, r: Instance(
        kind, start, end, s, _position_path(r, 0.5), float(r.uniform(0.8, 1.25)))))
    return VideoPlan(video_id, config, seed, sections, labels, instances, camera)


def _distractors(m: int, seed: int) -> list[Instance]:
    """Distractor runs placed uniformly over the whole video from their own random stream, so where they
    fall is independent of the sections, landmarks and lesions (a model gains nothing by attending to
    them). Each kind covers about DISTRACTOR_COVER of the frames; together about 40%."""
    rng = np.random.default_rng([seed, 3])
    out = []
    for kind, cover in DISTRACTOR_COVER.items():
        # Poisson runs of mean length 17 frames: expected covered share 1 - exp(-count * 17 / m) = cover
        for _ in range(rng.poisson(-math.log(1 - cover) * m / 17)):
            length = int(min(m, rng.integers(5, 30)))
            start = int(rng.integers(0, m - length + 1))
            out.append(Instance(kind, start, start + length - 1, int(rng.integers(2**31)), _position_path(rng, 0.5),
                                float(rng.uniform(0.8, 1.25))))
    return out
