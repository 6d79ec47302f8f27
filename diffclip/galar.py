"""Reader for Galar (and data written in its format) and for the RARE-VISION challenge test layout.

Galar on disk (docs/design.md, "Data formats")::

    <root>[/<one more level>]/<video_id>/frame_000123.PNG     frames (also lower-case .png)
    <root>/Labels/<video_id>.csv  (or labels/)                index, 0/1 label columns, section, frame
    <root>/<task>/split_<k>/{train,val}.csv, <task>/test.csv  official splits, column `path`

Challenge test videos: ``<root>/ukdd_navi_00051/frame_0000049.png`` (7 digits, lower case, no labels).

Rows whose frame is not on disk are skipped and counted in one warning; a malformed CSV (including a
negative or repeated frame number) raises :class:`GalarFormatError` naming the file and line.

Galar's updated labels (``20251215_Labels_Updated/``) are read where present, each video falling back to the
original ``Labels/`` folder, as the paper's code does. ``reader="paper"`` also takes the paper's frame column
(the first of ``frame``, ``frame_number``, ``frame_no``, ``index`` in the header's order, else the last column)
and its sampling (every n-th frame file on disk, then the labelled ones); the default takes the column named
``frame`` and every n-th labelled row (docs/design.md, "Where we differ").

Shared by training (datasets) and evaluation (``diffclip errors``); the training datasets over these
records are in :mod:`training.galar_splits`.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .csv_input import CountedLines, checked_rows
from .frame_files import FRAME_FILE_RE, frame_folders, list_frame_files
from .labels import LABELS

log = logging.getLogger(__name__)

MASK_SUFFIX = "_mask.png"


class GalarFormatError(ValueError):
    """A label or split CSV that does not follow Galar's format (message names file and line)."""


@dataclass(frozen=True)
class FrameRecord:
    """One frame: where it is, which video and frame number, its 17-label target (None if unlabelled)."""

    video_id: str
    frame: int
    path: Path
    target: np.ndarray | None = field(default=None, compare=False, hash=False)
    section: str | None = None

    @property
    def mask_path(self) -> Path:
        """Where the synthetic generator puts this frame's lesion mask (may not exist)."""
        return self.path.with_name(f"frame_{self.frame:06d}{MASK_SUFFIX}")


def _norm(name: str) -> str:
    return re.sub(r"[\s_]+", " ", name.strip().lower())


def _label_key(name: str) -> str:
    """A label column's name with case, spaces, underscores and hyphens ignored: "Z_Line", "z-line" and
    "zline" are all z-line, "small_intestine" and "SmallIntestine" small intestine (the paper's aliases)."""
    return re.sub(r"[\s_-]+", "", name.strip().lower())


def paper_label(column: str) -> str | None:
    """The label a column names by the paper's rule (its ``canonicalize_label``): the name in lower case equal
    to a label, to it without spaces, with underscores for spaces or with an underscore for the hyphen, or so
    after its spaces become underscores ("Small_Intestine", "smallintestine" and "z_line" match; "zline" and
    "small-intestine" do not)."""
    key = column.strip().lower()
    for label in LABELS:
        forms = {label, label.replace(" ", ""), label.replace(" ", "_"), label.replace("-", "_")}
        if key in forms or key.replace(" ", "_") in forms:
            return label
    return None


#: Where the paper looks for the frame number, in the header's order; without any, the last column.
PAPER_FRAME_COLUMNS = ("frame", "frame_number", "frame_no", "index")
#: Galar's updated label folder, read before the original one (per video), as the paper's code does.
UPDATED_LABELS = "20251215_Labels_Updated"
READERS = ("ours", "paper")


def _video_key(video_id: str) -> str:
    """Galar folders are integer ids; split files may zero-pad them ("003" is video 3)."""
    return str(int(video_id)) if video_id.isdigit() else video_id


def find_labels_dir(root: Path) -> Path:
    """``Labels`` or ``labels`` under ``root`` or one level deeper."""
    for base in (root, *sorted(p for p in root.iterdir() if p.is_dir())):
        for name in ("Labels", "labels"):
            if (base / name).is_dir():
                return base / name
    raise FileNotFoundError(f"no Labels/ or labels/ folder under {root} (or one level deeper)")


def find_video_dirs(root: Path, video_ids: Iterable[str] | None = None) -> dict[str, Path]:
    """Map video ids to their frame folders (:func:`diffclip.frame_files.frame_folders`: the folders of
    ``root`` that hold frames, or, when it has none, those one level deeper)."""
    found: dict[str, Path] = {}
    for name, folder in frame_folders(root).items():
        found.setdefault(_video_key(name), folder)
    if video_ids is not None:
        wanted = {_video_key(v) for v in video_ids}
        found = {k: v for k, v in found.items() if k in wanted}
    return found


def _parse_int(value: str, path: Path, line: int, column: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise GalarFormatError(f"{path}:{line}: column '{column}' must be an integer, got {value!r}") from None


def read_label_csv(path: str | Path, reader: str = "ours") -> tuple[list[int], np.ndarray, list[str | None]]:
    """Read a Galar label CSV: frame numbers, (rows, 17) float targets and sections.

    Label columns are matched by name (case, spaces, underscores and hyphens ignored); labels missing from the
    file are 0. The frame number is the column ``frame`` (``reader="paper"``: the paper's rule,
    :data:`PAPER_FRAME_COLUMNS`). Raises :class:`GalarFormatError` naming the file and line for a malformed file.
    """
    path = Path(path)
    if reader not in READERS:
        raise ValueError(f"reader must be one of {', '.join(READERS)}, got {reader!r}")
    try:
        return _read_label_csv(path, reader)
    except UnicodeDecodeError as exc:
        raise GalarFormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _frame_column(header: list[str], path: Path, reader: str) -> int:
    names = [_norm(h) for h in header]
    if reader == "paper":
        lowered = [h.strip().lower() for h in header]
        return next((i for i, h in enumerate(lowered) if h in PAPER_FRAME_COLUMNS), len(header) - 1)
    if "frame" not in names:
        raise GalarFormatError(f"{path}:1: header has no 'frame' column: {header}")
    return names.index("frame")


def _read_label_csv(path: Path, rule: str = "ours") -> tuple[list[int], np.ndarray, list[str | None]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        lines = CountedLines(fh)
        reader = csv.reader(lines)
        try:
            header = next(reader)
        except StopIteration:
            raise GalarFormatError(f"{path}:1: empty file, expected a header") from None
        names = [_norm(h) for h in header]
        frame_col = _frame_column(header, path, rule)
        section_col = names.index("section") if "section" in names else None
        if rule == "paper":  # its aliases; a later column of the same label replaces an earlier one
            label_cols = {paper_label(h): i for i, h in enumerate(header) if paper_label(h) and i != frame_col}
        else:
            keys = [_label_key(h) for h in header]
            label_cols = {lab: keys.index(_label_key(lab)) for lab in LABELS if _label_key(lab) in keys}
        if not label_cols:
            raise GalarFormatError(f"{path}:1: header names none of the 17 labels: {header}")
        absent = [lab for lab in LABELS if lab not in label_cols]
        if absent:
            log.info("%s has no column for %s; those labels read as 0", path, absent)
        frames, targets, sections = [], [], []
        first_line: dict[int, int] = {}  # frame number -> line that labelled it
        for line, row in checked_rows(reader, lines, str(path), GalarFormatError):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise GalarFormatError(f"{path}:{line}: {len(row)} fields, header has {len(header)}")
            target = np.zeros(len(LABELS), np.float32)
            for j, lab in enumerate(LABELS):
                if lab in label_cols:
                    value = row[label_cols[lab]].strip()
                    if value not in ("0", "1", "0.0", "1.0"):
                        raise GalarFormatError(f"{path}:{line}: column '{lab}' must be 0 or 1, got {value!r}")
                    target[j] = float(value)
            frame = _parse_int(row[frame_col].strip(), path, line, "frame")
            # frame files are numbered from 0, and one frame with two rows would be trained and scored twice
            # (with possibly contradicting labels)
            if frame < 0:
                raise GalarFormatError(f"{path}:{line}: negative frame number {frame}")
            if frame in first_line:
                raise GalarFormatError(f"{path}:{line}: frame {frame} is already labelled at line {first_line[frame]}")
            first_line[frame] = line
            frames.append(frame)
            targets.append(target)
            sections.append(row[section_col].strip() or None if section_col is not None else None)
    return frames, np.array(targets, np.float32).reshape(-1, len(LABELS)), sections


@dataclass
class GalarIndex:
    """Frames found on disk with their targets, and how many labelled rows had no frame."""

    records: list[FrameRecord]
    missing: int = 0
    missing_by_video: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def video_ids(self) -> list[str]:
        return list(dict.fromkeys(r.video_id for r in self.records))

    def targets(self) -> np.ndarray:
        return np.stack([r.target for r in self.records]) if self.records else np.zeros((0, len(LABELS)))


def _warn_missing(missing_by_video: dict[str, int]) -> None:
    total = sum(missing_by_video.values())
    if total:
        detail = ", ".join(f"{v}: {n}" for v, n in missing_by_video.items() if n)
        log.warning("skipped %d labelled rows whose frame is not on disk (%s)", total, detail)


def label_csvs(root: Path) -> tuple[dict[str, Path], Path]:
    """Each video's label CSV: from :data:`UPDATED_LABELS` under ``root`` where it has one, else from the
    original labels folder (:func:`find_labels_dir`); and the folder named in messages."""
    folders = []
    try:
        folders.append(find_labels_dir(root))
    except FileNotFoundError:
        if not (root / UPDATED_LABELS).is_dir():
            raise
    if (root / UPDATED_LABELS).is_dir():
        folders.append(root / UPDATED_LABELS)  # read last: its CSVs replace the original ones
    csvs: dict[str, Path] = {}
    for folder in folders:
        files = [p for p in folder.iterdir() if p.suffix.lower() == ".csv"]
        csvs.update({_video_key(p.stem): p for p in files})
    return dict(sorted(csvs.items(), key=lambda kv: _sort_key(kv[0]))), folders[-1]


def scan_galar(
    root: str | Path, videos: Sequence[str] | None = None, every: int = 1, warn: bool = True,
    reader: str = "ours",
) -> GalarIndex:
    """Index a Galar root: every labelled frame present on disk, optionally only some videos, and of each
    video every ``every``-th labelled row (``reader="paper"``: every ``every``-th frame file on disk, sorted by
    number, that has a label row, with the paper's frame column; see the module's docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Galar root {root} does not exist")
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    if reader not in READERS:
        raise ValueError(f"reader must be one of {', '.join(READERS)}, got {reader!r}")
    csvs, labels_dir = label_csvs(root)
    if videos is not None:
        wanted = [_video_key(v) for v in videos]
        unknown = [v for v in wanted if v not in csvs]
        if unknown:
            raise FileNotFoundError(f"no label CSV in {labels_dir} for videos {unknown}")
        csvs = {v: csvs[v] for v in wanted}
    folders = find_video_dirs(root, csvs)
    records: list[FrameRecord] = []
    missing: dict[str, int] = {}
    for key, csv_path in csvs.items():
        frames, targets, sections = read_label_csv(csv_path, reader)
        folder = folders.get(key)
        files = list_frame_files(folder) if folder is not None else []
        on_disk = dict(files)
        video_id = folder.name if folder is not None else key
        missing[video_id] = 0
        if reader == "paper":  # every n-th file on disk, sorted by number, then the labelled ones
            row = {f: i for i, f in enumerate(frames)}
            records += [FrameRecord(video_id, n, path, targets[row[n]], sections[row[n]])
                        for n, path in sorted(files)[::every] if n in row]
            continue
        for i in range(0, len(frames), every):
            path = on_disk.get(frames[i])
            if path is None:
                missing[video_id] += 1
                continue
            records.append(FrameRecord(video_id, frames[i], path, targets[i], sections[i]))
    if warn:
        _warn_missing(missing)
    return GalarIndex(records, sum(missing.values()), missing)


def _sort_key(name: str):
    return (0, int(name), name) if name.isdigit() else (1, 0, name)


def read_split(split_csv: str | Path, root: str | Path) -> GalarIndex:
    """Frames named by an official split CSV (column ``path``, e.g. ``003/frame_000000.PNG``), with
    targets from the video's label CSV."""
    split_csv, root = Path(split_csv), Path(root)
    wanted: dict[str, list[int]] = {}
    with open(split_csv, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or "path" not in [_norm(f) for f in reader.fieldnames]:
            raise GalarFormatError(f"{split_csv}:1: split file needs a 'path' column, got {reader.fieldnames}")
        column = next(f for f in reader.fieldnames if _norm(f) == "path")
        for row in reader:
            value = (row.get(column) or "").strip()
            if not value:
                raise GalarFormatError(f"{split_csv}:{reader.line_num}: empty 'path'")
            rel = Path(value)
            m = FRAME_FILE_RE.match(rel.name)
            if m is None or len(rel.parts) < 2:
                raise GalarFormatError(
                    f"{split_csv}:{reader.line_num}: path must look like '<video>/frame_000000.PNG', got {rel}"
                )
            wanted.setdefault(_video_key(rel.parts[-2]), []).append(int(m.group(1)))
    index = scan_galar(root, videos=list(wanted), warn=False)
    by_key = {(_video_key(r.video_id), r.frame): r for r in index.records}
    records, missing = [], {}
    for key, frames in wanted.items():
        for frame in frames:
            rec = by_key.get((key, frame))
            if rec is None:
                missing[key] = missing.get(key, 0) + 1
            else:
                records.append(rec)
    _warn_missing(missing)
    return GalarIndex(records, sum(missing.values()), missing)


def scan_challenge_test(root: str | Path) -> GalarIndex:
    """Unlabelled frames in the challenge test layout (``ukdd_navi_*/frame_0000049.png``)."""
    root = Path(root)
    folders = find_video_dirs(root)
    if not folders:
        raise FileNotFoundError(f"no frame folders (frame_XXXXXXX.png) under {root}")
    records = [
        FrameRecord(folder.name, number, path)
        for folder in folders.values()
        for number, path in list_frame_files(folder)
    ]
    return GalarIndex(records)
