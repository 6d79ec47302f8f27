"""Reading a JSON document that a user supplied, every failure one line that names the file (issue 27, item 6:
a deeply nested file once escaped as "maximum recursion depth exceeded", without the file's name)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json(path: str | Path, name: str | None = None, kind: str = "JSON") -> Any:
    """The document in ``path``; ``name`` is how messages call the file (default: the path as given).
    Not UTF-8, invalid JSON (with line and column) and nesting deeper than Python's recursion limit are each
    a ``ValueError`` of one line; a missing file is ``FileNotFoundError``."""
    path = Path(path)
    name = str(path) if name is None else name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{name} does not exist") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name}: not UTF-8 {kind} ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name}: invalid {kind} at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        # json's decoder recurses once per nesting level; no document of ours nests more than a few deep
        raise ValueError(f"{name}: {kind} nested too deeply to read") from None
