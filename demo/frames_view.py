"""Frames view logic: analyse uploaded frames once, then redraw maps from the cached analysis.

Plain functions on plain data, so they can be tested without a browser; ``demo.ui`` wires them to
Gradio components.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from diffclip.inference import Predictor
from diffclip.memory import trim_heap
from explain.analysis import FrameAnalysis, analyse
from explain.methods import EXPLAINERS, explain, get_explainer
from explain.overlay import color_limits, overlay

from .resources import MAX_IMAGES
from .scores import scores_html

DEFAULT_METHOD = "gradcam"
KEPT_ATTRIBUTIONS = 4  # per session: enough to redraw the last few at another alpha


def attribution_choices() -> list[str]:
    """The titles of the registered methods offered in the attribution menu, default first."""
    listed = [e for e in EXPLAINERS.values() if e.listed]
    return [e.title for e in sorted(listed, key=lambda e: e.name != DEFAULT_METHOD)]


@dataclass
class FramesState:
    """A session's analysed frames and its last few attributions (half precision), kept small: a
    session holds it until it ends or its time to live runs out (docs/design.md, "Serving many users")."""

    analyses: list[FrameAnalysis] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    attributions: OrderedDict = field(default_factory=OrderedDict)
    selected: int = 0
    folder: Path | None = None  # the crops as PNG files, in the app (demo.sessions)

    @property
    def current(self) -> FrameAnalysis:
        if not self.analyses:
            raise ValueError("upload a frame or pick an example first")
        return self.analyses[self.selected]


def analyse_frames(predictor: Predictor, files: list, names: list[str] | None = None,
                   folder: Path | None = None) -> FramesState:
    """Analyse each file (path, PIL image or array); the message of a bad file names it. With a
    ``folder``, the crops the model saw are kept there as PNG files instead of in memory."""
    if not files:
        raise ValueError("no frames given: upload one or more images, or pick an example")
    if len(files) > MAX_IMAGES:
        raise ValueError(f"{len(files)} frames uploaded; at most {MAX_IMAGES} at a time")
    state = FramesState(folder=folder)
    for i, item in enumerate(files):
        name = (names[i] if names else None) or (Path(item).name if isinstance(item, (str, Path)) else f"frame {i + 1}")
        try:
            analysis = analyse(predictor, item)
        except (ValueError, FileNotFoundError) as exc:
            message = str(exc)  # name the file once
            raise ValueError(message if message.startswith(name) else f"{name}: {message}") from None
        if folder is not None:
            analysis.spill(folder / f"frame_{i:02d}.png")
        state.analyses.append(analysis)
        state.names.append(name)
    # what is kept is small, but the forward passes' large, short-lived buffers leave the heap
    # fragmented: give its free pages back (diffclip.memory)
    trim_heap()
    return state


def head_choices(analysis: FrameAnalysis) -> list[str]:
    return ["mean"] + [str(h) for h in range(analysis.num_heads)]


def parse_head(head: str | int | None) -> int | None:
    return None if head in (None, "", "mean") else int(head)


def top_label(analysis: FrameAnalysis) -> str:
    return analysis.labels[int(np.argmax(analysis.probs))]


def attention_overlays(analysis: FrameAnalysis, layer: int, head: str | int | None, alpha: float):
    """Overlays of a1, a2 (None for standard attention) and diff for a 1-based ``layer``, and a caption."""
    li = int(layer) - 1
    if not 0 <= li < analysis.num_layers:
        raise ValueError(f"layer must lie in 1..{analysis.num_layers}, got {layer}")
    h = parse_head(head)
    where = f"layer {layer}, {'head mean' if h is None else f'head {h}'}"
    a1 = overlay(analysis.image, analysis.cls_map("a1", li, h), alpha)
    if not analysis.has_second_map:
        caption = f"**{where}** · standard softmax attention has a single map (a1); no a2, no difference."
        return a1, None, None, caption
    d = analysis.cls_map("diff", li, h)
    lo, hi = color_limits(d, diverging=True)
    a2 = overlay(analysis.image, analysis.cls_map("a2", li, h), alpha)
    diff = overlay(analysis.image, d, alpha, diverging=True, limits=(lo, hi))
    lam = analysis.lam_value(li, h)
    # one lambda per layer, or one per head (then the head mean is the mean of the heads' lambdas)
    which = "mean λ over the heads" if analysis.semantics.lambda_per == "head" and h is None else "λ"
    caption = (f"**{where}** · {which} = {lam:.3f} · diff = a1 − λ·a2, rows sum to 1 − λ = {1 - lam:.3f}; "
               f"diverging colours: blue negative, red positive, white zero, limits ±{hi:.3g}")
    return a1, a2, diff, caption


def attribution_overlay(state: FramesState, predictor: Predictor, label: str, method_name: str, alpha: float,
                        steps: int = 32, progress=None):
    """The attribution of ``method_name`` for ``label`` on the selected frame, computed once per
    (frame, label, method, steps) and reused for alpha changes."""
    analysis = state.current
    explainer = get_explainer(method_name)
    key = (state.selected, label, explainer.name, int(steps) if "steps" in explainer.uses else 0)
    if key not in state.attributions:
        attr = explain(analysis, predictor, explainer.name, label, progress=progress, steps=int(steps))
        state.attributions[key] = replace(attr, map=attr.map.astype(np.float16))
        while len(state.attributions) > KEPT_ATTRIBUTIONS:
            state.attributions.popitem(last=False)
    state.attributions.move_to_end(key)
    attr = state.attributions[key]
    j = analysis.label_index(label)
    name = state.names[state.selected] if state.selected < len(state.names) else f"frame {state.selected + 1}"
    caption = f"**{explainer.title}** for **{label}** (p = {analysis.probs[j]:.2f}) on {name} · {attr.caption}"
    return overlay(analysis.image, attr.map.astype(np.float32), alpha, diverging=attr.signed), caption


def scores_for(analysis: FrameAnalysis) -> str:
    return scores_html(analysis.probs, analysis.thresholds, analysis.labels)


def gallery_items(state: FramesState) -> list[tuple[np.ndarray | str, str]]:
    """(crop, caption) per analysed frame; the crop's PNG file where it has one (nothing to encode)."""
    return [(str(a.crop_png) if isinstance(a.crop_png, Path) else a.image, f"{n} · {top_label(a)} {a.probs.max():.2f}")
            for a, n in zip(state.analyses, state.names, strict=True)]
