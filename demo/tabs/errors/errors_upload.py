"""An uploaded labelled set for the Errors tab: a zip of a Galar-style set (video folders of
``frame_000123.PNG``, ``Labels/<video>.csv``, masks optional), checked before anything is written and
extracted into a session's folder. The app may face the public, so the zip is untrusted: no member may
leave the folder (absolute names, ``..``), no symbolic links, and the number of members, of frames and of
uncompressed bytes are capped (demo/resources.py)."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from diffclip.frame_files import FRAME_FILE_RE

from ...resources import MAX_ZIP_BYTES, MAX_ZIP_FRAMES, MAX_ZIP_MEMBERS

LAYOUT = ("a Galar-style set: video folders of frame_000000.PNG files and Labels/<video>.csv "
          "(frame_000000_mask.png masks optional)")
_SKIPPED = ("__MACOSX",)  # what macOS's archiver adds beside the files


def _parts(name: str) -> tuple[tuple[str, ...], str | None]:
    """The path parts of a member's name, and why it could leave the folder (None: it cannot)."""
    unified = name.replace("\\", "/")  # archivers on Windows may write either separator
    parts = tuple(p for p in PurePosixPath(unified).parts if p not in ("", ".", "/"))
    if "\x00" in name:
        return parts, "a NUL character in its name"
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        return parts, "an absolute path"
    return parts, "'..' in its path" if ".." in parts else None


def _shown(parts: tuple[str, ...], name: str) -> str:
    # the member's file name only: a path in a message would be cut by demo.callbacks.without_paths
    return repr(parts[-1] if parts else name)


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def check_members(zf: zipfile.ZipFile, name: str, max_members: int = MAX_ZIP_MEMBERS,
                  max_frames: int = MAX_ZIP_FRAMES, max_bytes: int = MAX_ZIP_BYTES) -> list[tuple[zipfile.ZipInfo, tuple]]:
    """The members to extract with their path parts; a ValueError names what breaks the rules (all checked
    before anything is written)."""
    infos = zf.infolist()
    if len(infos) > max_members:
        raise ValueError(f"{name} holds {len(infos)} files; at most {max_members} are accepted")
    keep, frames, total = [], 0, 0
    for info in infos:
        parts, unsafe = _parts(info.filename)
        if unsafe:
            raise ValueError(f"{name}: the member {_shown(parts, info.filename)} has {unsafe}, so it would be "
                             "written outside the set's folder; zip the set with relative paths")
        if _is_link(info):
            raise ValueError(f"{name}: the member {_shown(parts, info.filename)} is a symbolic link; links are not "
                             "accepted")
        if not parts or parts[0] in _SKIPPED or info.is_dir():
            continue
        frames += bool(FRAME_FILE_RE.match(parts[-1]))
        total += info.file_size
        keep.append((info, parts))
    if frames > max_frames:
        raise ValueError(f"{name} holds {frames} frames; at most {max_frames} are accepted")
    if total > max_bytes:
        raise ValueError(f"{name} unpacks to {total / 1e6:.0f} MB; at most {max_bytes / 1e6:.0f} MB are accepted")
    if not frames:
        raise ValueError(f"{name} holds no frame_XXXXXX.PNG files; expected {LAYOUT}")
    return keep


def extract_set(path: str | Path, folder: str | Path, max_members: int = MAX_ZIP_MEMBERS,
                max_frames: int = MAX_ZIP_FRAMES, max_bytes: int = MAX_ZIP_BYTES) -> Path:
    """Extract the zip at ``path`` into ``folder`` after :func:`check_members`; returns the set's root
    (the folder that holds ``Labels/``). A ValueError says, in one line, what is wrong."""
    path, folder = Path(path), Path(folder)
    name = path.name
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{name} is not a zip file; upload a .zip of {LAYOUT}")
    try:
        with zipfile.ZipFile(path) as zf:
            members = check_members(zf, name, max_members, max_frames, max_bytes)
            written = 0
            for info, parts in members:
                target = folder.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    # zipfile stops at each member's declared size; the sum is capped again as written
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > max_bytes:
                            raise ValueError(f"{name} unpacks to more than {max_bytes / 1e6:.0f} MB")
                        dst.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, NotImplementedError, EOFError) as exc:
        # RuntimeError: an encrypted member; NotImplementedError: a compression zipfile cannot read
        raise ValueError(f"{name} could not be unpacked ({exc})") from None
    return set_root(folder, name)


def set_root(folder: Path, name: str = "the zip") -> Path:
    """The folder of an extracted set that holds ``Labels/`` (the zip may wrap the set in folders)."""
    root = folder
    for _ in range(8):
        if any((root / d).is_dir() for d in ("Labels", "labels")):
            return root
        subs = [p for p in root.iterdir() if p.is_dir()]
        if len(subs) != 1:
            break
        root = subs[0]
    raise ValueError(f"{name} has no Labels/ folder of label CSVs; expected {LAYOUT}")
