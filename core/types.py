"""Domain types that flow between Vigil's stages."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """What a meter measures."""

    ELECTRICITY = "electricity"
    WATER = "water"


class Item(StrEnum):
    """Energy sub-item code after the public-building sub-metering classification."""

    LIGHTING_SOCKETS = "01A"
    HVAC = "01B"
    POWER = "01C"
    SPECIAL = "01D"
    MAIN_INCOMER = "01E"
    WATER = "02"


#: Base unit in which every normalised register value is stored, per kind.
BASE_UNIT: dict[Kind, str] = {Kind.ELECTRICITY: "kWh", Kind.WATER: "m3"}

#: Factor from each accepted unit to its kind's base unit.
UNIT_FACTORS: dict[str, tuple[Kind, float]] = {
    "Wh": (Kind.ELECTRICITY, 0.001),
    "kWh": (Kind.ELECTRICITY, 1.0),
    "MWh": (Kind.ELECTRICITY, 1000.0),
    "L": (Kind.WATER, 0.001),
    "m3": (Kind.WATER, 1.0),
}


@dataclass(frozen=True, slots=True)
class Reading:
    """One validated, normalised cumulative register reading of one meter."""

    site: str
    building: str
    meter: str
    kind: Kind
    item: Item
    ts_ms: int  # the reading's own time, UTC epoch milliseconds
    value: float  # register in the kind's base unit (kWh or m3), multiplier applied
    raw: float  # register exactly as the gateway sent it
    unit: str  # unit as the gateway sent it
    gateway: str
    seq: int | None = None
    # Status the meter reported with the reading (e.g. "battery_low", "valve_closed"); () when it reported
    # a status with nothing wrong, None when the source carries no status at all (JSON readings).
    flags: tuple[str, ...] | None = None
    tariffs: tuple[float, ...] = ()  # tariff registers T1..Tn, base unit, multiplier applied (DL/T 645 blocks)


@dataclass(frozen=True, slots=True)
class InstantReading:
    """One instantaneous quantity of a meter (voltage, current, power), as polled from the meter."""

    site: str
    building: str
    meter: str
    kind: Kind
    item: Item
    ts_ms: int  # start of the meter's reading interval in which it was received, UTC epoch ms
    quantity: str  # e.g. "voltage_a" (V), "current_a" (A), "active_power" (kW)
    value: float  # in the quantity's unit; power with the meter's multiplier applied
    raw: float  # exactly as the meter sent it
    unit: str
    gateway: str


@dataclass(frozen=True, slots=True)
class Rejection:
    """A payload, or one reading of it, that Vigil refused, and why."""

    topic: str
    gateway: str | None
    reason: str
    payload: bytes
    received_ms: int
    index: int | None = None  # position of the reading in a batch; None for the whole payload


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message as received from the broker, before parsing."""

    topic: str
    payload: bytes
    received_ms: int
    mid: int = 0
    qos: int = 1


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What one payload yielded: good readings and refused parts."""

    readings: tuple[Reading, ...]
    rejections: tuple[Rejection, ...]
    instants: tuple[InstantReading, ...] = ()


class CameraState(StrEnum):
    """Health of one camera's picture, as the video analyzer judges it."""

    OK = "ok"
    VIDEO_LOSS = "video_loss"  # no frames, connection lost, black/uniform picture, "no video" screen
    FROZEN = "frozen"
    OCCLUDED = "occluded"
    DEFOCUSED = "defocused"
    MOVED = "moved"


@dataclass(frozen=True, slots=True)
class CameraHealth:
    """One camera's health at a moment (published retained at `vigil/{site}/cameras/{camera}/health`)."""

    camera: str
    state: CameraState
    since_ms: int  # UTC epoch ms of the last state change
    features: tuple[tuple[str, float], ...] = ()  # measured features behind the judgement
    snapshot: str | None = None  # reference to the JPEG evidence of the last change


@dataclass(frozen=True, slots=True)
class Stretch:
    """A stretch of the perimeter between two distances along it (metres), with its end coordinates."""

    start_m: float
    end_m: float
    start_xy: tuple[float, float]
    end_xy: tuple[float, float]
    zones: tuple[str, ...] = ()  # ids of the zones it touches
    cameras: tuple[str, ...] = ()  # blind spot: cameras that would cover it if healthy; single: the one camera

    @property
    def length_m(self) -> float:
        """Length along the perimeter."""
        return self.end_m - self.start_m


@dataclass(frozen=True, slots=True)
class CoverageReport:
    """Which parts of the perimeter are watched by healthy cameras right now."""

    computed_ms: int
    perimeter_length_m: float
    healthy: tuple[str, ...]
    unhealthy: tuple[str, ...]
    blind: tuple[Stretch, ...]  # watched by no healthy camera
    single: tuple[Stretch, ...]  # watched by exactly one healthy camera
