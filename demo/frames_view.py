"""Frames view logic: analyse uploaded frames once, then redraw maps from the cached analysis.

Plain functions on plain data, so they can be tested without a browser; ``demo.ui`` wires them to
Gradio components.
"""

from __future__ import annotations

import html
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from diffclip.inference import Predictor
from diffclip.memory import trim_heap
from explain.analysis import FrameAnalysis, analyse
from explain.checks import faithfulness
from explain.display import Scale, robust_scale, show_map
from explain.methods import DEFAULT_METHOD, EXPLAINERS, Options, explain, get_explainer
from explain.methods.occlusion import windows as occlusion_windows

from .map_notes import faithfulness_note, where_maps_lie
from .resources import MAX_IMAGES
from .scores import ood_banner, scores_html
from .truth import FrameTruth

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
    truths: list[FrameTruth | None] = field(default_factory=list)  # labels and lesion masks, where known
    sizes: list[tuple[int, int] | None] = field(default_factory=list)  # each upload's (width, height)

    @property
    def current(self) -> FrameAnalysis:
        if not self.analyses:
            raise ValueError("upload a frame or pick an example first")
        return self.analyses[self.selected]

    @property
    def size(self) -> tuple[int, int] | None:
        """The selected frame's size as uploaded (None: not known)."""
        return self.sizes[self.selected] if self.selected < len(self.sizes) else None

    @property
    def truth(self) -> FrameTruth | None:
        """What is known about the selected frame (None: nothing)."""
        return self.truths[self.selected] if self.selected < len(self.truths) else None

    @property
    def mask(self) -> np.ndarray | None:
        return self.truth.mask if self.truth is not None else None


def analyse_frames(predictor: Predictor, files: list, names: list[str] | None = None,
                   folder: Path | None = None, truths: list[FrameTruth | None] | None = None) -> FramesState:
    """Analyse each file (path, PIL image or array); the message of a bad file names it. With a
    ``folder``, the crops the model saw are kept there as PNG files instead of in memory; ``truths``
    (one per file, or None) is what is known about each frame."""
    if not files:
        raise ValueError("no frames given: upload one or more images, or pick an example")
    if len(files) > MAX_IMAGES:
        raise ValueError(f"{len(files)} frames uploaded; at most {MAX_IMAGES} at a time")
    state = FramesState(folder=folder, truths=list(truths) if truths else [None] * len(files))
    for i, item in enumerate(files):
        name = (names[i] if names else None) or (Path(item).name if isinstance(item, (str, Path)) else f"frame {i + 1}")
        try:
            analysis = analyse(predictor, item)
        except (ValueError, FileNotFoundError) as exc:
            message = str(exc)  # name the file once, by its name, not by where the server keeps it
            if isinstance(item, (str, Path)):
                message = message.replace(str(item), name)
            raise ValueError(message if message.startswith(name) else f"{name}: {message}") from None
        if folder is not None:
            analysis.spill(folder / f"frame_{i:02d}.png")
        state.sizes.append(source_size(item))
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


def attention_overlays(analysis: FrameAnalysis, layer: int, head: str | int | None, alpha: float,
                       shared_scale: bool = False, mask: np.ndarray | None = None):
    """Overlays of a1, a2 (None for standard attention) and diff for a 1-based ``layer``, each with its
    colour bar and the lesion outline when a ``mask`` is known, and a caption. ``shared_scale`` puts a1
    and a2 on one scale, so that their strengths compare."""
    li = int(layer) - 1
    if not 0 <= li < analysis.num_layers:
        raise ValueError(f"layer must lie in 1..{analysis.num_layers}, got {layer}")
    h = parse_head(head)
    where = f"layer {layer}, {'head mean' if h is None else f'head {h}'}"
    outline = " · green outline: the lesion mask" if mask is not None and mask.any() else ""
    m1 = analysis.cls_map("a1", li, h)
    if not analysis.has_second_map:
        s1 = robust_scale(m1, diverging=False)
        a1 = show_map(analysis.image, m1, alpha, s1, "a1 (CLS row)", mask)
        caption = (f"**{where}** · standard softmax attention has a single map (a1); no a2, no difference · "
                   f"colours {s1.note()}{outline}\n\n{where_maps_lie(analysis.image, {'a1': m1}, mask)}")
        return a1, None, None, caption
    m2, d = analysis.cls_map("a2", li, h), analysis.cls_map("diff", li, h)
    s1, s2 = (robust_scale(m1, m2, diverging=False),) * 2 if shared_scale else (
        robust_scale(m1, diverging=False), robust_scale(m2, diverging=False))
    sd = robust_scale(d, diverging=True)
    a1 = show_map(analysis.image, m1, alpha, s1, "a1 (CLS row)", mask)
    a2 = show_map(analysis.image, m2, alpha, s2, "a2 (CLS row)", mask)
    diff = show_map(analysis.image, d, alpha, sd, "a1 − λ·a2", mask)
    lam = analysis.lam_value(li, h)
    # one lambda per layer, or one per head (then the head mean is the mean of the heads' lambdas)
    which = "mean λ over the heads" if analysis.semantics.lambda_per == "head" and h is None else "λ"
    scales = (f"a1 and a2 on one scale, {s1.note()}" if shared_scale else
              f"a1 {s1.note()}; a2 {s2.note()} (each on its own scale: tick 'one scale' to compare them)")
    caption = (f"**{where}** · {which} = {lam:.3f} · diff = a1 − λ·a2, rows sum to 1 − λ = {1 - lam:.3f} · "
               f"{scales} · diff: {sd.note()}{outline}\n\n"
               f"{where_maps_lie(analysis.image, {'a1': m1, 'a2': m2, 'diff': d}, mask)}")
    return a1, a2, diff, caption


SIGNS = ("signed", "magnitude")


def progress_steps(method_name: str, steps: int, samples: int | None = None, window: int | None = None,
                   size: int = 224) -> tuple[int | None, str | None]:
    """What the progress bar counts for a method, and its unit: points on the path (Integrated Gradients: at
    most ``steps``; NoiseTunnel: ``samples`` copies of at most ``steps``) or occluded windows; (None, None) for
    the methods that take a pass or two."""
    name = get_explainer(method_name).name
    opt = Options()
    if name == "ig":
        return max(steps, 3), "points at most"
    if name == "noise_tunnel":
        return (samples or opt.samples) * max(steps, 3), "points at most"
    if name == "occlusion":  # its windows and the unoccluded frame
        return occlusion_windows(size, size, window or opt.window)[1] + 1, "windows"
    return None, None


def attribution_overlay(state: FramesState, predictor: Predictor, label: str, method_name: str, alpha: float,
                        steps: int = 64, progress=None, sign: str = "signed"):
    """The attribution of ``method_name`` for ``label`` on the selected frame, computed once per
    (frame, label, method, steps) and reused for alpha and sign changes. A signed map shows ``"signed"``
    (diverging, centred at 0) or as its ``"magnitude"``."""
    if sign not in SIGNS:
        raise ValueError(f"sign must be one of {', '.join(SIGNS)}, got {sign!r}")
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
    values = attr.map.astype(np.float32)
    signed = attr.signed and sign == "signed"
    if attr.signed and not signed:
        values = np.abs(values)
    scale: Scale = robust_scale(values, diverging=signed)
    shown = "signed" if signed else "magnitude |value|" if attr.signed else "non-negative"
    outline = " · green outline: the lesion mask" if state.mask is not None and state.mask.any() else ""
    # faithfulness of the map as shown (a magnitude orders pixels differently), once per view of it
    checked = attr.meta.setdefault("faithfulness", {})
    if shown not in checked:
        checked[shown] = faithfulness(analysis, predictor, replace(attr, map=values), state.mask)
    caption = (f"**{explainer.title}** for **{label}** (p = {analysis.probs[j]:.2f}) on {name} · {attr.caption} · "
               f"{shown}, colours {scale.note()}{outline}\n\n{faithfulness_note(checked[shown])}")
    image = show_map(analysis.image, values, alpha, scale, explainer.title, state.mask)
    return image, caption


def source_size(item) -> tuple[int, int] | None:
    """(width, height) of an upload as shown upright (EXIF orientation applied, as the crop is), from its header;
    None when it cannot be read cheaply."""
    try:
        if isinstance(item, (str, Path)):
            with Image.open(item) as img:
                w, h = img.size
                turned = img.getexif().get(0x0112) in (5, 6, 7, 8)  # orientations that swap the sides
            return (h, w) if turned else (w, h)
        if isinstance(item, Image.Image):
            return item.size
        if isinstance(item, np.ndarray):
            return int(item.shape[1]), int(item.shape[0])
    except (OSError, ValueError):
        pass
    return None


def crop_note(size: tuple[int, int] | None, side: int) -> str:
    """What the model saw of a frame of ``size``: nothing to say for a ``side`` x ``side`` frame; else its
    short side resized to ``side`` and, for a frame that is not square, how much the centre crop cut."""
    if size is None or size == (side, side):
        return ""
    w, h = size
    said = f"The model saw a {side}×{side} crop of this {w}×{h} frame: its short side resized to {side} px"
    if w != h:
        cut = 1 - min(w, h) / max(w, h)
        said += f", then the centre kept: {cut:.0%} of its {'width' if w > h else 'height'} cut off"
    return f'<div class="dc-legend dc-crop-note">{html.escape(said)}.</div>'


def scores_for(analysis: FrameAnalysis, truth: FrameTruth | None = None, size: tuple[int, int] | None = None) -> str:
    """The scores panel of a frame: the out-of-distribution banner when the frame does not look like the
    training frames, what the model saw of it (resized, cropped), and the truth marks when its labels are known."""
    ood = getattr(analysis, "ood", None)
    banner = ood_banner(ood.reasons, ood.score, ood.threshold) if ood is not None and ood.in_distribution is False \
        else ""
    if size is not None:
        banner += crop_note(size, analysis.preprocess.image_size)
    labels = truth.labels if truth is not None else None
    return scores_html(analysis.probs, analysis.thresholds, analysis.labels, truth=labels, banner=banner)


def gallery_items(state: FramesState) -> list[tuple[np.ndarray | str, str]]:
    """(crop, caption) per analysed frame; the crop's PNG file where it has one (nothing to encode)."""
    return [(str(a.crop_png) if isinstance(a.crop_png, Path) else a.image, f"{n} · {top_label(a)} {a.probs.max():.2f}")
            for a, n in zip(state.analyses, state.names, strict=True)]
