"""One frame, fully explained: a single forward pass with attention maps, kept so that any layer, head,
kind or overlay can be drawn again without running the model; attributions on demand."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from diffclip.attention import AttentionMaps, MapSemantics
from diffclip.backbones import Preprocess
from diffclip.images import ImageLike
from diffclip.inference import Predictor
from diffclip.ood import OODResult

from . import attention_readout as M
from .overlay import PanelItem, panel_figure


@dataclass
class FrameAnalysis:
    """The model's view of one frame, compact enough to keep per session (docs/design.md, "Serving many
    users"): the crop it saw (lossless PNG, a third of the raw bytes; the input tensor is recomputed from
    it exactly), per-label probabilities, the CLS-to-patch rows of every layer, head and kind (half
    precision: what the views draw), lambda per layer and head, and the attention rollout. Redrawing
    any layer, head or kind needs no model."""

    crop_png: bytes | Path  # the (S, S, 3) uint8 crop the model saw: PNG bytes, or a PNG file (see spill)
    probs: np.ndarray  # (L,)
    cls_rows: dict[str, np.ndarray]  # kind -> (layers, heads, gh, gw), float16
    lam: np.ndarray  # (layers, heads)
    rollout: np.ndarray  # (gh, gw)
    labels: tuple[str, ...]
    thresholds: np.ndarray
    variant: str  # the model's attention variant, for captions only
    semantics: MapSemantics  # what its maps mean: which one to show, signed or not
    preprocess: Preprocess  # the model's normalisation, to rebuild its input
    ood: OODResult | None = None  # does the frame look like a capsule frame? (diffclip.ood)

    @property
    def image(self) -> np.ndarray:
        """(S, S, 3) uint8 RGB: the crop the model saw."""
        data = self.crop_png
        if isinstance(data, Path):
            try:
                data = data.read_bytes()
            except OSError:
                raise ValueError("this frame's analysis has expired: analyse the frame again") from None
        return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    @property
    def x(self) -> torch.Tensor:
        """(1, 3, S, S) normalised input on the CPU, exactly as the model got it."""
        crop = torch.from_numpy(self.image).permute(2, 0, 1).unsqueeze(0).contiguous()
        return self.preprocess.normalize_uint8(crop)

    def spill(self, path: Path) -> Path:
        """Move the crop to the PNG file ``path`` (a server keeps many sessions: pixels on disk, not in
        memory); returns the path."""
        if not isinstance(self.crop_png, Path):
            path.write_bytes(self.crop_png)
            self.crop_png = path
        return self.crop_png

    @property
    def num_layers(self) -> int:
        return self.lam.shape[0]

    @property
    def num_heads(self) -> int:
        return self.lam.shape[1]

    @property
    def has_second_map(self) -> bool:
        return self.semantics.differential

    @property
    def shown_kind(self) -> str:
        """The kind of map that shows what a layer attends to ("diff" or "a1")."""
        return self.semantics.shown

    def label_index(self, label: str | int) -> int:
        if isinstance(label, (int, np.integer)):
            return int(label)
        if label not in self.labels:
            raise ValueError(f"unknown label {label!r}; choose one of {', '.join(self.labels)}")
        return self.labels.index(label)

    def cls_map(self, kind: str, layer: int = -1, head: int | None = None) -> np.ndarray:
        """(gh, gw) CLS row of ``kind`` for a layer and a head (None: head mean)."""
        if kind not in self.cls_rows:
            raise ValueError(f"this model has no {kind!r} map")
        rows = self.cls_rows[kind][layer].astype(np.float32)
        if head is not None and not -rows.shape[0] <= head < rows.shape[0]:
            raise ValueError(f"head {head} out of range: this layer has {rows.shape[0]} heads")
        return rows.mean(0) if head is None else rows[head]

    def ood_dict(self) -> dict:
        """The out-of-distribution verdict as /predict_frame gives it (``in_distribution`` None when the
        checkpoint has no statistics)."""
        return (self.ood if self.ood is not None else OODResult(None, None, None)).to_dict()

    def lam_value(self, layer: int = -1, head: int | None = None) -> float:
        lam = self.lam[layer]
        return float(lam.mean() if head is None else lam[head])


def summarise(maps: list[AttentionMaps], index: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """CLS rows per kind (layers, heads, gh, gw; float16), lambda (layers, heads) and rollout (gh, gw)
    of batch item ``index``."""
    kinds = ("a1", "a2", "diff") if maps[0].semantics.differential else ("a1",)
    rows = {}
    for kind in kinds:
        per_layer = []
        for m in maps:
            row = getattr(m, kind)[index, :, 0, m.prefix_tokens:]
            per_layer.append(M.patch_grid(row.detach().float()))  # (heads, gh, gw)
        rows[kind] = np.stack(per_layer).astype(np.float16)
    one = [m.select(index) for m in maps]  # lambda too: that item's, not the batch's mean
    return rows, M.lambdas(one), M.rollout(one, kind=maps[0].semantics.shown)[0]


def analyse(predictor: Predictor, image: ImageLike) -> FrameAnalysis:
    """Run the model once on ``image`` and keep its probabilities, a summary of its attention and the
    out-of-distribution verdict (from the same forward pass)."""
    return analyse_many(predictor, [image])[0]


def analyse_many(predictor: Predictor, images: list[ImageLike]) -> list[FrameAnalysis]:
    """:func:`analyse` for several images in one forward pass (the report's overlays): each frame's numbers
    from its own item of the batch (lambda too: read per frame, not as the batch's mean)."""
    if not images:
        return []
    out = predictor.run(predictor.crops(images), maps=True)
    oods = predictor.ood_of(out)
    result = []
    for i in range(len(images)):
        rows, lam, roll = summarise(out.maps, i)
        result.append(FrameAnalysis(encode_png(out.image(i)), out.probs[i], rows, lam, roll, predictor.labels,
                                    predictor.thresholds, predictor.model.config.attention, out.maps[0].semantics,
                                    predictor.pre, oods[i]))
    return result


def encode_png(rgb: np.ndarray) -> bytes:
    """Lossless PNG bytes of an (H, W, 3) uint8 RGB array."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("could not encode the crop as PNG")
    return buf.tobytes()


def _layer(analysis: FrameAnalysis, layer: int) -> int:
    return layer % analysis.num_layers


def panel(analysis: FrameAnalysis, layer: int = -1, head: int | None = None, extra=None, alpha: float = 0.5,
          label: str | None = None):
    """Frame, a1, a2, diff (for ``layer``/``head``) and optionally an extra panel, an
    :class:`~explain.methods.Explanation`."""
    where = f"layer {_layer(analysis, layer)}, {'head mean' if head is None else f'head {head}'}"
    lam = analysis.lam_value(layer, head)
    items = [PanelItem("frame", None)]
    if analysis.has_second_map:
        items += [
            PanelItem(f"a1 (softmax 1)\n{where}", analysis.cls_map("a1", layer, head)),
            PanelItem(f"a2 (softmax 2)\n{where}", analysis.cls_map("a2", layer, head)),
            PanelItem(f"diff = a1 - {lam:.3f} a2\n{where}", analysis.cls_map("diff", layer, head), diverging=True),
        ]
    else:
        items.append(PanelItem(f"attention (standard)\n{where}", analysis.cls_map("a1", layer, head)))
    if extra is not None:
        m, signed, title = extra.map, extra.signed, extra.caption
        items.append(PanelItem(title + (f"\nlabel: {label}" if label else ""), m, diverging=signed))
    top = ", ".join(f"{lab} {p:.2f}" for lab, p in sorted(zip(analysis.labels, analysis.probs, strict=True),
                                                         key=lambda t: -t[1])[:3])
    return panel_figure(analysis.image, items, alpha, suptitle=f"{analysis.variant} attention; top scores: {top}")
