"""Serve a CJK font to the wall screen: the first face of a TrueType collection, as a plain font file.

Browsers load web fonts through a sanitizer (OTS in Chromium) that refuses Debian's `wqy-zenhei.ttc` as is
(its tables are not 4-byte aligned) and collections in general; the same tables copied into a single-face
SFNT with every table aligned are accepted. Pure byte shuffling, no font library.
"""

from __future__ import annotations

import struct
from pathlib import Path

_TTC = b"ttcf"
_SFNT_VERSIONS = (b"\x00\x01\x00\x00", b"OTTO", b"true")


def first_face(data: bytes) -> bytes:
    """Return the first font of a collection as a single SFNT (a single font is returned re-aligned too)."""
    if data[:4] == _TTC:
        (num_fonts,) = struct.unpack_from(">I", data, 8)
        if num_fonts < 1:
            raise ValueError("font collection holds no font")
        (offset,) = struct.unpack_from(">I", data, 12)
    else:
        offset = 0
    version = data[offset : offset + 4]
    if version not in _SFNT_VERSIONS:
        raise ValueError(f"not a TrueType/OpenType font (version {version!r})")
    (num_tables,) = struct.unpack_from(">H", data, offset + 4)
    records = [struct.unpack_from(">4sIII", data, offset + 12 + 16 * i) for i in range(num_tables)]
    header_len = 12 + 16 * num_tables
    directory = bytearray(data[offset : offset + 12])
    body = bytearray()
    for tag, checksum, table_offset, length in sorted(records):
        table = data[table_offset : table_offset + length]
        if len(table) != length:
            raise ValueError(f"font table {tag!r} runs past the end of the file")
        directory += struct.pack(">4sIII", tag, checksum, header_len + len(body), length)
        body += table + b"\0" * (-length % 4)
    return bytes(directory + body)


def load_face(path: Path) -> bytes:
    """Read a font file and return its first face as a browser-loadable SFNT."""
    return first_face(path.read_bytes())
