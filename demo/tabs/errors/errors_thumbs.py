"""Gallery pictures of the Errors tab: a frame as the model saw it (short side resized, centre crop) with
the lesion's outline where the set has a mask, drawn once per session and frame and kept as a PNG in the
session's folder, so that moving a threshold only lists files."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from diffclip.atomic import atomic_path
from diffclip.error_analysis.labelled_set import LabelledSet, frame_images
from diffclip.inference import Predictor
from explain.display import draw_outline
from explain.overlay import overlay

from ...truth import load_mask

ALPHA = 0.5  # the map over its thumbnail: as the Frames view's default overlay

def crop_with_outline(predictor: Predictor, image, mask_path: Path | None, heat: np.ndarray | None = None,
                      diverging: bool = False) -> np.ndarray:
    """(S, S, 3) uint8: the model's crop of ``image``, with ``heat`` (a patch grid) over it when given, and the
    mask's outline on it when there is a mask."""
    crop = predictor.crops([image])[0].permute(1, 2, 0).numpy()
    if heat is not None:
        crop = overlay(crop, np.asarray(heat, np.float32), ALPHA, diverging=diverging)
    if mask_path is None:
        return crop
    return draw_outline(crop, load_mask(mask_path, crop.shape[0]), thickness=2)


def thumbnails(data: LabelledSet, wanted: Sequence[tuple[str, int]], predictor: Predictor,
               folder: Path | None, maps: Mapping[tuple[str, int], np.ndarray] | None = None) -> list[str | np.ndarray]:
    """The picture of each (video id, frame) in ``wanted``, in order: a PNG path in ``folder/thumbs``
    (drawn on first use), or an array without a folder. With ``maps`` ((video id, frame) -> the attention the
    model pass read), each picture shows its frame's map (each on its own colour scale)."""
    order = {v.video_id: i for i, v in enumerate(data.videos)}
    tail = "_map" if maps is not None else ""
    paths = {key: (folder / "thumbs" / f"v{order[key[0]]}_{key[1]:06d}{tail}.png" if folder is not None else None)
             for key in wanted}
    diverging = maps is not None and predictor.model.attention_semantics.signed
    missing = defaultdict(list)
    for key, path in paths.items():
        if path is None or not path.is_file():
            missing[key[0]].append(key[1])
    drawn: dict[tuple[str, int], np.ndarray] = {}
    for video_id, frames in missing.items():
        video = data.video(video_id)
        for frame, image in frame_images(video, frames).items():  # one pass over the video for all of them
            heat = maps[(video_id, frame)] if maps is not None else None
            drawn[(video_id, frame)] = picture = crop_with_outline(predictor, image, video.mask_path(frame), heat,
                                                                   diverging)
            path = paths[(video_id, frame)]
            if path is not None:  # renamed into place: a concurrent redraw never lists a half-written file
                with atomic_path(path) as tmp:
                    Image.fromarray(picture).save(tmp, format="PNG")
    out = []
    for key in wanted:
        if paths[key] is not None and paths[key].is_file():
            out.append(str(paths[key]))
        elif key in drawn:
            out.append(drawn[key])
        else:
            raise ValueError(f"frame {key[1]} of video {key[0]} is no longer on the server; analyse again")
    return out
