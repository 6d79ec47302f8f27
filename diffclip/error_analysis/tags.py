"""Tags on mistakes: a cause from a short list and a free note per (video, frame, label, kind), kept as a
CSV that the app downloads and the report includes (docs/design.md, "Error analysis")."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..csv_input import dict_rows, frame_number, probability

CAUSES: tuple[str, ...] = ("artefact", "mislabel", "ambiguous", "model error", "other")
KINDS: tuple[str, ...] = ("fp", "fn")
COLUMNS: tuple[str, ...] = ("video_id", "frame", "label", "kind", "probability", "cause", "note")
MAX_NOTE = 2000  # characters: a note is a sentence or two, not a document


def tag(video_id: str, frame: int, label: str, kind: str, probability: float, cause: str, note: str = "") -> dict:
    """One checked tag; a ValueError says what is wrong."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if cause not in CAUSES:
        raise ValueError(f"cause must be one of {', '.join(CAUSES)}, got {cause!r}")
    note = " ".join(str(note or "").split())  # one line in the CSV and the report
    if len(note) > MAX_NOTE:
        raise ValueError(f"a note may hold at most {MAX_NOTE} characters, this one has {len(note)}")
    return {"video_id": str(video_id), "frame": int(frame), "label": str(label), "kind": kind,
            "probability": round(float(probability), 5), "cause": cause, "note": note}


def tag_key(t: Mapping) -> tuple[str, int, str, str]:
    """What a tag is about: one mistake (a later tag of the same mistake replaces the earlier)."""
    return str(t["video_id"]), int(t["frame"]), str(t["label"]), str(t["kind"])


def tags_csv(tags: Iterable[Mapping]) -> str:
    """The tags as CSV text with a header."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for t in sorted(tags, key=tag_key):
        writer.writerow({c: t[c] for c in COLUMNS})
    return buf.getvalue()


def read_tags(path: str | Path) -> list[dict]:
    """Tags from a CSV written by :func:`tags_csv`; a ValueError names the line that is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{path.name}: a tags CSV must be UTF-8 text") from None
    header, rows = dict_rows(text, path.name)
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{path.name}: the header lacks {', '.join(missing)} (expected {', '.join(COLUMNS)})")
    out: dict[tuple, dict] = {}
    for line, row in rows:
        try:
            t = tag(row["video_id"], frame_number(row["frame"] or ""), row["label"], row["kind"],
                    probability(row["probability"] or ""), row["cause"], row["note"])
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path.name}:{line}: {exc}") from None
        out[tag_key(t)] = t
    return list(out.values())
