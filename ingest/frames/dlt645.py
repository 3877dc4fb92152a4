"""DL/T 645-2007 electricity meter frames: `68 A0..A5 68 C L DATA CS 16`, data bytes +0x33 on the wire."""

from __future__ import annotations

from dataclasses import dataclass

from ingest.frames.common import (
    START,
    FrameError,
    address_from_bcd,
    address_to_bcd,
    bcd_to_int,
    check_envelope,
    checksum,
    int_to_bcd,
)

PROTOCOL = "DL/T 645"
ADDRESS_DIGITS = 12
LENGTH_AT = 9  # offset of L in a frame
OVERHEAD = 12  # frame size = L + 12
OFFSET = 0x33  # added to every data byte on the wire

READ = 0x11  # master: read data
READ_REPLY = 0x91  # meter: normal reply
READ_REPLY_MORE = 0xB1  # meter: normal reply, follow-on frames to come
READ_ERROR = 0xD1  # meter: error reply with one error byte

FORWARD_ACTIVE_TOTAL = 0x00010000
FORWARD_ACTIVE_BLOCK = 0x0001FF00
VOLTAGE_A = 0x02010100
CURRENT_A = 0x02020100
ACTIVE_POWER_TOTAL = 0x02030000
DAILY_FROZEN_FORWARD = 0x05060100  # | N: the N-th last daily freeze (N = 1..62), total then tariffs
MAX_FROZEN = 62

_ERROR_BITS = (
    "other error",
    "no requested data",
    "password error or unauthorised",
    "baud rate cannot be changed",
    "annual time zones exceeded",
    "daily time slots exceeded",
    "tariffs exceeded",
)


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """How the data of one identifier is laid out: `size` BCD bytes per value, `decimals` after the point."""

    quantity: str
    unit: str
    size: int
    decimals: int
    signed: bool = False
    block: bool = False  # total then any number of tariffs, each `size` bytes
    frozen: int = 0  # N of a daily-freeze identifier (the N-th last freeze), 0 for a current value

    @property
    def is_energy(self) -> bool:
        """True for cumulative energy registers (readings), False for instantaneous quantities."""
        return self.unit == "kWh"


ITEMS: dict[int, ItemSpec] = {
    FORWARD_ACTIVE_TOTAL: ItemSpec("forward_active_energy", "kWh", 4, 2),
    FORWARD_ACTIVE_BLOCK: ItemSpec("forward_active_energy", "kWh", 4, 2, block=True),
    VOLTAGE_A: ItemSpec("voltage_a", "V", 2, 1),
    CURRENT_A: ItemSpec("current_a", "A", 3, 3, signed=True),
    ACTIVE_POWER_TOTAL: ItemSpec("active_power", "kW", 3, 4, signed=True),
}


def item_spec(di: int) -> ItemSpec | None:
    """Return the layout of data identifier `di` (DI3 DI2 DI1 DI0 as a number), or None if unsupported."""
    if di & 0xFFFFFF00 == DAILY_FROZEN_FORWARD and 1 <= di & 0xFF <= MAX_FROZEN:
        return ItemSpec("forward_active_energy", "kWh", 4, 2, block=True, frozen=di & 0xFF)
    return ITEMS.get(di)


@dataclass(frozen=True, slots=True)
class Frame:
    """A checked DL/T 645 frame: address, control code and the data field with the 0x33 offset removed."""

    address: str
    control: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    """A normal read reply: the identifier and its values in units of 10**-decimals (block: total first)."""

    address: str
    di: int
    values: tuple[int, ...]
    more: bool = False  # the meter announced follow-on frames (control 0xB1)

    @property
    def spec(self) -> ItemSpec:
        """Layout of the identifier."""
        spec = item_spec(self.di)
        assert spec is not None
        return spec


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """An error reply (control 0xD1): the meter could not answer."""

    address: str
    code: int

    def describe(self) -> str:
        """The error bits in words."""
        names = [name for bit, name in enumerate(_ERROR_BITS) if self.code >> bit & 1]
        return ", ".join(names) or "no error bit set"


def encode_frame(address: str, control: int, data: bytes) -> bytes:
    """Build a frame; `data` is given without the 0x33 offset."""
    if not 0 <= control <= 0xFF or len(data) > 0xFF:
        raise ValueError("control must be a byte and data at most 255 bytes")
    body = bytes([START, *address_to_bcd(address, ADDRESS_DIGITS), START, control, len(data)])
    body += bytes((b + OFFSET) & 0xFF for b in data)
    return body + bytes([checksum(body), 0x16])


def decode_frame(frame: bytes) -> Frame:
    """Check a cut frame (start bytes, length, end byte, checksum) and remove the data offset."""
    if len(frame) < OVERHEAD:
        raise FrameError(f"{PROTOCOL} frame of {len(frame)} bytes is shorter than {OVERHEAD}")
    check_envelope(frame, OVERHEAD + frame[LENGTH_AT], PROTOCOL)
    if frame[7] != START:
        raise FrameError(f"{PROTOCOL} frame has no second 0x68 after the address")
    address = address_from_bcd(frame[1:7], f"{PROTOCOL} address")
    data = bytes((b - OFFSET) & 0xFF for b in frame[10:-2])
    return Frame(address, frame[8], data)


def encode_read_request(address: str, di: int) -> bytes:
    """Build the master's read request for identifier `di`: `68 A.. 68 11 04 DI+33 CS 16`."""
    return encode_frame(address, READ, _di_bytes(di))


def decode_read_request(frame: bytes) -> tuple[str, int]:
    """Return (address, identifier) of a read request."""
    decoded = decode_frame(frame)
    if decoded.control != READ or len(decoded.data) != 4:
        raise FrameError(f"{PROTOCOL} frame with control 0x{decoded.control:02X} is not a read request")
    return decoded.address, int.from_bytes(decoded.data, "little")


def encode_reply(address: str, di: int, values: tuple[int, ...], *, more: bool = False) -> bytes:
    """Build a meter's normal reply carrying `values` (units of 10**-decimals) for identifier `di`."""
    spec = item_spec(di)
    if spec is None:
        raise ValueError(f"unsupported data identifier {di:08X}")
    if not values or (len(values) > 1 and not spec.block):
        raise ValueError(f"identifier {di:08X} takes {'one or more values' if spec.block else 'one value'}")
    data = _di_bytes(di) + b"".join(int_to_bcd(v, spec.size, signed=spec.signed) for v in values)
    return encode_frame(address, READ_REPLY_MORE if more else READ_REPLY, data)


def encode_error_reply(address: str, code: int) -> bytes:
    """Build a meter's error reply with error byte `code`."""
    return encode_frame(address, READ_ERROR, bytes([code]))


def decode_reply(frame: bytes) -> Reply | ErrorReply:
    """Decode a meter's reply to a read request; raise FrameError with the reason for anything else."""
    decoded = decode_frame(frame)
    control, data, address = decoded.control, decoded.data, decoded.address
    if control == READ_ERROR:
        if len(data) != 1:
            raise FrameError(f"{PROTOCOL} error reply of meter {address} has {len(data)} data bytes, not 1")
        return ErrorReply(address, data[0])
    if control not in (READ_REPLY, READ_REPLY_MORE):
        raise FrameError(f"{PROTOCOL} frame of meter {address} with control 0x{control:02X} is not a read reply")
    if len(data) < 4:
        raise FrameError(f"{PROTOCOL} reply of meter {address} has no data identifier")
    di = int.from_bytes(data[:4], "little")
    spec = item_spec(di)
    if spec is None:
        raise FrameError(f"{PROTOCOL} reply of meter {address}: unsupported data identifier {di:08X}")
    body = data[4:]
    if not body or len(body) % spec.size or (not spec.block and len(body) != spec.size):
        want = f"a multiple of {spec.size}" if spec.block else str(spec.size)
        raise FrameError(f"{PROTOCOL} reply of meter {address}: {di:08X} has {len(body)} data bytes, not {want}")
    values = tuple(
        bcd_to_int(body[i : i + spec.size], f"{PROTOCOL} {di:08X} value", signed=spec.signed)
        for i in range(0, len(body), spec.size)
    )
    return Reply(address, di, values, more=control == READ_REPLY_MORE)


def _di_bytes(di: int) -> bytes:
    if not 0 <= di <= 0xFFFFFFFF:
        raise ValueError(f"data identifier {di} is not 4 bytes")
    return di.to_bytes(4, "little")  # DI0 first
