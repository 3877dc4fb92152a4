"""Turn raw meter frames from transparent gateways into readings (see docs/frame-protocols.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from core import topics
from core.config import Meter, SiteConfig
from core.types import UNIT_FACTORS, InstantReading, Kind, ParseResult, Reading, Rejection
from ingest.frames import cjt188, dlt645
from ingest.frames.common import FrameError, cut_frames, payload_bytes
from ingest.payload import BadReading, parse_timestamp

_REGISTER_SLACK = 1.000001  # float slack when comparing a register with its rollover, as for JSON


@dataclass(frozen=True, slots=True)
class _Protocol:
    name: str
    kind: Kind
    length_at: int
    overhead: int


PROTOCOLS: dict[str, _Protocol] = {
    "dlt645": _Protocol(dlt645.PROTOCOL, Kind.ELECTRICITY, dlt645.LENGTH_AT, dlt645.OVERHEAD),
    "cjt188": _Protocol(cjt188.PROTOCOL, Kind.WATER, cjt188.LENGTH_AT, cjt188.OVERHEAD),
}


@dataclass(frozen=True, slots=True)
class _Decoded:
    readings: tuple[Reading, ...] = ()
    instants: tuple[InstantReading, ...] = ()


def parse_frames(protocol: str, topic: str, payload: bytes, site: SiteConfig, received_ms: int) -> ParseResult:
    """Decode the frames of one payload; each bad frame is refused with its reason, good ones kept."""
    gateway = topics.gateway_of(topic)
    spec = PROTOCOLS.get(protocol)
    reason = _check_envelope(protocol, topic, gateway, payload, site)
    if reason is not None or spec is None or gateway is None:
        return _refused(topic, gateway, reason or f"unsupported frame protocol {protocol[:32]!r}", payload, received_ms)
    try:
        chunks = cut_frames(payload_bytes(payload), spec.length_at, spec.overhead)
    except FrameError as exc:
        return _refused(topic, gateway, str(exc), payload, received_ms)
    readings: list[Reading] = []
    instants: list[InstantReading] = []
    rejections: list[Rejection] = []
    several = len(chunks) > 1
    for index, chunk in enumerate(chunks):
        try:
            if chunk.error is not None:
                raise FrameError(chunk.error)
            if protocol == "dlt645":
                decoded = _from_dlt645(chunk.data, gateway, site, received_ms)
            else:
                decoded = _from_cjt188(chunk.data, gateway, site, received_ms)
        except (FrameError, BadReading) as exc:
            part = chunk.data if several else payload
            rejections.append(Rejection(topic, gateway, str(exc), part, received_ms, index if several else None))
            continue
        readings.extend(decoded.readings)
        instants.extend(decoded.instants)
    return ParseResult(tuple(readings), tuple(rejections), tuple(instants))


def interval_start(received_ms: int, interval_s: int) -> int:
    """Start of the meter's reading interval (epoch-aligned) that `received_ms` falls in."""
    step = interval_s * 1000
    return received_ms // step * step


def freeze_time(received_ms: int, nth: int, site: SiteConfig) -> int:
    """Site-local midnight of the `nth` last daily freeze before `received_ms` (1: the latest midnight)."""
    day = datetime.fromtimestamp(received_ms / 1000, site.tz).date() - timedelta(days=nth - 1)
    return round(datetime.combine(day, time(0), tzinfo=site.tz).timestamp() * 1000)


def _from_dlt645(frame: bytes, gateway: str, site: SiteConfig, received_ms: int) -> _Decoded:
    reply = dlt645.decode_reply(frame)
    meter = _meter_at(reply.address, gateway, site, PROTOCOLS["dlt645"])
    if isinstance(reply, dlt645.ErrorReply):
        raise FrameError(f"meter {meter.id} answered with error 0x{reply.code:02X} ({reply.describe()})")
    spec = reply.spec
    scale = 10**spec.decimals
    if spec.is_energy:
        # The reply carries no time: the receipt time, truncated to the meter's interval, so that a
        # redelivery within the interval overwrites the same point; a daily freeze is at local midnight.
        if spec.frozen:
            ts_ms = freeze_time(received_ms, spec.frozen, site)
        else:
            ts_ms = interval_start(received_ms, meter.interval_s)
        tariffs = tuple(v / scale for v in reply.values[1:])
        reading = _reading(meter, gateway, site, ts_ms, reply.values[0] / scale, spec.unit, received_ms, tariffs)
        return _Decoded(readings=(reading,))
    raw = reply.values[0] / scale
    value = raw * meter.multiplier if spec.unit == "kW" else raw  # the multiplier is the CT x PT (power) ratio
    instant = InstantReading(
        site=site.site.id,
        building=meter.building,
        meter=meter.id,
        kind=meter.kind,
        item=meter.item,
        ts_ms=interval_start(received_ms, meter.interval_s),
        quantity=spec.quantity,
        value=value,
        raw=raw,
        unit=spec.unit,
        gateway=gateway,
    )
    return _Decoded(instants=(instant,))


def _from_cjt188(frame: bytes, gateway: str, site: SiteConfig, received_ms: int) -> _Decoded:
    reply = cjt188.decode_reply(frame)
    meter = _meter_at(reply.address, gateway, site, PROTOCOLS["cjt188"])
    if isinstance(reply, cjt188.ErrorReply):
        status = "no status" if reply.status is None else f"status 0x{reply.status.value:04X}"
        raise FrameError(f"meter {meter.id} answered with an abnormal reply ({status})")
    if reply.meter_type not in cjt188.WATER_TYPES:
        kind = cjt188.meter_type_name(reply.meter_type)
        raise FrameError(f"meter {meter.id}: meter type 0x{reply.meter_type:02X} ({kind}) is not a water meter")
    ts_ms = round(reply.clock.replace(tzinfo=site.tz).timestamp() * 1000)
    raw = reply.current / 100
    reading = _reading(meter, gateway, site, ts_ms, raw, reply.current_unit, received_ms, flags=reply.status.flags)
    return _Decoded(readings=(reading,))


def _meter_at(address: str, gateway: str, site: SiteConfig, protocol: _Protocol) -> Meter:
    """The meter of the site with this protocol address, bound to `gateway`, of the protocol's kind."""
    meter = next((m for m in site.meters if m.address == address), None)
    if meter is None:
        raise FrameError(f"unknown meter address {address}")
    owner = site.gateway_of_meter.get(meter.id)
    if owner != gateway:
        raise FrameError(f"meter {meter.id} (address {address}) is bound to gateway {owner}, not {gateway}")
    if meter.kind is not protocol.kind:
        raise FrameError(f"meter {meter.id} is a {meter.kind.value} meter, {protocol.name} frames are not for it")
    return meter


def _reading(
    meter: Meter,
    gateway: str,
    site: SiteConfig,
    ts_ms: int,
    raw: float,
    unit: str,
    received_ms: int,
    tariffs: tuple[float, ...] = (),
    flags: tuple[str, ...] | None = None,
) -> Reading:
    """A register reading with the same plausibility and clock checks as a JSON one."""
    unit_kind, factor = UNIT_FACTORS[unit]
    if unit_kind is not meter.kind:
        raise BadReading(f"unit {unit} does not fit {meter.kind.value} meter {meter.id}")
    for register in (raw, *tariffs):
        if register * factor > meter.rollover * _REGISTER_SLACK:
            raise BadReading(
                f"value {register} {unit} exceeds the register maximum {meter.rollover} of meter {meter.id}"
            )
    ts_ms = parse_timestamp(ts_ms, received_ms, site)
    scale = factor * meter.multiplier
    return Reading(
        site=site.site.id,
        building=meter.building,
        meter=meter.id,
        kind=meter.kind,
        item=meter.item,
        ts_ms=ts_ms,
        value=raw * scale,
        raw=raw,
        unit=unit,
        gateway=gateway,
        flags=flags,
        tariffs=tuple(t * scale for t in tariffs),
    )


def _check_envelope(protocol: str, topic: str, gateway: str | None, payload: bytes, site: SiteConfig) -> str | None:
    if topics.site_of(topic) != site.site.id or topics.frame_protocol_of(topic) != protocol:
        return f"not a {protocol[:32]} frames topic of site {site.site.id}"
    if gateway is None or gateway not in site.gateway_ids:
        return f"unknown gateway {gateway!r}"[:100]
    if len(payload) > site.ingest.max_payload_bytes:
        return f"payload of {len(payload)} bytes exceeds the limit of {site.ingest.max_payload_bytes}"
    return None


def _refused(topic: str, gateway: str | None, reason: str, payload: bytes, received_ms: int) -> ParseResult:
    return ParseResult((), (Rejection(topic, gateway, reason, payload, received_ms),))
