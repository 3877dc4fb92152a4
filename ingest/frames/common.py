"""What the meter protocols share: hex or raw payloads, FE preambles, padding, BCD and the sum checksum."""

from __future__ import annotations

from dataclasses import dataclass

PREAMBLE = 0xFE  # wake-up bytes a meter or gateway may send before a frame
START = 0x68
END = 0x16
#: Bytes a gateway may leave after the last frame (fixed-size buffers, FF fill seen in the field).
PADDING = frozenset({0x00, PREAMBLE, 0xFF})
_HEX_TEXT = frozenset(b"0123456789abcdefABCDEF \t\r\n")
_WHITESPACE = frozenset(b" \t\r\n")


class FrameError(ValueError):
    """A frame Vigil cannot accept; the message is the reason kept in the dead-letter store."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One frame cut out of a payload, or, with an error, the unusable rest of the payload."""

    data: bytes
    error: str | None = None


def payload_bytes(payload: bytes) -> bytes:
    """Return the bytes of a payload sent raw, or as a hex string with or without whitespace."""
    if not payload.strip():
        raise FrameError("empty payload")
    if not set(payload) <= _HEX_TEXT:
        return payload
    digits = bytes(b for b in payload if b not in _WHITESPACE)
    if len(digits) % 2:
        raise FrameError(f"hex payload has an odd number of digits ({len(digits)})")
    return bytes.fromhex(digits.decode("ascii"))


def cut_frames(data: bytes, length_at: int, overhead: int) -> list[Chunk]:
    """Cut `data` into frames; the length byte at offset `length_at` plus `overhead` is a frame's size.

    FE preamble bytes before the first frame, and padding (which includes FE) after every frame, are skipped.
    Anything else that is not a frame ends the cut with an error chunk holding the rest: past it, frame
    boundaries are unknown.
    """
    chunks: list[Chunk] = []
    pos, size = 0, len(data)
    while True:
        skip = PADDING if chunks else {PREAMBLE}
        while pos < size and data[pos] in skip:
            pos += 1
        rest = data[pos:]
        if not rest:
            break
        if rest[0] != START:
            what = "after the last frame" if chunks else "before the frame start 0x68"
            chunks.append(Chunk(rest, f"unexpected byte 0x{rest[0]:02X} at offset {pos} {what}"))
            break
        if len(rest) <= length_at:
            chunks.append(Chunk(rest, f"truncated frame at offset {pos}: {len(rest)} bytes"))
            break
        frame_size = overhead + rest[length_at]
        if len(rest) < frame_size:
            chunks.append(
                Chunk(rest, f"truncated frame at offset {pos}: length byte gives {frame_size} bytes, {len(rest)} left")
            )
            break
        chunks.append(Chunk(rest[:frame_size]))
        pos += frame_size
    if not chunks:
        raise FrameError("no frame in payload: only preamble bytes")
    return chunks


def checksum(data: bytes) -> int:
    """Sum of the bytes modulo 256 (from the first 0x68 to the end of the data field)."""
    return sum(data) & 0xFF


def check_envelope(frame: bytes, size: int, protocol: str) -> None:
    """Check the start byte, the size, the end byte and the checksum of a cut frame."""
    if len(frame) != size:
        raise FrameError(f"{protocol} frame of {len(frame)} bytes, its length byte gives {size}")
    if frame[0] != START:
        raise FrameError(f"{protocol} frame does not start with 0x68")
    if frame[-1] != END:
        raise FrameError(f"{protocol} frame ends with 0x{frame[-1]:02X}, not 0x16")
    expected = checksum(frame[:-2])
    if frame[-2] != expected:
        raise FrameError(f"{protocol} checksum 0x{frame[-2]:02X} does not match the computed 0x{expected:02X}")


def bcd_to_int(data: bytes, what: str, *, signed: bool = False) -> int:
    """Decode packed BCD sent low byte first; with `signed`, the top bit of the last byte is the sign."""
    value = 0
    negative = False
    for i, byte in enumerate(reversed(data)):
        if signed and i == 0:
            negative, byte = bool(byte & 0x80), byte & 0x7F
        high, low = byte >> 4, byte & 0x0F
        if high > 9 or low > 9:
            raise FrameError(f"{what}: byte 0x{byte:02X} is not BCD")
        value = value * 100 + high * 10 + low
    return -value if negative else value


def int_to_bcd(value: int, size: int, *, signed: bool = False) -> bytes:
    """Encode an integer as `size` bytes of packed BCD, low byte first; raise ValueError if it does not fit."""
    magnitude = abs(value)
    limit = 8 * 10 ** (2 * size - 1) if signed else 10 ** (2 * size)
    if (value < 0 and not signed) or magnitude >= limit:
        raise ValueError(f"{value} does not fit {size} {'signed ' if signed else ''}BCD bytes")
    out = bytearray()
    for _ in range(size):
        magnitude, pair = divmod(magnitude, 100)
        out.append((pair // 10) << 4 | pair % 10)
    if value < 0:
        out[-1] |= 0x80
    return bytes(out)


def address_from_bcd(data: bytes, what: str = "address") -> str:
    """Decode a meter address sent as BCD low byte first, into its printed digits."""
    for byte in data:
        if byte >> 4 > 9 or byte & 0x0F > 9:
            raise FrameError(f"{what} {data[::-1].hex().upper()} is not BCD")
    return data[::-1].hex()


def address_to_bcd(address: str, digits: int) -> bytes:
    """Encode a printed meter address of `digits` digits as BCD, low byte first."""
    if len(address) != digits or not address.isascii() or not address.isdigit():
        raise ValueError(f"address must be {digits} digits, got {address!r}")
    return bytes.fromhex(address)[::-1]
