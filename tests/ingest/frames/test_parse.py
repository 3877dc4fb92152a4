"""parse_frames: frames to readings of the right meters, at the right times, and bad frames refused with reasons."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.types import InstantReading, Item, Kind, Reading
from ingest.dispatch import parse_message
from ingest.frames import cjt188, dlt645, parse_frames
from tests.ingest.frames.site import frames_site

SITE = frames_site("t1")
T645 = "vigil/t1/gateways/gw-645/frames/dlt645"
T188 = "vigil/t1/gateways/gw-188/frames/cjt188"
NOW = 1_795_565_730_000  # 2026-11-25T08:15:30+08:00
SLOT = 1_795_565_700_000  # 08:15:00, start of the 900 s interval
VECTOR = bytes.fromhex("68 01 00 00 00 00 00 68 91 08 33 33 34 33 AB 89 67 45 17 16")


def dlt(payload: bytes, now: int = NOW, topic: str = T645):  # type: ignore[no-untyped-def]
    return parse_frames("dlt645", topic, payload, SITE, now)


def cjt(payload: bytes, now: int = NOW, topic: str = T188):  # type: ignore[no-untyped-def]
    return parse_frames("cjt188", topic, payload, SITE, now)


def register(meter: str, ts: int, raw: float, value: float, **more: object) -> Reading:
    m = SITE.meter_by_id[meter]
    unit = "kWh" if m.kind is Kind.ELECTRICITY else more.pop("unit", "m3")
    gateway = SITE.gateway_of_meter[meter]
    return Reading("t1", m.building, meter, m.kind, m.item, ts, value, raw, str(unit), gateway, **more)  # type: ignore[arg-type]


def test_issue_vector_is_a_reading_of_the_addressed_meter() -> None:
    result = dlt(VECTOR)
    assert result.rejections == () and result.instants == ()
    assert result.readings == (register("E1", SLOT, 123456.78, 123456.78),)


@pytest.mark.parametrize(
    "payload",
    [
        b"\xfe\xfe\xfe\xfe" + VECTOR + b"\xff\xff\xff",
        VECTOR.hex().encode(),
        ("FE FE " + VECTOR.hex(" ").upper() + " FF FF").encode(),
    ],
)
def test_preamble_padding_and_hex_make_no_difference(payload: bytes) -> None:
    assert dlt(payload) == dlt(VECTOR)


def test_timeless_replies_are_stamped_with_the_start_of_the_receipt_interval() -> None:
    assert dlt(VECTOR, SLOT).readings[0].ts_ms == SLOT
    assert dlt(VECTOR, SLOT + 899_999).readings[0].ts_ms == SLOT  # a redelivery within the interval overwrites
    assert dlt(VECTOR, SLOT + 900_000).readings[0].ts_ms == SLOT + 900_000


def test_multiplier_and_tariffs() -> None:
    frame = dlt645.encode_reply("202300001001", dlt645.FORWARD_ACTIVE_BLOCK, (100000, 10000, 35000, 30000, 25000))
    (reading,) = dlt(frame).readings
    assert reading == register("EV1", SLOT, 1000.0, 20000.0, tariffs=(2000.0, 7000.0, 6000.0, 5000.0))
    assert reading.item is Item.SPECIAL


def test_instantaneous_values() -> None:
    frames = [
        dlt645.encode_reply("202300001001", dlt645.VOLTAGE_A, (2201,)),
        dlt645.encode_reply("202300001001", dlt645.CURRENT_A, (-12345,)),
        dlt645.encode_reply("202300001001", dlt645.ACTIVE_POWER_TOTAL, (123456,)),
    ]
    result = dlt(b"\xfe".join(frames))
    assert result.readings == () and result.rejections == ()

    def instant(quantity: str, value: float, raw: float, unit: str) -> InstantReading:
        return InstantReading(
            "t1", "P1", "EV1", Kind.ELECTRICITY, Item.SPECIAL, SLOT, quantity, value, raw, unit, "gw-645"
        )

    assert result.instants == (
        instant("voltage_a", 220.1, 220.1, "V"),
        instant("current_a", -12.345, -12.345, "A"),
        instant("active_power", 12.3456 * 20, 12.3456, "kW"),  # CT x PT ratio applied to power only
    )


def test_daily_freezes_are_at_local_midnight() -> None:
    midnight = int(datetime.fromisoformat("2026-11-25T00:00:00+08:00").timestamp() * 1000)
    last = dlt645.encode_reply("000000000001", 0x05060101, (12345678, 1, 2, 3, 4))
    (reading,) = dlt(last).readings
    assert reading == register("E1", midnight, 123456.78, 123456.78, tariffs=(0.01, 0.02, 0.03, 0.04))
    third = dlt645.encode_reply("000000000001", 0x05060103, (12000000,))
    assert dlt(third).readings[0].ts_ms == midnight - 2 * 86_400_000
    just_after = midnight + 60_000
    assert dlt(last, just_after).readings[0].ts_ms == midnight


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (dlt645.encode_error_reply("000000000001", 0x02), "meter E1 answered with error 0x02 (no requested data)"),
        (dlt645.encode_reply("000000000009", 0x00010000, (1,)), "unknown meter address 000000000009"),
        (
            dlt645.encode_reply("000000000002", 0x00010000, (1,)),
            "meter E-OTHER (address 000000000002) is bound to gateway gw-json, not gw-645",
        ),
        (
            dlt645.encode_reply("999999999999", 0x00010000, (1,)),
            "meter W-ODD is a water meter, DL/T 645 frames are not for it",
        ),
        (VECTOR[:-2] + b"\x18\x16", "DL/T 645 checksum 0x18 does not match the computed 0x17"),
        (
            dlt645.encode_read_request("000000000001", 0x00010000),
            "DL/T 645 frame of meter 000000000001 with control 0x11 is not a read reply",
        ),
        (b"\x16" + VECTOR, "unexpected byte 0x16 at offset 0 before the frame start 0x68"),
        (b"\xfe\xfe", "no frame in payload: only preamble bytes"),
        (b"6801", "truncated frame at offset 0: 2 bytes"),
        (b"", "empty payload"),
    ],
)
def test_bad_dlt645_frames_are_refused(frame: bytes, reason: str) -> None:
    result = dlt(frame)
    assert result.readings == ()
    assert [(r.reason, r.index, r.payload, r.gateway, r.received_ms) for r in result.rejections] == [
        (reason, None, frame, "gw-645", NOW)
    ]


def test_one_bad_frame_among_several_is_refused_alone() -> None:
    bad = VECTOR[:-2] + b"\x18\x16"
    payload = VECTOR + b"\xff" + dlt645.encode_reply("202300001001", 0x00010000, (5,)) + bad + b"\xff\xff"
    result = dlt(payload)
    assert [r.meter for r in result.readings] == ["E1", "EV1"]
    assert [(r.index, r.payload) for r in result.rejections] == [(2, bad)]


def water(clock: datetime, *, address: str = "78330011223344", status: int = 0, **more: object) -> bytes:
    reply = cjt188.MeteringReply(
        meter_type=int(more.pop("meter_type", 0x10)),  # type: ignore[call-overload]
        address=address,
        ser=1,
        current=int(more.pop("current", 1234567)),  # type: ignore[call-overload]
        current_unit=str(more.pop("unit", "m3")),
        settlement=1200000,
        settlement_unit="m3",
        clock=clock,
        status=cjt188.Status(status),
        di_order="1F90",
    )
    return cjt188.encode_reply(reply)


def test_water_reading_at_the_meters_clock_with_status_flags() -> None:
    result = cjt(water(datetime(2026, 11, 25, 8, 15, 0), status=0x05))
    assert result.rejections == ()
    clock_ms = SLOT  # 08:15:00 Asia/Shanghai
    assert result.readings == (register("W1", clock_ms, 12345.67, 12345.67, flags=("battery_low", "valve_closed")),)
    (clean,) = cjt(water(datetime(2026, 11, 25, 8, 14, 59))).readings
    assert clean.flags == () and clean.ts_ms == clock_ms - 1000
    (litres,) = cjt(water(datetime(2026, 11, 25, 8, 14, 0), unit="L")).readings
    assert (litres.raw, litres.unit, litres.value) == (12345.67, "L", pytest.approx(12.34567))
    (hot,) = cjt(water(datetime(2026, 11, 25, 8, 14, 0), meter_type=0x11)).readings
    assert hot.meter == "W1"


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (water(datetime(2026, 11, 25, 8, 21, 0)), "ts is 330 s in the future (clock skew > 300 s)"),
        (water(datetime(2015, 5, 11, 22, 1, 31)), "ts is older than 400 days"),
        (
            water(datetime(2026, 11, 25, 8, 0), meter_type=0x20),
            "meter W1: meter type 0x20 (heat) is not a water meter",
        ),
        (
            water(datetime(2026, 11, 25, 8, 0), address="30220400001201"),
            "value 12345.67 m3 exceeds the register maximum 9999.99 of meter W2",
        ),
        (water(datetime(2026, 11, 25, 8, 0), address="30220400009999"), "unknown meter address 30220400009999"),
        (
            cjt188.encode_frame(0x10, "78330011223344", cjt188.READ_ERROR, b"\x01\x04\x00"),
            "meter W1 answered with an abnormal reply (status 0x0004)",
        ),
        (VECTOR, "truncated frame at offset 0: length byte gives 64 bytes, 20 left"),  # a DL/T 645 frame
    ],
)
def test_bad_cjt188_frames_are_refused(frame: bytes, reason: str) -> None:
    result = cjt(frame)
    assert result.readings == ()
    assert [(r.reason, r.index) for r in result.rejections] == [(reason, None)]


@pytest.mark.parametrize(
    ("protocol", "topic", "payload", "reason"),
    [
        ("dlt645", "vigil/t2/gateways/gw-645/frames/dlt645", VECTOR, "not a dlt645 frames topic of site t1"),
        ("dlt645", "vigil/t1/gateways/gw-645/frames/cjt188", VECTOR, "not a dlt645 frames topic of site t1"),
        ("dlt645", "vigil/t1/gateways/gw-x/frames/dlt645", VECTOR, "unknown gateway 'gw-x'"),
        ("dlt645", T645, b"\xfe" * (512 * 1024 + 1), "payload of 524289 bytes exceeds the limit of 524288"),
        ("modbus", "vigil/t1/gateways/gw-645/frames/modbus", VECTOR, "unsupported frame protocol 'modbus'"),
    ],
)
def test_envelope(protocol: str, topic: str, payload: bytes, reason: str) -> None:
    result = parse_frames(protocol, topic, payload, SITE, NOW)
    assert [r.reason for r in result.rejections] == [reason]


def test_dispatch_routes_frames_topics() -> None:
    assert parse_message(T645, VECTOR, SITE, NOW) == dlt(VECTOR)
    assert parse_message(T188, water(datetime(2026, 11, 25, 8, 0)), SITE, NOW).readings[0].meter == "W1"
    unknown = parse_message("vigil/t1/gateways/gw-645/frames/mbus", VECTOR, SITE, NOW)
    assert [r.reason for r in unknown.rejections] == ["unsupported frame protocol 'mbus'"]


def test_other_sites_gateways_topic_protocol_mismatch() -> None:
    result = parse_frames("cjt188", T188.replace("gw-188", "gw-645"), water(datetime(2026, 11, 25, 8, 0)), SITE, NOW)
    assert [r.reason for r in result.rejections] == [
        "meter W1 (address 78330011223344) is bound to gateway gw-188, not gw-645"
    ]


@settings(max_examples=300)
@given(st.sampled_from(["dlt645", "cjt188"]), st.binary(max_size=120), st.booleans())
def test_random_payloads_never_raise(protocol: str, data: bytes, as_hex: bool) -> None:
    topic = T645 if protocol == "dlt645" else T188
    payload = data.hex(" ").encode() if as_hex else data
    result = parse_frames(protocol, topic, payload, SITE, NOW)
    assert len(result.readings) + len(result.instants) + len(result.rejections) >= 1  # nothing vanishes


GOOD = [
    ("dlt645", VECTOR),
    ("dlt645", dlt645.encode_reply("202300001001", dlt645.FORWARD_ACTIVE_BLOCK, (100000, 1, 2, 3, 4))),
    ("cjt188", water(datetime(2026, 11, 25, 8, 15, 0), status=0x05)),
]


@settings(max_examples=300)
@given(st.sampled_from(GOOD), st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=4))
def test_mutated_frames_never_raise(good: tuple[str, bytes], edits: list[tuple[int, int]]) -> None:
    protocol, frame = good
    data = bytearray(b"\xfe\xfe" + frame + b"\xff")
    for index, value in edits:
        data[index % len(data)] = value
    topic = T645 if protocol == "dlt645" else T188
    result = parse_frames(protocol, topic, bytes(data), SITE, NOW)
    assert len(result.readings) + len(result.instants) + len(result.rejections) >= 1


def test_a_reading_of_a_frame_is_like_a_json_one() -> None:
    """The same register sent as JSON and as a frame is the same point, bar the status flags."""
    json_site = frames_site("t1")
    (frame_reading,) = cjt(water(datetime(2026, 11, 25, 8, 15, 0))).readings
    json_payload = b'{"meter": "W1", "ts": "2026-11-25T08:15:00+08:00", "value": 12345.67, "unit": "m3"}'
    from ingest.payload import parse_payload

    (json_reading,) = parse_payload("vigil/t1/gateways/gw-188/readings", json_payload, json_site, NOW).readings
    assert replace(frame_reading, flags=None) == json_reading
