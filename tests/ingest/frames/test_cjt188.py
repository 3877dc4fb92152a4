"""CJ/T 188-2004: byte-exact vectors, encode -> decode round trips, and decoding random bytes."""

from __future__ import annotations

import contextlib
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.frames import cjt188
from ingest.frames.common import FrameError, cut_frames

#: The widely published example read (meter 78330011223344, cold water, DI sent as 1F 90), with its preamble.
REQUEST = bytes.fromhex("FE FE FE FE 68 10 44 33 22 11 00 33 78 01 03 1F 90 00 80 16")
#: Its reply: 556677.00 m3, settlement 556677.00 m3, 2015-05-11 22:01:31, status 21 84. The published
#: copies end "08 16", which does not match their own bytes: the sum of 68..84 modulo 256 is 0x13.
REPLY = bytes.fromhex(
    "FE FE FE FE 68 10 44 33 22 11 00 33 78 81 16 1F 90 00"
    " 00 77 66 55 2C 00 77 66 55 2C 31 01 22 11 05 15 20 21 84 13 16"
)
EXPECTED = cjt188.MeteringReply(
    meter_type=0x10,
    address="78330011223344",
    ser=0,
    current=55667700,
    current_unit="m3",
    settlement=55667700,
    settlement_unit="m3",
    clock=datetime(2015, 5, 11, 22, 1, 31),
    status=cjt188.Status(0x8421),
    di_order="1F90",
)


def frame_of(payload: bytes) -> bytes:
    (chunk,) = cut_frames(payload, cjt188.LENGTH_AT, cjt188.OVERHEAD)
    assert chunk.error is None
    return chunk.data


def test_published_reply_decodes_exactly() -> None:
    reply = cjt188.decode_reply(frame_of(REPLY))
    assert reply == EXPECTED
    assert isinstance(reply, cjt188.MeteringReply)
    assert reply.status.valve == "closed" and not reply.status.battery_low
    assert reply.status.flags == ("valve_closed",)


def test_reply_encodes_exactly() -> None:
    assert cjt188.encode_reply(EXPECTED) == REPLY[4:]


def test_read_request_in_both_identifier_orders() -> None:
    assert cjt188.encode_read_request(0x10, "78330011223344", 0, di_order="1F90") == REQUEST[4:]
    assert cjt188.decode_read_request(frame_of(REQUEST)) == (0x10, "78330011223344", 0, "1F90")
    # the form: `... 01 03 90 1F SER CS 16`
    ours = cjt188.encode_read_request(0x10, "78330011223344", 0x05)
    assert ours.hex(" ").upper() == "68 10 44 33 22 11 00 33 78 01 03 90 1F 05 85 16"
    assert cjt188.decode_read_request(ours) == (0x10, "78330011223344", 5, "901F")


@pytest.mark.parametrize(
    ("st1", "valve", "battery_low", "flags"),
    [
        (0x00, "open", False, ()),
        (0x01, "closed", False, ("valve_closed",)),
        (0x03, "abnormal", False, ("valve_abnormal",)),
        (0x02, "unknown", False, ("valve_unknown",)),
        (0x04, "open", True, ("battery_low",)),
        (0x05, "closed", True, ("battery_low", "valve_closed")),
        (0xF8, "open", False, ()),  # D3..D7 are the vendor's
    ],
)
def test_status_bits(st1: int, valve: str, battery_low: bool, flags: tuple[str, ...]) -> None:
    status = cjt188.Status(st1 | 0xFF00)
    assert (status.valve, status.battery_low, status.flags) == (valve, battery_low, flags)


def test_error_reply() -> None:
    frame = cjt188.encode_frame(0x10, "78330011223344", cjt188.READ_ERROR, bytes([7, 0x04, 0x00]))
    assert cjt188.decode_reply(frame) == cjt188.ErrorReply(0x10, "78330011223344", 7, cjt188.Status(0x0004))
    bare = cjt188.encode_frame(0x10, "78330011223344", cjt188.READ_ERROR, b"")
    assert cjt188.decode_reply(bare) == cjt188.ErrorReply(0x10, "78330011223344", None, None)


def _with(frame: bytes, index: int, value: int) -> bytes:
    return frame[:index] + bytes([value]) + frame[index + 1 :]


def _resum(frame: bytes) -> bytes:
    return frame[:-2] + bytes([sum(frame[:-2]) & 0xFF, 0x16])


GOOD = cjt188.encode_reply(EXPECTED)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (_with(GOOD, 33, 0x14), "CJ/T 188 checksum 0x14 does not match the computed 0x13"),
        (_with(GOOD, 34, 0x00), "frame ends with 0x00, not 0x16"),
        (GOOD[:12], "frame of 12 bytes is shorter than 13"),
        (_resum(_with(GOOD, 2, 0x4A)), "CJ/T 188 address 7833001122334A is not BCD"),
        (_resum(_with(GOOD, 11, 0x1E)), "unsupported data identifier 1E90"),
        (_resum(_with(GOOD, 18, 0x2B)), "unit code 0x2B is not a volume unit"),
        (_resum(_with(GOOD, 15, 0x7A)), "current flow: byte 0x7A is not BCD"),
        (_resum(_with(GOOD, 28, 0x13)), "real time 20151311220131 is not a valid time"),
        (_resum(_with(GOOD, 9, 0x01)), "control 0x01 is not a read reply"),
        (cjt188.encode_frame(0x10, "78330011223344", 0x81, b"\x1f\x90\x00"), "has 3 data bytes, not 22"),
    ],
)
def test_bad_frames_are_refused_with_a_reason(frame: bytes, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        cjt188.decode_reply(frame)


addresses = st.text("0123456789", min_size=14, max_size=14)
registers = st.integers(0, 99_999_999)


@st.composite
def replies(draw: st.DrawFn) -> cjt188.MeteringReply:
    return cjt188.MeteringReply(
        meter_type=draw(st.integers(0, 255)),
        address=draw(addresses),
        ser=draw(st.integers(0, 255)),
        current=draw(registers),
        current_unit=draw(st.sampled_from(["m3", "L"])),
        settlement=draw(registers),
        settlement_unit=draw(st.sampled_from(["m3", "L"])),
        clock=draw(st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59, 59))).replace(microsecond=0),
        status=cjt188.Status(draw(st.integers(0, 0xFFFF))),
        di_order=draw(st.sampled_from(["901F", "1F90"])),
    )


@given(replies())
def test_reply_round_trip(reply: cjt188.MeteringReply) -> None:
    assert cjt188.decode_reply(cjt188.encode_reply(reply)) == reply


@given(st.integers(0, 255), addresses, st.integers(0, 255), st.sampled_from(["901F", "1F90"]))
def test_read_request_round_trip(meter_type: int, address: str, ser: int, order: cjt188.DiOrder) -> None:
    frame = cjt188.encode_read_request(meter_type, address, ser, di_order=order)
    assert cjt188.decode_read_request(frame) == (meter_type, address, ser, order)


@given(st.binary(max_size=64))
def test_random_bytes_only_ever_raise_frame_error(data: bytes) -> None:
    with contextlib.suppress(FrameError):
        cjt188.decode_reply(data)


@given(replies(), st.data())
def test_any_single_byte_change_is_caught(reply: cjt188.MeteringReply, data: st.DataObject) -> None:
    frame = cjt188.encode_reply(reply)
    index = data.draw(st.integers(0, len(frame) - 1).filter(lambda i: i != cjt188.LENGTH_AT))
    flip = data.draw(st.integers(1, 255))
    with pytest.raises(FrameError):
        cjt188.decode_reply(frame[:index] + bytes([frame[index] ^ flip]) + frame[index + 1 :])
