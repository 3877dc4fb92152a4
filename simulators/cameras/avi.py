"""A minimal Motion-JPEG AVI writer: the camera's own JPEG bytes, one chunk per frame, with an index.

OpenCV's MJPEG writer re-encodes every frame (and is several times slower than `cv2.imencode`); writing the
container ourselves keeps the files byte-for-byte what the camera streamed, so a frozen picture is the
same JPEG in the file as on the wire.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

_AVIF_HASINDEX = 0x10
_AVIIF_KEYFRAME = 0x10


class MjpegAviWriter:
    """Append JPEG frames to an AVI file (RIFF AVI 1.0, one MJPG video stream)."""

    def __init__(self, path: Path, width: int, height: int, fps: float) -> None:
        if width <= 0 or height <= 0 or not 0 < fps <= 1000:
            raise ValueError(f"bad AVI geometry {width}x{height} @ {fps} fps")
        self.path = Path(path)
        self.width, self.height, self.fps = width, height, fps
        self._f: BinaryIO = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._index: list[tuple[int, int]] = []  # (offset from 'movi', size)
        self._max = 0
        self._write_headers(0, 0)
        self._movi = self._f.tell() - 4  # position of the 'movi' fourcc

    def _write_headers(self, frames: int, max_size: int) -> None:
        w, h = self.width, self.height
        scale, rate = 1000, round(self.fps * 1000)
        avih = struct.pack(
            "<10I4I",
            round(1e6 / self.fps),
            max_size * round(self.fps + 1),
            0,
            _AVIF_HASINDEX,
            frames,
            0,
            1,
            max_size,
            w,
            h,
            0,
            0,
            0,
            0,
        )
        strh = struct.pack(
            "<4s4sIHHIIIIIIII4h",
            b"vids",
            b"MJPG",
            0,
            0,
            0,
            0,
            scale,
            rate,
            0,
            frames,
            max_size,
            0xFFFFFFFF,
            0,
            0,
            0,
            w,
            h,
        )
        strf = struct.pack("<IiiHH4sIiiII", 40, w, h, 1, 24, b"MJPG", w * h * 3, 0, 0, 0, 0)
        strl = _list(b"strl", _chunk(b"strh", strh) + _chunk(b"strf", strf))
        hdrl = _list(b"hdrl", _chunk(b"avih", avih) + strl)
        self._f.seek(0)
        self._f.write(b"RIFF" + struct.pack("<I", 0) + b"AVI " + hdrl + b"LIST" + struct.pack("<I", 0) + b"movi")

    def write(self, jpeg: bytes) -> None:
        """Append one frame (a complete JPEG)."""
        offset = self._f.tell() - self._movi
        self._f.write(_chunk(b"00dc", jpeg))
        self._index.append((offset, len(jpeg)))
        self._max = max(self._max, len(jpeg))

    def close(self) -> None:
        """Write the index and patch the sizes; the file is complete afterwards."""
        if self._f.closed:
            return
        end_movi = self._f.tell()
        idx = b"".join(struct.pack("<4sIII", b"00dc", _AVIIF_KEYFRAME, off, size) for off, size in self._index)
        self._f.write(_chunk(b"idx1", idx))
        end = self._f.tell()
        self._write_headers(len(self._index), self._max)
        self._f.seek(4)
        self._f.write(struct.pack("<I", end - 8))
        self._f.seek(self._movi - 4)
        self._f.write(struct.pack("<I", end_movi - self._movi))
        self._f.close()

    def __enter__(self) -> MjpegAviWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def frames(self) -> int:
        """Frames written so far."""
        return len(self._index)


def _chunk(fourcc: bytes, data: bytes) -> bytes:
    pad = b"\0" if len(data) % 2 else b""
    return fourcc + struct.pack("<I", len(data)) + data + pad


def _list(kind: bytes, data: bytes) -> bytes:
    return b"LIST" + struct.pack("<I", len(data) + 4) + kind + data
