"""One picture per top mistake of an error analysis: the crop the model saw, its last-layer attention and
the chosen attribution for the mistaken label, each map with a labelled colour bar, and the lesion mask's
outline where the frame has one.

The attention map is the one that shows what the layer attends to (``FrameAnalysis.shown_kind``): the
differential map a1 - lambda a2 for a differential model, the softmax map otherwise. A frame that is a
mistake for several labels is analysed once; its attention panel is drawn once.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from diffclip.error_analysis.labelled_set import LabelledSet, frame_images
from diffclip.inference import Predictor

from ..analysis import FrameAnalysis, analyse_many
from ..display import draw_outline, robust_scale, show_map
from ..methods import Explanation, explain_many, get_explainer

IMAGES = "images"  # the overlays' folder inside the report folder
ALPHA = 0.5
PAD = 4  # with_colorbar leaves this margin around its image: the crop gets the same, so the row lines up
KINDS = ("fp", "fn")

Progress = Callable[[float, str], None] | None


def slug(text: str) -> str:
    """A file-name-safe form of a label or video id: letters, digits, ``_`` and ``-``."""
    out = re.sub(r"[^A-Za-z0-9_]+", "-", str(text)).strip("-")
    return out or "x"


def image_name(label: str, kind: str, rank: int, video_id: str, frame: int) -> str:
    """The overlay's path relative to the report folder: ``images/<label>/<kind>-<rank>-<video>-<frame>.png``
    (rank from 1)."""
    return f"{IMAGES}/{slug(label).lower()}/{kind}-{rank:02d}-{slug(video_id)}-{frame:06d}.png"


def crop_mask(path: str | Path, size: int) -> np.ndarray:
    """A lesion mask (0: none) resized (nearest, short side to ``size``) and centre-cropped as the model's
    input is, as booleans: every lesion of the frame."""
    from PIL import Image, UnidentifiedImageError
    from torchvision.transforms import CenterCrop, InterpolationMode, Resize

    from diffclip.images import check_image_file

    check_image_file(path)  # its size from the header, before the mask is decoded or resized
    try:
        with Image.open(path) as img:
            values = np.asarray(img)  # label codes (1 + label index), not colours: no conversion
    except (UnidentifiedImageError, OSError):
        raise ValueError(f"{Path(path).name}: the mask is not a readable image") from None
    if values.ndim == 3:
        values = values[..., 0]
    grey = Image.fromarray((values > 0).astype(np.uint8) * 255, mode="L")
    return np.asarray(CenterCrop(size)(Resize(size, interpolation=InterpolationMode.NEAREST)(grey))) > 0


def attention_panel(analysis: FrameAnalysis, mask: np.ndarray | None = None, alpha: float = ALPHA) -> np.ndarray:
    """The last layer's attention (head mean) over the crop with its colour bar."""
    kind = analysis.shown_kind
    values = analysis.cls_map(kind, -1)
    scale = robust_scale(values, diverging=analysis.semantics.signed)
    if analysis.has_second_map and kind != "a1":  # the shown map is the difference a1 - lambda a2
        label = f"a1 − {analysis.lam_value(-1):.2f}·a2 (last layer)"
    else:
        label = "softmax attention (last layer)"
    return show_map(analysis.image, values, alpha, scale, label, mask)


def attribution_panel(analysis: FrameAnalysis, attribution: Explanation, title: str, label: str,
                      mask: np.ndarray | None = None, alpha: float = ALPHA) -> np.ndarray:
    """The attribution for ``label`` over the crop with its colour bar (diverging when signed)."""
    values = np.asarray(attribution.map, np.float32)
    scale = robust_scale(values, diverging=attribution.signed)
    return show_map(analysis.image, values, alpha, scale, f"{title}\n{label}", mask)


def crop_panel(analysis: FrameAnalysis, mask: np.ndarray | None = None) -> np.ndarray:
    """The crop the model saw, with the lesion outline, in the same white margin as the map panels."""
    crop = draw_outline(analysis.image, mask)
    return np.pad(crop, ((PAD, PAD), (PAD, PAD), (0, 0)), constant_values=255)


def row(*panels: np.ndarray) -> np.ndarray:
    """Panels side by side, padded with white to the tallest."""
    h = max(p.shape[0] for p in panels)
    padded = [np.pad(p[..., :3], ((0, h - p.shape[0]), (0, 0), (0, 0)), constant_values=255) for p in panels]
    return np.concatenate(padded, axis=1)


def save_png(rgb: np.ndarray, path: Path) -> Path:
    """Write an RGB array as a PNG, atomically."""
    from PIL import Image

    from diffclip.atomic import atomic_path

    with atomic_path(path) as tmp:
        # zlib level 3: half the encoding time of the default 6 for files 12% larger (the report writes a hundred)
        Image.fromarray(np.ascontiguousarray(rgb)).save(tmp, format="PNG", compress_level=3)
    return path


def _items(doc: dict) -> Iterator[tuple[str, str, int, dict]]:
    for label, kinds in doc.get("top", {}).items():
        for kind in KINDS:
            for rank, item in enumerate(kinds.get(kind, []), start=1):
                yield label, kind, rank, item


def write_overlays(out_dir: str | Path, doc: dict, data: LabelledSet, predictor: Predictor, method: str,
                   progress: Progress = None, alpha: float = ALPHA) -> int:
    """Draw every top mistake of ``doc`` (an :func:`~diffclip.error_analysis.document.errors_document`) under
    ``out_dir/images`` and set each item's ``"image"`` to its path relative to ``out_dir``; overlays of
    an earlier run that this one does not draw are removed. A tqdm bar on the terminal; ``progress``
    (fraction, description) for the app. Returns the number drawn."""
    from tqdm.auto import tqdm

    explainer = get_explainer(method)
    out_dir = Path(out_dir)
    items = list(_items(doc))
    by_frame: dict[tuple[str, int], list[tuple[str, str, int, dict]]] = {}
    for entry in items:
        by_frame.setdefault((entry[3]["video_id"], int(entry[3]["frame"])), []).append(entry)
    missing = sorted({vid for vid, _ in by_frame} - {v.video_id for v in data.videos})
    if missing:
        raise ValueError(f"the analysis names video(s) {', '.join(missing)} that {data.data} does not hold")
    written: set[Path] = set()
    done = 0
    bar = tqdm(total=len(items), desc=f"overlays ({explainer.name})", unit="image", disable=not items)
    try:
        for video in data.videos:
            frames = sorted(f for (vid, f) in by_frame if vid == video.video_id)
            if not frames:
                continue
            pictures = frame_images(video, frames)
            missing_frames = [f for f in frames if f not in pictures]
            if missing_frames:
                raise ValueError(f"frame {missing_frames[0]} of video {video.video_id!r} is no longer in {data.data}")
            for start in range(0, len(frames), predictor.batch_size):
                chunk = frames[start : start + predictor.batch_size]
                # one model pass for the chunk's frames, one (batched where the method can) for their explanations
                analyses = dict(zip(chunk, analyse_many(predictor, [pictures[f] for f in chunk]), strict=True))
                entries = [(f, e) for f in chunk for e in by_frame[(video.video_id, f)]]
                maps = explain_many([(analyses[f], e[0]) for f, e in entries], predictor, explainer.name,
                                    predictor.batch_size)
                shared = {}
                for (frame, (label, kind, rank, item)), attr in zip(entries, maps, strict=True):
                    analysis = analyses[frame]
                    if frame not in shared:  # the crop and attention panels, once per frame
                        mask_file = video.mask_path(frame)
                        mask = crop_mask(mask_file, analysis.image.shape[0]) if mask_file is not None else None
                        shared[frame] = (mask, crop_panel(analysis, mask), attention_panel(analysis, mask, alpha))
                    mask, *panels = shared[frame]
                    picture = row(*panels, attribution_panel(analysis, attr, explainer.title, label, mask, alpha))
                    name = image_name(label, kind, rank, video.video_id, frame)
                    written.add(save_png(picture, out_dir / name))
                    item["image"] = name
                    done += 1
                    bar.update(1)
                    if progress is not None:
                        progress(done / len(items), f"overlay {done} of {len(items)}")
    finally:
        bar.close()
    _remove_stale(out_dir / IMAGES, written)
    return done


def _remove_stale(folder: Path, keep: set[Path]) -> None:
    """Drop overlays an earlier run wrote that this run did not (a report folder shows one analysis)."""
    if not folder.is_dir():
        return
    pattern = re.compile(r"^f[pn]-\d+-.+-\d{6}\.png$")
    keep = {p.resolve() for p in keep}
    for path in folder.glob("*/*.png"):
        if pattern.match(path.name) and path.resolve() not in keep:
            path.unlink()
    for sub in folder.iterdir():
        if sub.is_dir() and not any(sub.iterdir()):
            shutil.rmtree(sub)
