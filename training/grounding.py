"""Is the synthetic data visually grounded? A check with no deep net: colour and texture features of
rendered frames, one logistic regression per label, AUC on frames of held-out videos.

``python -m training.grounding`` prints the table (see also ``benchmarks/synthetic_grounding.py``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import cv2
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from diffclip.labels import LABELS

from .synthetic import SynthConfig, plan_video, render_frame


def colour_texture_features(rgb: np.ndarray) -> np.ndarray:
    """Hand-made features inside the field of view: HSV histograms, per-channel mean and spread,
    the share of very dark-red, bright-red and white pixels, and gradient / Laplacian energy."""
    size = rgb.shape[0]
    yy, xx = np.mgrid[0:size, 0:size]
    inside = np.hypot(xx - size / 2, yy - size / 2) < 0.45 * size
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[inside].astype(np.float32)
    px = rgb[inside].astype(np.float32) / 255.0
    h_hist = np.histogram(hsv[:, 0], bins=18, range=(0, 180))[0]
    s_hist = np.histogram(hsv[:, 1], bins=8, range=(0, 256))[0]
    v_hist = np.histogram(hsv[:, 2], bins=8, range=(0, 256))[0]
    r, g, b = px[:, 0], px[:, 1], px[:, 2]
    shares = [
        np.mean((r > 0.3) & (g < 0.12) & (b < 0.12)),  # dark red
        np.mean((r > 0.7) & (g < 0.2)),  # bright red
        np.mean((r > 0.85) & (g > 0.85) & (b > 0.75)),  # white
    ]
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx, gy = cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    lap = cv2.Laplacian(gray, cv2.CV_32F)
    texture = [np.mean(np.hypot(gx, gy)[inside]), np.std(lap[inside]), np.mean(np.abs(gx[inside]) - np.abs(gy[inside]))]
    n = inside.sum()
    return np.concatenate([h_hist / n, s_hist / n, v_hist / n, px.mean(0), px.std(0), shares, texture]).astype(np.float32)


def render_set(seed: int, videos: int, frames: int, rare_share: float = 0.05, size: int = 224):
    """Features and labels of every frame of ``videos`` synthetic videos (rendered in memory)."""
    config = SynthConfig(frames=frames, size=size, seed=seed, rare_share=rare_share)
    feats, labels = [], []
    for v in range(videos):
        plan = plan_video(str(v + 1), config, index=v)
        for t in range(frames):
            feats.append(colour_texture_features(render_frame(plan, t)[0]))
        labels.append(plan.labels)
    return np.stack(feats), np.concatenate(labels)


def grounding_auc(
    train_videos: int = 4, test_videos: int = 2, frames: int = 500, seed: int = 0,
    labels: Sequence[str] = LABELS,
) -> dict[str, float]:
    """Held-out AUC per label (NaN where the test videos lack positives or negatives)."""
    x_tr, y_tr = render_set(seed, train_videos, frames)
    x_te, y_te = render_set(seed + 1000, test_videos, frames)
    out = {}
    for lab in labels:
        j = LABELS.index(lab)
        if y_tr[:, j].all() or not y_tr[:, j].any() or y_te[:, j].all() or not y_te[:, j].any():
            out[lab] = float("nan")
            continue
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
        clf.fit(x_tr, y_tr[:, j])
        out[lab] = float(roc_auc_score(y_te[:, j], clf.predict_proba(x_te)[:, 1]))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-videos", type=int, default=4)
    parser.add_argument("--test-videos", type=int, default=2)
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    aucs = grounding_auc(args.train_videos, args.test_videos, args.frames, args.seed)
    print(f"{'label':<20} held-out AUC  ({args.train_videos * args.frames} training frames)")
    for lab, auc in aucs.items():
        print(f"{lab:<20} {auc:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
