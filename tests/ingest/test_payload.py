from __future__ import annotations

import json
import math

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.types import Item, Kind, Reading
from ingest.payload import parse_payload
from tests.ingest.site_factory import small_site

SITE = small_site()
TOPIC_A = "vigil/t1/gateways/gw-a/readings"
NOW = 1_764_000_000_000  # 2025-11-24T16:00:00Z


def parse(doc: object, topic: str = TOPIC_A, now: int = NOW):
    payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return parse_payload(topic, payload, SITE, now)


def reading(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {"meter": "B1-E", "ts": NOW - 60_000, "value": 1234.5, "unit": "kWh"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_single_reading_is_normalised_with_multiplier() -> None:
    result = parse(reading(seq=7))
    assert result.rejections == ()
    assert result.readings == (
        Reading(
            site="t1",
            building="B1",
            meter="B1-E",
            kind=Kind.ELECTRICITY,
            item=Item.MAIN_INCOMER,
            ts_ms=NOW - 60_000,
            value=1234.5 * 80,
            raw=1234.5,
            unit="kWh",
            gateway="gw-a",
            seq=7,
        ),
    )


@pytest.mark.parametrize(
    ("unit", "value", "meter", "expected"),
    [
        ("Wh", 5000, "B1-L", 5.0),
        ("MWh", 2, "B1-L", 2000.0),
        ("L", 1500, "B1-W", 1.5),
        ("m3", 3.25, "B1-W", 3.25),
    ],
)
def test_units_are_converted_to_base_units(unit: str, value: float, meter: str, expected: float) -> None:
    (r,) = parse(reading(meter=meter, unit=unit, value=value)).readings
    assert r.value == pytest.approx(expected)
    assert r.raw == value and r.unit == unit


def test_rfc3339_with_offset_becomes_utc_ms() -> None:
    (r,) = parse(reading(ts="2025-11-24T23:45:00+08:00")).readings
    assert r.ts_ms == 1_763_999_100_000  # 15:45:00Z


def test_batch_keeps_good_readings_and_refuses_bad_ones_by_index() -> None:
    batch = {"readings": [reading(), reading(meter="nope"), reading(value=-1), reading(ts=NOW - 120_000)]}
    result = parse(batch)
    assert [r.ts_ms for r in result.readings] == [NOW - 60_000, NOW - 120_000]
    assert [(j.index, j.reason) for j in result.rejections] == [
        (1, "unknown meter 'nope'"),
        (2, "value -1 is negative: a register cannot be"),
    ]
    assert orjson.loads(result.rejections[0].payload)["meter"] == "nope"


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        (b"{not json", "invalid JSON"),
        ([1, 2], "payload must be a JSON object, got array"),
        ({"readings": "x"}, "readings must be a list, got string"),
        ({"readings": []}, "readings is empty"),
        ({"readings": [reading()] * 1001}, "batch of 1001 readings exceeds the limit of 1000"),
    ],
)
def test_whole_payload_refusals(doc: object, reason: str) -> None:
    result = parse(doc)
    assert result.readings == ()
    (rej,) = result.rejections
    assert rej.reason.startswith(reason) and rej.index is None and rej.gateway == "gw-a"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"meter": None}, "missing meter"),
        ({"meter": 5}, "meter must be a string, got 5"),
        ({"meter": "B2-E"}, "meter B2-E is bound to gateway gw-b, not gw-a"),
        ({"meter": "B1-E\nweather,x=1 v=1"}, "unknown meter"),
        ({"unit": "kW"}, "unit must be one of"),
        ({"unit": "m3"}, "unit m3 does not fit electricity meter B1-E"),
        ({"value": "12"}, "value must be a number, got '12'"),
        ({"value": True}, "value must be a number, got True"),
        ({"value": None}, "missing value"),
        ({"value": 1e7}, "value 10000000.0 kWh exceeds the register maximum 999999.99"),
        ({"ts": None}, "missing ts"),
        ({"ts": 1_764_000_000}, "ts 1764000000 looks like epoch seconds"),
        ({"ts": "2025-11-24T10:00:00"}, "ts '2025-11-24T10:00:00' has no UTC offset"),
        ({"ts": "yesterday"}, "ts 'yesterday' is not an RFC 3339 date-time"),
        ({"ts": 12.5}, "ts must be an RFC 3339 string or epoch milliseconds, got number"),
        ({"ts": NOW + 3_600_000}, "ts is 3600 s in the future (clock skew > 300 s)"),
        ({"ts": NOW - 401 * 86_400_000}, "ts is older than 400 days"),
        ({"seq": -1}, "seq must be a non-negative integer"),
        ({"seq": "1"}, "seq must be a non-negative integer"),
    ],
)
def test_reading_refusals_name_the_reason(overrides: dict[str, object], reason: str) -> None:
    result = parse(reading(**overrides))
    assert result.readings == ()
    (rej,) = result.rejections
    assert rej.reason.startswith(reason), rej.reason


def test_wrong_topics_and_gateways_are_refused() -> None:
    assert (
        parse(reading(), topic="vigil/other/gateways/gw-a/readings")
        .rejections[0]
        .reason.startswith("not a readings topic")
    )
    assert parse(reading(), topic="vigil/t1/gateways/gw-x/readings").rejections[0].reason == ("unknown gateway 'gw-x'")


def test_oversized_payload_is_refused_without_parsing() -> None:
    payload = b'{"readings": [' + b" " * (SITE.ingest.max_payload_bytes + 1) + b"]}"
    (rej,) = parse(payload).rejections
    assert "exceeds the limit" in rej.reason and rej.payload == payload


def test_nan_and_infinity_are_refused() -> None:
    for text in (
        b'{"meter":"B1-E","ts":1764000000000,"value":NaN,"unit":"kWh"}',
        b'{"meter":"B1-E","ts":1764000000000,"value":1e999,"unit":"kWh"}',
    ):
        result = parse(text)
        assert result.readings == () and len(result.rejections) == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(
    st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.fixed_dictionaries(
        {
            "meter": st.sampled_from(["B1-E", "B1-W", "B2-E", "x"]) | json_values,
            "ts": json_values,
            "value": json_values,
            "unit": st.sampled_from(["kWh", "L", "m3"]) | json_values,
        }
    ).map(lambda v: json.dumps(v).encode())
)
def test_any_payload_is_either_accepted_or_refused_never_raises(payload: bytes) -> None:
    result = parse(payload)
    for r in result.readings:
        assert math.isfinite(r.value) and r.value >= 0 and r.meter in SITE.meter_by_id
    assert result.readings or result.rejections


@settings(max_examples=300, deadline=None)
@given(
    meter=st.sampled_from(["B1-E", "B1-L"]),
    value=st.floats(min_value=0, max_value=999_999.99),
    ts=st.integers(min_value=NOW - 399 * 86_400_000, max_value=NOW + 299_000),
    seq=st.none() | st.integers(min_value=0, max_value=2**63 - 1),
)
def test_valid_readings_round_trip(meter: str, value: float, ts: int, seq: int | None) -> None:
    doc = {"meter": meter, "ts": ts, "value": value, "unit": "kWh"}
    if seq is not None:
        doc["seq"] = seq
    (r,) = parse(doc).readings
    multiplier = SITE.meter_by_id[meter].multiplier
    assert (r.ts_ms, r.raw, r.seq, r.value) == (ts, value, seq, value * multiplier)
