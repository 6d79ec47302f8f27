"""The Errors tab's feature map (issue 30, points 3 and 4): every analysed frame with known truth placed by
t-SNE of its pooled features (diffclip.error_analysis.embedding), coloured by its outcome for the shown label
or by its true section; a click picks the nearest point, and its most similar frames are listed. The map is
computed once per analysis (no model run) and kept in the session as coordinates and pixel positions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffclip.error_analysis.embedding import feature_map, map_rows, similar
from diffclip.labels import SECTIONS
from explain.overlay import figure_to_rgb

from .errors_view import ErrorsState, thumbnail_pictures

OUTCOME_COLOURS = {"TP": "#2f9e44", "FN": "#e8590c", "FP": "#c92a2a", "TN": "#adb5bd"}
SECTION_COLOURS = {"mouth": "#7048e8", "esophagus": "#1c7ed6", "stomach": "#0ca678", "small intestine": "#f59f00",
                   "colon": "#d6336c", "none or several": "#868e96"}
PICK_RADIUS = 14  # pixels: a click farther than this from every point picks nothing
SIMILAR = 8


@dataclass
class FeatureMap:
    rows: np.ndarray  # (M,) rows of the pass on the map
    xy: np.ndarray  # (M, 2) t-SNE coordinates
    pixels: np.ndarray | None = None  # (M, 2) where each point was drawn in the last picture (x, y)


def build_map(state: ErrorsState) -> FeatureMap | None:
    """The session's map over its frames with known truth (None when the pass kept no features)."""
    mp = state.mp
    if mp.features is None:
        return None
    known = np.flatnonzero(mp.known)
    rows = known[map_rows(len(known))]
    return FeatureMap(rows, np.asarray(feature_map(mp.features[rows]), np.float32))


def categories(state: ErrorsState, fmap: FeatureMap, colour_by: str) -> tuple[list[str], dict[str, str]]:
    """Each point's category and the colours: outcomes of the shown label at the session's threshold, or the
    true section."""
    mp = state.mp
    if colour_by == "section":
        idx = [state.labels.index(s) for s in SECTIONS if s in state.labels]
        names = []
        for r in fmap.rows:
            on = [state.labels[j] for j in idx if mp.truth[r, j]]
            names.append(on[0] if len(on) == 1 else "none or several")
        return names, SECTION_COLOURS
    j = state.labels.index(state.label)
    said = mp.probs[fmap.rows, j] >= state.thresholds[j]
    truth = mp.truth[fmap.rows, j]
    names = ["TP" if s and t else "FP" if s else "FN" if t else "TN" for s, t in zip(said, truth, strict=True)]
    return names, OUTCOME_COLOURS


def picture(state: ErrorsState, fmap: FeatureMap, colour_by: str) -> np.ndarray:
    """The map as an RGB picture; remembers where each point was drawn (for :func:`pick`)."""
    from matplotlib.figure import Figure

    names, colours = categories(state, fmap, colour_by)
    fig = Figure(figsize=(7.0, 5.2), dpi=100, facecolor="white")
    ax = fig.add_axes((0.04, 0.05, 0.70, 0.86))
    names_arr = np.array(names)
    for name, colour in colours.items():
        sel = names_arr == name
        if sel.any():
            # mistakes on top of the grey mass of true negatives
            ax.scatter(fmap.xy[sel, 0], fmap.xy[sel, 1], s=16 if name != "TN" else 9, color=colour,
                       label=f"{name} ({int(sel.sum())})", zorder=3 if name in ("FP", "FN") else 2, linewidths=0)
    ax.set_xticks([])
    ax.set_yticks([])
    what = f"outcome for {state.label}" if colour_by != "section" else "true section"
    ax.set_title(f"Frames placed by t-SNE of the model's features, coloured by {what}", fontsize=9)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    rgb = figure_to_rgb(fig)
    # where the points landed, in the picture's pixels (matplotlib's display space has its origin bottom left)
    shown = ax.transData.transform(fmap.xy)
    fmap.pixels = np.column_stack([shown[:, 0], rgb.shape[0] - shown[:, 1]]).astype(np.float32)
    return rgb


def pick(fmap: FeatureMap | None, x: float, y: float) -> int | None:
    """The row of the pass drawn nearest to the clicked pixel (x, y), or None beyond ``PICK_RADIUS``."""
    if fmap is None or fmap.pixels is None or not len(fmap.pixels):
        return None
    d = np.hypot(fmap.pixels[:, 0] - x, fmap.pixels[:, 1] - y)
    i = int(np.argmin(d))
    return int(fmap.rows[i]) if d[i] <= PICK_RADIUS else None


def similar_rows(state: ErrorsState, row: int, k: int = SIMILAR) -> list[tuple[int, float]]:
    """The ``k`` frames of the set most similar to ``row`` by their features."""
    if state.mp.features is None:
        return []
    return similar(state.mp.features, row, k)


def select_row(state: ErrorsState, row: int) -> dict:
    """Make ``row`` the tab's selected frame, for the shown label, with its outcome as the kind."""
    j = state.labels.index(state.label)
    p, t = float(state.mp.probs[row, j]), bool(state.mp.truth[row, j])
    said = p >= float(state.thresholds[j])
    kind = ("tp" if t else "fp") if said else ("fn" if t else "tn")
    state.selected = {"video_id": str(state.mp.video_ids[row]), "frame": int(state.mp.frames[row]),
                      "label": state.label, "kind": kind, "probability": p}
    return state.selected


def pictures(state: ErrorsState, predictor, rows: list[int]) -> list:
    """The crops of ``rows`` as the galleries draw them (with the lesion outline where masks exist)."""
    mp = state.mp
    return thumbnail_pictures(state, predictor, [(str(mp.video_ids[r]), int(mp.frames[r])) for r in rows],
                              with_maps=False)


def describe(state: ErrorsState, row: int, similarity: float | None = None) -> str:
    """One frame in a caption: video and frame, its true labels, what the model says at the thresholds."""
    mp = state.mp
    truth = [lab for lab, on in zip(state.labels, mp.truth[row], strict=True) if on] if mp.known[row] else ["?"]
    said = [lab for j, lab in enumerate(state.labels) if mp.probs[row, j] >= state.thresholds[j]]
    near = f" · cos {similarity:.2f}" if similarity is not None else ""
    return (f"video {mp.video_ids[row]} · frame {int(mp.frames[row])}{near} · truth: {', '.join(truth) or 'none'} · "
            f"model: {', '.join(said) or 'none'}")
