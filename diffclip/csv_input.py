"""Reading a CSV that a user supplied without letting a malformed row escape as a library error (issue 27,
item 6): Python's csv module raises ``csv.Error`` for a field over 131,072 characters, and ``int(float(x))``
raises ``OverflowError`` for ``1e400``; here both are one ``ValueError`` naming the file and line."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator
from typing import Any

#: Frame numbers at or above this are refused: a capsule video has under a million frames, and a
#: 400-digit "frame" is a broken file, not a frame.
MAX_FRAME = 10**9


class CountedLines:
    """Lines that count themselves, for a csv reader: csv's own ``line_num`` lags behind on some errors."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self.count = 0

    def __iter__(self) -> CountedLines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.count += 1
        return line


def checked_rows(reader, lines: CountedLines, name: str,
                 error: type[ValueError] = ValueError) -> Iterator[tuple[int, Any]]:
    """(line, row) for each row of a csv ``reader`` made over ``lines``; a ``csv.Error`` (a field over
    131,072 characters, a NUL byte) becomes ``error`` naming ``name`` and the line."""
    it = iter(reader)
    while True:
        try:
            row = next(it)
        except StopIteration:
            return
        except csv.Error as exc:
            raise error(f"{name}:{lines.count}: {exc}") from None
        yield reader.line_num, row


def dict_rows(text: str, name: str) -> tuple[list[str], Iterator[tuple[int, dict]]]:
    """The header of the CSV ``text`` and its rows as (line, row); a ``csv.Error`` is a ``ValueError`` that
    names ``name`` and the line."""
    lines = CountedLines(io.StringIO(text, newline=""))
    reader = csv.DictReader(lines)
    try:
        header = list(reader.fieldnames or [])
    except csv.Error as exc:
        raise ValueError(f"{name}:{lines.count}: {exc}") from None
    return header, checked_rows(reader, lines, name)


def frame_number(text: str) -> int:
    """A frame number written as an integer (``12``, ``12.0``) below :data:`MAX_FRAME`; anything else, such as
    ``1e400``, a 400-digit number, ``nan``, ``-3`` or ``2.5``, is a ``ValueError``."""
    text = text.strip()
    try:
        whole = int(text)
    except ValueError:
        value = float(text)  # ValueError for words
        if not math.isfinite(value) or not value.is_integer():
            raise ValueError(f"a frame number must be a whole number, got {text[:40]!r}") from None
        whole = int(value)
    return _non_negative(whole)


def _non_negative(frame: int) -> int:
    if frame < 0:
        raise ValueError(f"a frame number cannot be negative, got {frame}")
    if frame >= MAX_FRAME:
        raise ValueError(f"a frame number must be below {MAX_FRAME:,}, got one of {len(str(frame))} digits")
    return frame


def probability(text: str) -> float:
    """A probability in [0, 1]; anything else (``1e400``, ``nan``, ``2``) is a ``ValueError``."""
    value = float(text)
    if not 0.0 <= value <= 1.0:  # False for nan too
        raise ValueError(f"a probability must lie in [0, 1], got {text.strip()[:40]!r}")
    return value
