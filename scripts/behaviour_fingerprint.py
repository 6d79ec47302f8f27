"""Every probability and attention map of the bundled models on the eight examples, saved to compare two
versions of the code (issue 28: a restructuring must change no number). Uses only the oldest stable route
(Predictor.crops and Predictor.run with maps), in fp32 on the CPU.

    python scripts/behaviour_fingerprint.py OUT.npz
    python scripts/behaviour_fingerprint.py --compare A.npz B.npz
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def fingerprint(out: str) -> None:
    from diffclip.inference import Predictor

    root = Path.cwd()
    frames = sorted(p for p in (root / "demo" / "examples" / "frames").glob("*.png") if "_mask" not in p.name
                    and "_distractors" not in p.name)
    arrays = {}
    for name in ("diff", "vanilla", "diff_v2"):
        if not (root / "demo" / "weights" / name).is_dir():  # a version of the code from before the trio
            continue
        predictor = Predictor(root / "demo" / "weights" / name, device="cpu", precision="fp32")
        batch = predictor.run(predictor.crops(frames), maps=True)
        arrays[f"{name}/probs"] = batch.probs
        for layer, m in enumerate(batch.maps):
            for kind in ("a1", "a2", "diff"):
                t = getattr(m, kind)
                if t is not None:
                    arrays[f"{name}/{layer}/{kind}"] = t.detach().float().numpy()
            arrays[f"{name}/{layer}/lam"] = m.lam.detach().float().numpy()
    np.savez_compressed(out, **arrays)
    print(f"{len(frames)} frames, {len(arrays)} arrays -> {out}")


def compare(a: str, b: str) -> int:
    with np.load(a) as x, np.load(b) as y:
        keys = sorted(set(x.files) | set(y.files))
        differ = [k for k in keys if k not in x.files or k not in y.files or not np.array_equal(x[k], y[k])]
        print(f"{len(keys)} arrays compared; {len(differ)} differ{': ' + ', '.join(differ[:10]) if differ else ''}")
    return 1 if differ else 0


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        raise SystemExit(compare(sys.argv[2], sys.argv[3]))
    fingerprint(sys.argv[1])
