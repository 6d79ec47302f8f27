"""The feature map and similar frames of an error analysis (docs/design.md, "Error analysis").

The map is scikit-learn's t-SNE (van der Maaten and Hinton, 2008; PCA initialisation, perplexity 30 or less
on small sets) of the model's pooled features, not UMAP: umap-learn brings numba and llvmlite (over 100 MB)
into a project whose other dependencies are already large. How well the map keeps each frame's neighbours is
measured, not assumed: scikit-learn's trustworthiness (Venna and Kaski, 2001) of the map and, beside it, of a
two-component PCA of the same features, both in errors.json. A set larger than ``MAX_POINTS`` is mapped on a
seeded sample of its frames, so that time and memory stay bounded. Similar frames are the nearest by cosine
similarity of the features, over every frame of the set."""

from __future__ import annotations

import numpy as np

MAX_POINTS = 4000  # frames on the map (t-SNE's time grows with N log N; the picture gains nothing past this)
TRUST_POINTS = 800  # frames the trustworthiness is measured on (it needs an N x N distance matrix)
TRUST_NEIGHBOURS = 10


def map_rows(n: int, max_points: int = MAX_POINTS, seed: int = 0) -> np.ndarray:
    """The rows of an n-frame pass that the map shows: all of them, or a seeded sample in row order."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


def feature_map(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """(M, 2) t-SNE coordinates of (M, D) features (PCA to 2-D below 5 frames, where t-SNE is undefined)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = np.asarray(features, np.float32)
    if len(x) < 5:
        return PCA(n_components=min(2, len(x)), random_state=seed).fit_transform(x) if len(x) > 1 else \
            np.zeros((len(x), 2), np.float32)
    if x.shape[1] > 50 and len(x) > 50:  # the usual first step: t-SNE on the leading components is faster
        x = PCA(n_components=50, random_state=seed).fit_transform(x)
    perplexity = min(30.0, (len(x) - 1) / 3)
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def trust(features: np.ndarray, coords: np.ndarray, seed: int = 0) -> dict:
    """Trustworthiness (1: every map neighbour is a feature-space neighbour) of the map and of a 2-D PCA, on
    up to ``TRUST_POINTS`` of the mapped frames, with ``TRUST_NEIGHBOURS`` neighbours."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import trustworthiness

    x = np.asarray(features, np.float32)
    if len(x) < 3 * TRUST_NEIGHBOURS:
        return {"map": None, "pca": None, "frames": len(x), "neighbours": TRUST_NEIGHBOURS}
    pick = map_rows(len(x), TRUST_POINTS, seed)
    pca = PCA(n_components=2, random_state=seed).fit_transform(x[pick])
    return {"map": float(trustworthiness(x[pick], coords[pick], n_neighbors=TRUST_NEIGHBOURS)),
            "pca": float(trustworthiness(x[pick], pca, n_neighbors=TRUST_NEIGHBOURS)),
            "frames": len(pick), "neighbours": TRUST_NEIGHBOURS}


def similar(features: np.ndarray, row: int, k: int = 8) -> list[tuple[int, float]]:
    """The ``k`` rows most similar to ``row`` by cosine similarity of their features (itself excluded), most
    similar first, each with its similarity."""
    x = np.asarray(features, np.float32)
    if not 0 <= row < len(x):
        raise ValueError(f"row must lie in 0..{len(x) - 1}, got {row}")
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sims = unit @ unit[row]
    sims[row] = -np.inf
    order = np.argsort(-sims, kind="stable")[:k]
    return [(int(i), float(sims[i])) for i in order if np.isfinite(sims[i])]


def embedding_entry(features: np.ndarray | None, video_ids: np.ndarray, frames: np.ndarray, seed: int = 0) -> dict:
    """``errors.json``'s ``embedding``: the method, each mapped frame's coordinates and the trustworthiness
    of the map against a PCA (None without features)."""
    if features is None or not len(features):
        return {"method": None, "points": [], "trustworthiness": None}
    rows = map_rows(len(features), seed=seed)
    coords = feature_map(features[rows], seed)
    points = [{"video_id": str(video_ids[r]), "frame": int(frames[r]), "x": round(float(c[0]), 3),
               "y": round(float(c[1]), 3)} for r, c in zip(rows, coords, strict=True)]
    return {"method": "t-SNE of the pooled features (scikit-learn; PCA to 50 first)", "frames_mapped": len(rows),
            "frames": len(features), "points": points, "trustworthiness": trust(features[rows], coords, seed)}
