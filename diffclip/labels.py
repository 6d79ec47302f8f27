"""The RARE-VISION label vocabulary (docs/design.md, "Labels")."""

from __future__ import annotations

LABELS: tuple[str, ...] = (
    "mouth",
    "esophagus",
    "stomach",
    "small intestine",
    "colon",
    "z-line",
    "pylorus",
    "ileocecal valve",
    "active bleeding",
    "angiectasia",
    "blood",
    "erosion",
    "erythema",
    "hematin",
    "lymphangioectasis",
    "polyp",
    "ulcer",
)

#: Sections in passage order, then landmarks at their transitions, then lesions.
SECTIONS: tuple[str, ...] = ("mouth", "esophagus", "stomach", "small intestine", "colon")
LANDMARKS: tuple[str, ...] = ("z-line", "pylorus", "ileocecal valve")
LESIONS: tuple[str, ...] = (
    "active bleeding",
    "angiectasia",
    "blood",
    "erosion",
    "erythema",
    "hematin",
    "lymphangioectasis",
    "polyp",
    "ulcer",
)

#: Share of Galar frames carrying each label.
GALAR_FREQUENCIES: dict[str, float] = {
    "colon": 0.535,
    "small intestine": 0.392,
    "blood": 0.111,
    "stomach": 0.073,
    "erosion": 0.011,
    "hematin": 0.0090,
    "polyp": 0.0052,
    "lymphangioectasis": 0.0050,
    "angiectasia": 0.0048,
    "ulcer": 0.0033,
    "erythema": 0.0018,
    "active bleeding": 0.0015,
    "ileocecal valve": 0.0011,
    "pylorus": 0.0009,
    "esophagus": 0.0006,
    "mouth": 0.0006,
    "z-line": 0.00003,
}

#: Galar CSV columns that are not among the 17 evaluated labels.
GALAR_EXTRA_LABELS: tuple[str, ...] = (
    "ampulla of vater",
    "IBD",
    "foreign body",
    "esophagitis",
    "varices",
    "celiac",
    "cancer",
    "bubbles",
    "dirt",
    "reduced view",
    "no view",
)


#: One colour per label group, shared by every plot and view (timeline, score bars).
GROUP_COLOURS = {"section": "#2b6cb0", "landmark": "#6b46c1", "lesion": "#c53030"}


def label_group(label: str) -> str:
    """"section", "landmark" or "lesion" (anything unknown counts as a lesion)."""
    return "section" if label in SECTIONS else "landmark" if label in LANDMARKS else "lesion"


def check_labels(labels: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Return ``labels`` as a tuple after checking they are unique, non-empty strings."""
    labels = tuple(labels)
    if not labels:
        raise ValueError("label list is empty")
    if len(set(labels)) != len(labels):
        raise ValueError(f"label list has duplicates: {labels}")
    bad = [lab for lab in labels if not isinstance(lab, str) or not lab]
    if bad:
        raise ValueError(f"labels must be non-empty strings, got {bad}")
    return labels
