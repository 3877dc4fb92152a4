"""CJ/T 188-2004 water meter frames: `68 T A0..A6 C L DI0 DI1 SER DATA CS 16`, no data offset."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

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

PROTOCOL = "CJ/T 188"
ADDRESS_DIGITS = 14
LENGTH_AT = 10  # offset of L in a frame
OVERHEAD = 13  # frame size = L + 13

READ = 0x01  # master: read data
READ_REPLY = 0x81  # meter: normal reply
READ_ERROR = 0xC1  # meter: abnormal reply (SER and status)

METERING = 0x901F  # current metering data
METERING_LENGTH = 3 + 19  # DI, SER, then 19 bytes of data

#: Meter types (T). Water meters are 0x10..0x19; heat, gas and electricity meters speak it too.
METER_TYPES = {0x10: "cold water", 0x11: "hot water", 0x12: "drinking water", 0x13: "reclaimed water"}
OTHER_TYPES = {0x20: "heat", 0x21: "cooling", 0x30: "gas", 0x40: "electricity"}
WATER_TYPES = range(0x10, 0x1A)
#: Unit codes of volumes (the standard lists energy and power units too).
VOLUME_UNITS = {0x2C: "m3", 0x29: "L"}
UNIT_CODES = {unit: code for code, unit in VOLUME_UNITS.items()}

DiOrder = Literal["901F", "1F90"]  # DI bytes as they appear on the wire; vendors send either
Valve = Literal["open", "closed", "abnormal", "unknown"]
_VALVES: tuple[Valve, ...] = ("open", "closed", "unknown", "abnormal")  # ST1 bits D1 D0: 00, 01, 10, 11


@dataclass(frozen=True, slots=True)
class Frame:
    """A checked CJ/T 188 frame."""

    meter_type: int
    address: str
    control: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Status:
    """The two status bytes: ST1 D0-D1 valve, D2 battery low, the rest and ST2 vendor-defined."""

    value: int  # ST1 | ST2 << 8

    @property
    def valve(self) -> Valve:
        """Valve state."""
        return _VALVES[self.value & 0x03]

    @property
    def battery_low(self) -> bool:
        """True when the meter reports a low battery."""
        return bool(self.value & 0x04)

    @property
    def flags(self) -> tuple[str, ...]:
        """What is wrong, as reading flags: () when the valve is open and the battery fine."""
        flags = ["battery_low"] if self.battery_low else []
        if self.valve != "open":
            flags.append(f"valve_{self.valve}")
        return tuple(flags)


@dataclass(frozen=True, slots=True)
class MeteringReply:
    """A reply to the 901F read: registers in units of 0.01 (of their unit), the meter's clock, status."""

    meter_type: int
    address: str
    ser: int
    current: int  # cumulative flow
    current_unit: str
    settlement: int  # cumulative flow at the last settlement day
    settlement_unit: str
    clock: datetime  # the meter's real time, naive (its local time)
    status: Status
    di_order: DiOrder = "901F"


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """An abnormal reply (control 0xC1)."""

    meter_type: int
    address: str
    ser: int | None
    status: Status | None


def encode_frame(meter_type: int, address: str, control: int, data: bytes) -> bytes:
    """Build a frame."""
    if not (0 <= meter_type <= 0xFF and 0 <= control <= 0xFF) or len(data) > 0xFF:
        raise ValueError("meter type and control must be bytes, data at most 255 bytes")
    body = bytes([START, meter_type, *address_to_bcd(address, ADDRESS_DIGITS), control, len(data)]) + data
    return body + bytes([checksum(body), 0x16])


def decode_frame(frame: bytes) -> Frame:
    """Check a cut frame (start byte, length, end byte, checksum)."""
    if len(frame) < OVERHEAD:
        raise FrameError(f"{PROTOCOL} frame of {len(frame)} bytes is shorter than {OVERHEAD}")
    check_envelope(frame, OVERHEAD + frame[LENGTH_AT], PROTOCOL)
    address = address_from_bcd(frame[2:9], f"{PROTOCOL} address")
    return Frame(frame[1], address, frame[9], frame[11:-2])


def encode_read_request(meter_type: int, address: str, ser: int = 0, *, di_order: DiOrder = "901F") -> bytes:
    """Build the master's read of the metering data: `68 T A.. 01 03 90 1F SER CS 16`."""
    return encode_frame(meter_type, address, READ, _di_bytes(di_order) + bytes([ser]))


def decode_read_request(frame: bytes) -> tuple[int, str, int, DiOrder]:
    """Return (meter type, address, SER, DI order) of a metering read request."""
    decoded = decode_frame(frame)
    if decoded.control != READ or len(decoded.data) != 3:
        raise FrameError(f"{PROTOCOL} frame with control 0x{decoded.control:02X} is not a read request")
    return decoded.meter_type, decoded.address, decoded.data[2], _di_order(decoded.data[:2], decoded.address)


def encode_reply(reply: MeteringReply) -> bytes:
    """Build a meter's reply to the metering read."""
    clock = reply.clock
    if not 2000 <= clock.year <= 2099:
        raise ValueError(f"clock {clock} outside 2000..2099")
    data = _di_bytes(reply.di_order) + bytes([reply.ser])
    data += int_to_bcd(reply.current, 4) + bytes([UNIT_CODES[reply.current_unit]])
    data += int_to_bcd(reply.settlement, 4) + bytes([UNIT_CODES[reply.settlement_unit]])
    fields = (clock.second, clock.minute, clock.hour, clock.day, clock.month, clock.year % 100, clock.year // 100)
    data += b"".join(int_to_bcd(f, 1) for f in fields)
    data += reply.status.value.to_bytes(2, "little")
    return encode_frame(reply.meter_type, reply.address, READ_REPLY, data)


def decode_reply(frame: bytes) -> MeteringReply | ErrorReply:
    """Decode a meter's reply to the metering read; raise FrameError with the reason for anything else."""
    decoded = decode_frame(frame)
    address, data = decoded.address, decoded.data
    if decoded.control == READ_ERROR:
        ser = data[0] if data else None
        status = Status(int.from_bytes(data[1:3], "little")) if len(data) >= 3 else None
        return ErrorReply(decoded.meter_type, address, ser, status)
    if decoded.control != READ_REPLY:
        raise FrameError(
            f"{PROTOCOL} frame of meter {address} with control 0x{decoded.control:02X} is not a read reply"
        )
    if len(data) != METERING_LENGTH:
        raise FrameError(f"{PROTOCOL} reply of meter {address} has {len(data)} data bytes, not {METERING_LENGTH}")
    order = _di_order(data[:2], address)
    current = bcd_to_int(data[3:7], f"{PROTOCOL} current flow")
    settlement = bcd_to_int(data[8:12], f"{PROTOCOL} settlement-day flow")
    return MeteringReply(
        meter_type=decoded.meter_type,
        address=address,
        ser=data[2],
        current=current,
        current_unit=_unit(data[7], address),
        settlement=settlement,
        settlement_unit=_unit(data[12], address),
        clock=_clock(data[13:20], address),
        status=Status(int.from_bytes(data[20:22], "little")),
        di_order=order,
    )


def meter_type_name(meter_type: int) -> str:
    """A meter type code in words."""
    return METER_TYPES.get(meter_type) or OTHER_TYPES.get(meter_type) or "unknown type"


def _di_bytes(order: DiOrder) -> bytes:
    return bytes.fromhex(order)


def _di_order(wire: bytes, address: str) -> DiOrder:
    if wire == b"\x90\x1f":
        return "901F"
    if wire == b"\x1f\x90":
        return "1F90"
    raise FrameError(f"{PROTOCOL} reply of meter {address}: unsupported data identifier {wire.hex().upper()}")


def _unit(code: int, address: str) -> str:
    unit = VOLUME_UNITS.get(code)
    if unit is None:
        raise FrameError(f"{PROTOCOL} reply of meter {address}: unit code 0x{code:02X} is not a volume unit")
    return unit


def _clock(data: bytes, address: str) -> datetime:
    """Decode the 7-byte real time, sent low byte first: ss mm hh DD MM YY YY."""
    second, minute, hour, day, month, year_low, year_high = (
        bcd_to_int(data[i : i + 1], f"{PROTOCOL} real time") for i in range(7)
    )
    try:
        return datetime(year_high * 100 + year_low, month, day, hour, minute, second)
    except ValueError as exc:
        shown = data[::-1].hex().upper()
        raise FrameError(f"{PROTOCOL} reply of meter {address}: real time {shown} is not a valid time: {exc}") from exc
