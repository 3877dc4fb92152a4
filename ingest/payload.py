"""Parse and validate gateway JSON payloads into normalised readings (see docs/gateway-protocol.md)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import orjson

from core import topics
from core.config import Meter, SiteConfig
from core.types import UNIT_FACTORS, ParseResult, Reading, Rejection

_DAY_MS = 86_400_000
_SECONDS_LIKE_MS = 100_000_000_000  # epoch ms below this is before 1973: almost surely seconds
_MAX_SEQ = 2**63 - 1
_REGISTER_SLACK = 1.000001  # float slack when comparing a register with its rollover


class BadReading(ValueError):
    """One reading failed validation; the message is the reason kept in the dead-letter store."""


def parse_payload(topic: str, payload: bytes, site: SiteConfig, received_ms: int) -> ParseResult:
    """Validate one readings payload; bad readings are refused one by one, good ones kept."""
    gateway = topics.gateway_of(topic)
    whole_reason = _check_envelope(topic, gateway, payload, site)
    if whole_reason is not None:
        return _refused(topic, gateway, whole_reason, payload, received_ms)
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        return _refused(topic, gateway, f"invalid JSON: {exc}", payload, received_ms)
    items, reason = _reading_items(doc, site.ingest.max_batch)
    if reason is not None:
        return _refused(topic, gateway, reason, payload, received_ms)
    assert gateway is not None
    readings: list[Reading] = []
    rejections: list[Rejection] = []
    batched = isinstance(doc, dict) and "readings" in doc
    for index, item in enumerate(items):
        try:
            readings.append(parse_reading(item, gateway, site, received_ms))
        except BadReading as exc:
            rejections.append(
                Rejection(
                    topic=topic,
                    gateway=gateway,
                    reason=str(exc),
                    payload=_dump(item),
                    received_ms=received_ms,
                    index=index if batched else None,
                )
            )
    return ParseResult(tuple(readings), tuple(rejections))


def parse_reading(item: Any, gateway: str, site: SiteConfig, now_ms: int) -> Reading:
    """Validate and normalise one reading object sent by `gateway`; raise BadReading with the reason."""
    if not isinstance(item, dict):
        raise BadReading(f"reading must be an object, got {_type_name(item)}")
    meter = _meter(item, gateway, site)
    raw, unit, factor = _value_and_unit(item, meter)
    ts_ms = parse_timestamp(item.get("ts"), now_ms, site)
    seq = item.get("seq")
    if seq is not None and (type(seq) is not int or not 0 <= seq <= _MAX_SEQ):
        raise BadReading(f"seq must be a non-negative integer, got {_short(seq)}")
    return Reading(
        site=site.site.id,
        building=meter.building,
        meter=meter.id,
        kind=meter.kind,
        item=meter.item,
        ts_ms=ts_ms,
        value=raw * factor * meter.multiplier,
        raw=float(raw),
        unit=unit,
        gateway=gateway,
        seq=seq,
    )


def parse_timestamp(ts: Any, now_ms: int, site: SiteConfig) -> int:
    """Return `ts` (RFC 3339 with offset, or epoch ms) as UTC epoch ms, within the site's skew limits."""
    if type(ts) is int:
        if 0 <= ts < _SECONDS_LIKE_MS:
            raise BadReading(f"ts {ts} looks like epoch seconds; epoch milliseconds expected")
        ts_ms = ts
    elif isinstance(ts, str):
        ts_ms = _parse_rfc3339(ts)
    elif ts is None:
        raise BadReading("missing ts")
    else:
        raise BadReading(f"ts must be an RFC 3339 string or epoch milliseconds, got {_type_name(ts)}")
    limits = site.ingest
    if ts_ms > now_ms + limits.max_future_skew_s * 1000:
        ahead = (ts_ms - now_ms) / 1000
        raise BadReading(f"ts is {ahead:.0f} s in the future (clock skew > {limits.max_future_skew_s} s)")
    if ts_ms < now_ms - limits.max_age_days * _DAY_MS:
        raise BadReading(f"ts is older than {limits.max_age_days} days")
    return ts_ms


def _parse_rfc3339(text: str) -> int:
    if len(text) > 40 or "T" not in text.upper():
        raise BadReading(f"ts {_short(text)} is not an RFC 3339 date-time")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadReading(f"ts {_short(text)} is not an RFC 3339 date-time") from exc
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BadReading(f"ts {_short(text)} has no UTC offset")
    return round(moment.timestamp() * 1000)


def _meter(item: dict[str, Any], gateway: str, site: SiteConfig) -> Meter:
    meter_id = item.get("meter")
    if not isinstance(meter_id, str):
        raise BadReading("missing meter" if meter_id is None else f"meter must be a string, got {_short(meter_id)}")
    meter = site.meter_by_id.get(meter_id)
    if meter is None:
        raise BadReading(f"unknown meter {_short(meter_id)}")
    owner = site.gateway_of_meter.get(meter_id)
    if owner != gateway:
        raise BadReading(f"meter {meter_id} is bound to gateway {owner}, not {gateway}")
    return meter


def _value_and_unit(item: dict[str, Any], meter: Meter) -> tuple[float, str, float]:
    unit = item.get("unit")
    if not isinstance(unit, str) or unit not in UNIT_FACTORS:
        raise BadReading(f"unit must be one of {', '.join(UNIT_FACTORS)}, got {_short(unit)}")
    unit_kind, factor = UNIT_FACTORS[unit]
    if unit_kind is not meter.kind:
        raise BadReading(f"unit {unit} does not fit {meter.kind.value} meter {meter.id}")
    value = item.get("value")
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise BadReading("missing value" if value is None else f"value must be a number, got {_short(value)}")
    raw = float(value)
    if not math.isfinite(raw):
        raise BadReading(f"value {value} is not finite")
    if raw < 0:
        raise BadReading(f"value {value} is negative: a register cannot be")
    if raw * factor > meter.rollover * _REGISTER_SLACK:
        raise BadReading(f"value {value} {unit} exceeds the register maximum {meter.rollover} of meter {meter.id}")
    return raw, unit, factor


def _check_envelope(topic: str, gateway: str | None, payload: bytes, site: SiteConfig) -> str | None:
    if topics.site_of(topic) != site.site.id or not topic.endswith("/readings"):
        return f"not a readings topic of site {site.site.id}"
    if gateway is None or gateway not in site.gateway_ids:
        return f"unknown gateway {_short(gateway)}"
    if len(payload) > site.ingest.max_payload_bytes:
        return f"payload of {len(payload)} bytes exceeds the limit of {site.ingest.max_payload_bytes}"
    return None


def _reading_items(doc: Any, max_batch: int) -> tuple[list[Any], str | None]:
    if not isinstance(doc, dict):
        return [], f"payload must be a JSON object, got {_type_name(doc)}"
    if "readings" not in doc:
        return [doc], None
    items = doc["readings"]
    if not isinstance(items, list):
        return [], f"readings must be a list, got {_type_name(items)}"
    if not items:
        return [], "readings is empty"
    if len(items) > max_batch:
        return [], f"batch of {len(items)} readings exceeds the limit of {max_batch}"
    return items, None


def _refused(topic: str, gateway: str | None, reason: str, payload: bytes, received_ms: int) -> ParseResult:
    return ParseResult((), (Rejection(topic, gateway, reason, payload, received_ms),))


def _dump(item: Any) -> bytes:
    try:
        return orjson.dumps(item)
    except TypeError:
        return repr(item).encode()


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
