"""Malformed readings and payloads, each built from a real reading and labelled with its kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import orjson

from core.types import Kind

Entry = dict[str, Any]
_YEAR_MS = 365 * 86_400_000


@dataclass(frozen=True, slots=True)
class BadContext:
    """What a gateway knows when it garbles something: its meters, the site's limits, how it prints time."""

    own_meters: tuple[str, ...]
    foreign_meters: tuple[str, ...]  # meters bound to other gateways
    kinds: Mapping[str, Kind]
    format_ts: Callable[[int], str | int]
    tz: ZoneInfo
    receive_ms: int
    max_age_days: int
    max_payload_bytes: int
    max_batch: int


def _pick(rng: np.random.Generator, options: list[Any] | tuple[Any, ...]) -> Any:
    return options[int(rng.integers(len(options)))]


def bad_entry(kind: str, good: Entry, ts_ms: int, ctx: BadContext, rng: np.random.Generator) -> tuple[str, Entry, str]:
    """Garble a copy of reading object `good` (sent with time `ts_ms`); return (actual kind, entry, detail)."""
    entry = dict(good)
    meter = str(good["meter"])
    if kind == "foreign_meter" and not ctx.foreign_meters:
        kind = "unknown_meter"  # a one-gateway site has no other gateway's meter to borrow
    if kind == "wrong_type":
        field, value = _pick(
            rng,
            [
                ("value", str(good["value"])),
                ("value", True),
                ("value", None),
                ("value", {"v": good["value"]}),
                ("meter", 12345),
                ("ts", True),
                ("ts", {"t": good["ts"]}),
                ("unit", 1),
            ],
        )
        entry[field] = value
        return kind, entry, f"{field}={value!r}"
    if kind == "unknown_meter":
        entry["meter"] = _pick(rng, ["ZZ-UNKNOWN-7", f"{meter}-X"])
    elif kind == "foreign_meter":
        entry["meter"] = _pick(rng, ctx.foreign_meters)
        entry["unit"] = "kWh" if ctx.kinds[entry["meter"]] is Kind.ELECTRICITY else "m3"
    elif kind == "negative_value":
        entry["value"] = -round(abs(float(good["value"])) + 1.0, 2)
    elif kind == "nan":
        entry["value"] = _pick(rng, ["NaN", "Infinity", "-Infinity", "nan"])
    elif kind == "missing_field":
        del entry[_pick(rng, ["meter", "ts", "value", "unit"])]
    elif kind == "wrong_unit":
        wrong = ["m3", "L"] if ctx.kinds.get(meter) is Kind.ELECTRICITY else ["kWh", "Wh"]
        entry["unit"] = _pick(rng, [*wrong, "kW", "gal", "kVArh"])
    elif kind == "tag_injection":
        entry["meter"] = meter + _pick(rng, ["\nweather,x=1 v=1", ",site=evil", " x=1", '"', "=1", "\\"])
    elif kind == "no_offset":
        naive = datetime.fromtimestamp(ts_ms / 1000, ctx.tz).strftime("%Y-%m-%dT%H:%M:%S")
        entry["ts"] = _pick(rng, [naive, naive.replace("T", " ")])
    elif kind == "far_future":
        entry["ts"] = ctx.format_ts(ctx.receive_ms + 10 * _YEAR_MS)
    elif kind == "too_old":
        entry["ts"] = ctx.format_ts(ctx.receive_ms - (ctx.max_age_days + 30) * 86_400_000)
    else:
        raise ValueError(f"not a reading-level malformed kind: {kind!r}")
    return kind, entry, f"meter={entry.get('meter')!r} ts={entry.get('ts')!r} value={entry.get('value')!r}"


def bad_payload(
    kind: str, good: Entry, ts_ms: int, ctx: BadContext, rng: np.random.Generator
) -> tuple[str, bytes, str]:
    """Build a whole bad publication payload from a real reading; return (actual kind, bytes, detail)."""
    clean = dict(good)
    text = orjson.dumps(clean)
    if kind == "invalid_json":
        variants = [
            text[: len(text) // 2],
            b"not json",
            text[:-1] + b",}",
            b"\xff\xfe" + text,
            b"",
            text.replace(b'"', b"'"),
        ]
        payload = _pick(rng, variants)
        return kind, payload, f"{payload[:40]!r}"
    if kind == "bad_shape":
        payload = _pick(
            rng,
            [
                b"[]",
                b"[" + text + b"]",
                b"42",
                b'"reading"',
                b"null",
                b'{"readings": {}}',
                b'{"readings": "x"}',
                b"{}",
            ],
        )
        return kind, payload, f"{payload[:40]!r}"
    if kind == "huge_payload":
        payload = orjson.dumps({**clean, "pad": "x" * (ctx.max_payload_bytes + 1024)})
        return kind, payload, f"{len(payload)} bytes"
    if kind == "too_many_readings":
        payload = orjson.dumps({"readings": [clean] * (ctx.max_batch + 1)})
        return kind, payload, f"{ctx.max_batch + 1} readings"
    if kind == "nan":
        token = _pick(rng, [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
        payload = text.replace(b'"value":' + orjson.dumps(clean["value"]), b'"value":' + token)
        return kind, payload, token.decode()
    actual, entry, detail = bad_entry(kind, good, ts_ms, ctx, rng)
    return actual, orjson.dumps(entry), detail
