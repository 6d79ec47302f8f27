"""Small files that once failed inside Gradio's image preprocessing rather than in our checks (issue 27,
item 2): image bombs whose headers claim 20000 x 20000 pixels (400 megapixels, beyond Pillow's own guard at
179) in eight formats, an empty file, text and HTML named .png, and a PNG with a bad checksum. Each is a few
hundred bytes: a real small image with its header rewritten, or a header written by hand. (No WebP bomb:
libwebp checks a header against its pixel data before Pillow reads a size.)"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image

SIDE = 20000  # 400 megapixels: past Pillow's DecompressionBombError (2 x 89.5 megapixels) and our 40


def _small(fmt: str, **kw) -> bytearray:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (120, 40, 40)).save(buf, fmt, **kw)
    return bytearray(buf.getvalue())


def png_bomb() -> bytes:
    data = _small("PNG")
    ihdr = struct.pack(">II", SIDE, SIDE) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def jpeg_bomb() -> bytes:
    data = _small("JPEG")
    sof = data.index(b"\xff\xc0")  # baseline frame header: length(2) precision(1) height(2) width(2)
    data[sof + 5:sof + 9] = struct.pack(">HH", SIDE, SIDE)
    return bytes(data)


def gif_bomb() -> bytes:
    data = _small("GIF")
    data[6:10] = struct.pack("<HH", SIDE, SIDE)  # logical screen
    desc = data.index(b"\x2c")  # image descriptor: left, top, width, height
    data[desc + 5:desc + 9] = struct.pack("<HH", SIDE, SIDE)
    return bytes(data)


def bmp_bomb() -> bytes:
    data = _small("BMP")
    data[18:26] = struct.pack("<ii", SIDE, SIDE)
    return bytes(data)


def tiff_bomb() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, "TIFF")
    img = Image.open(io.BytesIO(buf.getvalue()))
    data = bytearray(buf.getvalue())
    ifd = struct.unpack("<I", data[4:8])[0]
    for i in range(struct.unpack("<H", data[ifd:ifd + 2])[0]):
        entry = ifd + 2 + 12 * i
        tag, kind = struct.unpack("<HH", data[entry:entry + 4])
        if tag in (256, 257):  # ImageWidth, ImageLength
            data[entry + 8:entry + 12] = struct.pack("<HH", SIDE, 0) if kind == 3 else struct.pack("<I", SIDE)
    img.close()
    return bytes(data)


def pcx_bomb() -> bytes:
    data = _small("PCX")
    data[8:12] = struct.pack("<HH", SIDE - 1, SIDE - 1)  # xmax, ymax (inclusive)
    return bytes(data)


def ppm_bomb() -> bytes:
    return f"P6\n{SIDE} {SIDE}\n255\n".encode() + b"\x00" * 64


def tga_bomb() -> bytes:
    return bytes([0, 0, 2]) + b"\x00" * 9 + struct.pack("<HH", SIDE, SIDE) + bytes([24, 0]) + b"\x00" * 64


def bad_crc_png() -> bytes:
    data = bytearray(_small("PNG"))
    idat = data.index(b"IDAT")
    length = struct.unpack(">I", data[idat - 4:idat])[0]
    data[idat + 4 + length:idat + 8 + length] = b"\x00\x00\x00\x00"  # the IDAT chunk's CRC
    return bytes(data)


#: file name -> its bytes
CASES: dict[str, Callable[[], bytes]] = {
    "bomb.png": png_bomb, "bomb.jpg": jpeg_bomb, "bomb.gif": gif_bomb, "bomb.bmp": bmp_bomb,
    "bomb.tif": tiff_bomb, "bomb.pcx": pcx_bomb, "bomb.ppm": ppm_bomb, "bomb.tga": tga_bomb,
    "zero.png": lambda: b"", "text.png": lambda: b"this is not an image\n" * 4,
    "page.png": lambda: b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>",
    "badcrc.png": bad_crc_png,
}


def write_cases(folder: Path) -> dict[str, Path]:
    """Write every case into ``folder``; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, make in CASES.items():
        out[name] = folder / name
        out[name].write_bytes(make())
    return out


def strip_png(path: Path, width: int) -> Path:
    """A ``width`` x 1 PNG of one colour: about a hundred bytes, and once ``width`` x 224 x 224 pixels after the
    model's resize (issue 27, item 1)."""
    Image.new("RGB", (width, 1), (100, 100, 100)).save(path, optimize=True)
    return path


def strip_video(path: Path, width: int = 100_000) -> Path:
    """A one-frame ``width`` x 1 video (FFV1 in Matroska, a few hundred bytes; H.264 allows no such size)."""
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=5)
        stream.width, stream.height, stream.pix_fmt = width, 1, "bgr0"
        frame = av.VideoFrame.from_ndarray(np.zeros((1, width, 3), np.uint8), format="rgb24").reformat(format="bgr0")
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return path


def strip_zip(path: Path, width: int) -> Path:
    """A Galar-style zip (one video folder and its label CSV) whose one frame is a ``width`` x 1 strip."""
    import zipfile

    frame = io.BytesIO()
    Image.new("RGB", (width, 1), (100, 100, 100)).save(frame, "PNG", optimize=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("strips/Labels/1.csv", "frame,blood\n0,1\n")
        zf.writestr("strips/1/frame_000000.PNG", frame.getvalue())
    return path
