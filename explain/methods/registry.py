"""The registry of explanation methods and its one verb, :func:`explain`."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import torch

from .base import ExplainContext, Explainer, Explanation, Options, Progress

if TYPE_CHECKING:
    from diffclip.inference import Predictor

    from ..analysis import FrameAnalysis

#: name -> method, in the order the UI and the CLI list them.
EXPLAINERS: dict[str, Explainer] = {}


def register(explainer: Explainer) -> Explainer:
    """Add a method (a new method is one module that calls this, and one import line in __init__)."""
    if explainer.name in EXPLAINERS and EXPLAINERS[explainer.name] is not explainer:
        raise ValueError(f"explanation method {explainer.name!r} is already registered")
    EXPLAINERS[explainer.name] = explainer
    return explainer


def get_explainer(name: str) -> Explainer:
    """The method registered as ``name`` (or titled ``name``); a ValueError lists the known ones."""
    if name in EXPLAINERS:
        return EXPLAINERS[name]
    for e in EXPLAINERS.values():
        if e.title == name:
            return e
    raise ValueError(f"unknown explanation method {name!r}; choose one of {', '.join(EXPLAINERS)}")


def _hold(explainer: Explainer, predictor: Predictor):
    """The model's lock for ``explainer``: other users' requests run on the same model, so a method that hooks
    it runs alone."""
    return predictor.lock.exclusive() if explainer.exclusive else predictor.lock.shared()


def explain(analysis: FrameAnalysis, predictor: Predictor, method: str, label: str | int,
            progress: Progress = None, **options) -> Explanation:
    """Explain ``label`` on an analysed frame with ``method``; ``options`` are :class:`Options` fields."""
    explainer = get_explainer(method)
    j = analysis.label_index(label)
    unknown = set(options) - set(Options.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)}; known: {', '.join(Options.__dataclass_fields__)}")
    opt = replace(Options(), **options)
    if not -analysis.num_layers <= opt.layer < analysis.num_layers:
        raise ValueError(f"layer {opt.layer} out of range: the model has {analysis.num_layers} layers "
                         f"(0..{analysis.num_layers - 1}, or negative from the last)")
    ctx = ExplainContext(analysis, predictor.model, predictor.device, progress)
    with _hold(explainer, predictor), torch.enable_grad():  # the gradient methods need grad, whatever the caller's mode
        attr = explainer.compute(ctx, j, opt)
    attr.method, attr.label = explainer.name, j
    return attr


def explain_many(items: list[tuple[FrameAnalysis, str | int]], predictor: Predictor, method: str,
                 batch: int = 16) -> list[Explanation]:
    """:func:`explain` with the default options for many (analysis, label) pairs: ``batch`` frames per model pass
    where the method can (``Explainer.batched``), one by one otherwise."""
    explainer = get_explainer(method)
    if explainer.batched is None:
        return [explain(analysis, predictor, method, label) for analysis, label in items]
    out: list[Explanation] = []
    for i in range(0, len(items), batch):
        chunk = items[i : i + batch]
        x = torch.cat([a.x for a, _ in chunk]).to(predictor.device)
        labels = [a.label_index(label) for a, label in chunk]
        with _hold(explainer, predictor), torch.enable_grad():
            maps = explainer.batched(predictor.model, x, labels)
        out += [replace(m, method=explainer.name, label=j) for m, j in zip(maps, labels, strict=True)]
    return out
