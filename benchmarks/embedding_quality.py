"""Is the error analysis's t-SNE map (diffclip.error_analysis.embedding) as useful as UMAP? On the bundled
held-out set's pooled features (diff model, fp32): trustworthiness (Venna and Kaski 2001; 10 neighbours) and
how well the 2-D map alone tells the true section of a frame (5-nearest-neighbour accuracy, 5-fold), for t-SNE,
UMAP (umap-learn, when importable: it is not a dependency of this project) and a 2-D PCA.

    pip install --target /tmp/umap umap-learn   # only for this comparison
    python benchmarks/embedding_quality.py --umap-path /tmp/umap [--json docs/embedding-quality.json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from diffclip.atomic import write_json  # noqa: E402
from diffclip.error_analysis.embedding import feature_map  # noqa: E402
from diffclip.error_analysis.labelled_set import load_labelled  # noqa: E402
from diffclip.error_analysis.model_pass import run_pass  # noqa: E402
from diffclip.inference import Predictor  # noqa: E402
from diffclip.labels import SECTIONS  # noqa: E402


def scores(features: np.ndarray, coords: np.ndarray, sections: np.ndarray) -> dict:
    """Trustworthiness of ``coords`` for ``features`` and the 5-NN section accuracy on ``coords``."""
    from sklearn.manifold import trustworthiness
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    accuracy = cross_val_score(KNeighborsClassifier(5), coords, sections, cv=5).mean()
    return {"trustworthiness": float(trustworthiness(features, coords, n_neighbors=10)),
            "section_knn_accuracy": float(accuracy)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(REPO / "demo" / "weights" / "diff"))
    parser.add_argument("--data", default=str(REPO / "demo" / "heldout"))
    parser.add_argument("--umap-path", help="a folder holding umap-learn, searched after this environment's "
                        "packages (so that its own numpy and scikit-learn copies are not used)")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.umap_path:
        sys.path.append(args.umap_path)
    from sklearn.decomposition import PCA

    mp = run_pass(Predictor(args.checkpoint, device="cpu", precision="fp32"), load_labelled(args.data),
                  progress=False)
    rows = np.flatnonzero(mp.known)
    features = mp.features[rows].astype(np.float32)
    idx = [mp.labels.index(s) for s in SECTIONS]
    sections = mp.truth[rows][:, idx].argmax(axis=1)
    maps = {"t-SNE (this project)": feature_map(features),
            "PCA, 2 components": PCA(n_components=2, random_state=0).fit_transform(features)}
    try:
        import umap

        maps["UMAP (umap-learn defaults)"] = umap.UMAP(random_state=0).fit_transform(features)
    except ImportError:
        print("umap-learn is not importable: UMAP left out")
    result = {"command": "python benchmarks/embedding_quality.py", "frames": len(rows), "methods": {}}
    for name, coords in maps.items():
        r = result["methods"][name] = scores(features, np.asarray(coords), sections)
        print(f"{name:28s} trustworthiness {r['trustworthiness']:.3f}, section 5-NN accuracy "
              f"{r['section_knn_accuracy']:.3f}")
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
