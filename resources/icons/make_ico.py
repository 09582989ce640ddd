"""Regenerate ``app.ico`` from ``app.svg`` (16, 32, 48 and 256 px) with Qt alone.

    QT_QPA_PLATFORM=offscreen python resources/icons/make_ico.py

Qt renders the SVG; Qt's ico writer encodes 16/32/48 (one image per file, so the entries
are merged here) and the 256 px entry is stored as PNG, as Windows expects (a BMP
would be 256 KB).
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QGuiApplication, QImage, QImageWriter, QPainter
from PySide6.QtSvg import QSvgRenderer

HERE = Path(__file__).resolve().parent
SIZES = (16, 32, 48, 256)


def render(renderer: QSvgRenderer, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def single_ico(image: QImage) -> tuple[bytes, bytes]:
    """(16-byte directory entry without the offset fixed up, image data) from Qt's writer."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QImageWriter(buffer, QByteArray(b"ico"))
    if not writer.write(image):
        sys.exit(f"Qt cannot write ico: {writer.errorString()}")
    raw = bytes(data.data())
    _, kind, count = struct.unpack_from("<HHH", raw, 0)
    assert kind == 1 and count == 1, (kind, count)
    entry = raw[6:22]
    size, offset = struct.unpack_from("<II", entry, 8)
    return entry[:8], raw[offset:offset + size]


def png_entry(image: QImage) -> tuple[bytes, bytes]:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        sys.exit("Qt cannot write png")
    size = image.width() % 256  # 256 is written as 0
    return struct.pack("<BBBBHH", size, size, 0, 0, 1, 32), bytes(data.data())


def main() -> int:
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(HERE / "app.svg"))
    if not renderer.isValid():
        sys.exit("cannot read app.svg")
    parts = [(png_entry if size >= 256 else single_ico)(render(renderer, size))
             for size in SIZES]
    header = struct.pack("<HHH", 0, 1, len(parts))
    offset = len(header) + 16 * len(parts)
    directory, blobs = b"", b""
    for head, blob in parts:
        directory += head + struct.pack("<II", len(blob), offset)
        blobs += blob
        offset += len(blob)
    out = HERE / "app.ico"
    out.write_bytes(header + directory + blobs)
    print(f"wrote {out} ({', '.join(map(str, SIZES))} px, {out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
