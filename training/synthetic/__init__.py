"""Synthetic capsule videos written in Galar's exact on-disk format, with lesion masks.

Each video passes mouth -> esophagus -> stomach -> small intestine -> colon. Section lengths and
label frequencies follow Galar's (docs/design.md, "Synthetic data"); ``rare_share`` raises rare labels for small
sets. Every label has its own look:

* sections: mucosa colour and texture (pale pink mouth, whitish streaked esophagus, orange-red stomach
  with rugae, yellow villous small intestine, salmon colon with a vessel network);
* landmarks at the section transitions: z-line (a wavy pale/red boundary), pylorus (a dark ring with
  radial folds), ileocecal valve (a yellowish lip with a dark slit);
* lesions: blood (dark red fluid), active bleeding (bright red pool with a streak), angiectasia (small
  red star), erosion (small white spot with a red halo), erythema (diffuse red patch), hematin (dark
  brown flakes), lymphangioectasis (clusters of white dots), polyp (a shaded bulb), ulcer (yellow-white
  fibrin with a red rim);
* distractors: bubbles, specular highlights and debris, placed over the whole video independently of the
  labels (about 40% of frames); smooth camera motion; a dark circular field of view.

On disk (``root`` is the output directory)::

    root/<video_id>/frame_000000.PNG          frames (6-digit numbers, upper-case extension)
    root/<video_id>/frame_000000_mask.png     lesion mask: 0 = none, k = 1 + index in LABELS
    root/<video_id>/frame_000000_distractors.png  distractor mask: 0 none, 1 bubble, 2 specular highlight,
                                              3 debris, 4 outside the field of view
    root/Labels/<video_id>.csv                index, 17 labels, Galar's extra labels, section, frame
    root/ground_truth.json                    RARE-VISION events (label-set runs)
    root/synth.json                           generator settings and per-video label counts
    root/videos/<video_id>.mp4                H.264, with --mp4

Rendering a frame depends only on the video plan and the frame index, so frames render in parallel
and the same seed gives byte-identical files.
"""

from __future__ import annotations

from .lesions import DRAW_ORDER, DRAWERS
from .plan import (
    LABEL_INDEX,
    LANDMARK_TRANSITIONS,
    LESION_SECTIONS,
    Instance,
    SynthConfig,
    VideoPlan,
    plan_video,
)
from .render import Rendered, render_frame
from .textures import SECTION_COLOURS, make_texture
from .writer import (
    SynthResult,
    distractors_name,
    frame_name,
    generate,
    mask_name,
    write_labels_csv,
    write_mp4,
)

__all__ = [
    "DRAWERS",
    "DRAW_ORDER",
    "LABEL_INDEX",
    "LANDMARK_TRANSITIONS",
    "LESION_SECTIONS",
    "SECTION_COLOURS",
    "Instance",
    "Rendered",
    "SynthConfig",
    "SynthResult",
    "VideoPlan",
    "distractors_name",
    "frame_name",
    "generate",
    "make_texture",
    "mask_name",
    "plan_video",
    "render_frame",
    "write_labels_csv",
    "write_mp4",
]
