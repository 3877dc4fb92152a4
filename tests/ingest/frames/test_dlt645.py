"""DL/T 645-2007: byte-exact vectors, encode -> decode round trips, and decoding random bytes."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.frames import dlt645
from ingest.frames.common import FrameError

#: The issue's vector: meter 000000000001 answers 00010000 = 123456.78 kWh.
REPLY = bytes.fromhex("68 01 00 00 00 00 00 68 91 08 33 33 34 33 AB 89 67 45 17 16")
#: The master's read of 00010000 from the same meter.
REQUEST = bytes.fromhex("68 01 00 00 00 00 00 68 11 04 33 33 34 33 B3 16")


def test_issue_vector_decodes_exactly() -> None:
    reply = dlt645.decode_reply(REPLY)
    assert reply == dlt645.Reply("000000000001", 0x00010000, (12345678,))
    assert isinstance(reply, dlt645.Reply)
    assert reply.spec.quantity == "forward_active_energy" and reply.spec.unit == "kWh"
    assert reply.values[0] / 10**reply.spec.decimals == 123456.78


def test_issue_vector_encodes_exactly() -> None:
    assert dlt645.encode_reply("000000000001", dlt645.FORWARD_ACTIVE_TOTAL, (12345678,)) == REPLY


def test_read_request_vector() -> None:
    assert dlt645.encode_read_request("000000000001", 0x00010000) == REQUEST
    assert dlt645.decode_read_request(REQUEST) == ("000000000001", 0x00010000)
    with pytest.raises(FrameError, match="control 0x91 is not a read request"):
        dlt645.decode_read_request(REPLY)


def test_address_is_bcd_low_byte_first() -> None:
    frame = dlt645.encode_read_request("202300001001", dlt645.VOLTAGE_A)
    assert frame.hex(" ").upper() == "68 01 10 00 00 23 20 68 11 04 33 34 34 35 09 16"


@pytest.mark.parametrize(
    ("di", "data", "values"),
    [
        # 0001FF00: total 1000.00, T1..T4 100.00 350.00 300.00 250.00
        (
            0x0001FF00,
            "00 00 10 00 00 00 01 00 00 50 03 00 00 00 03 00 00 50 02 00",
            (100000, 10000, 35000, 30000, 25000),
        ),
        (0x02010100, "01 22", (2201,)),  # 220.1 V
        (0x02020100, "45 23 01", (12345,)),  # 12.345 A
        (0x02020100, "45 23 81", (-12345,)),  # reverse current: sign bit
        (0x02030000, "56 34 12", (123456,)),  # 12.3456 kW
        (0x02030000, "56 34 92", (-123456,)),
        (0x05060101, "78 56 34 12", (12345678,)),  # last daily freeze, total only
        (0x0506013E, "00 00 00 00", (0,)),  # the 62nd last daily freeze
    ],
)
def test_items(di: int, data: str, values: tuple[int, ...]) -> None:
    body = di.to_bytes(4, "little") + bytes.fromhex(data)
    frame = dlt645.encode_frame("000000000001", dlt645.READ_REPLY, body)
    reply = dlt645.decode_reply(frame)
    assert isinstance(reply, dlt645.Reply)
    assert (reply.di, reply.values) == (di, values)
    assert dlt645.encode_reply("000000000001", di, values) == frame


def test_daily_freeze_identifiers() -> None:
    assert dlt645.item_spec(0x05060101) is not None and dlt645.item_spec(0x05060101).frozen == 1  # type: ignore[union-attr]
    assert dlt645.item_spec(0x0506013E).frozen == 62  # type: ignore[union-attr]
    assert dlt645.item_spec(0x0506013F) is None
    assert dlt645.item_spec(0x05060100) is None


def test_error_reply_and_follow_on_flag() -> None:
    frame = dlt645.encode_error_reply("000000000001", 0x02)
    assert frame.hex(" ").upper() == "68 01 00 00 00 00 00 68 D1 01 35 D8 16"
    reply = dlt645.decode_reply(frame)
    assert reply == dlt645.ErrorReply("000000000001", 0x02)
    assert isinstance(reply, dlt645.ErrorReply) and reply.describe() == "no requested data"
    more = dlt645.encode_reply("000000000001", dlt645.FORWARD_ACTIVE_TOTAL, (1,), more=True)
    assert more[8] == 0xB1
    assert dlt645.decode_reply(more) == dlt645.Reply("000000000001", 0x00010000, (1,), more=True)


def _with(frame: bytes, index: int, value: int) -> bytes:
    return frame[:index] + bytes([value]) + frame[index + 1 :]


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (_with(REPLY, 18, 0x18), "DL/T 645 checksum 0x18 does not match the computed 0x17"),
        (_with(REPLY, 19, 0x17), "DL/T 645 frame ends with 0x17, not 0x16"),
        (_with(REPLY, 0, 0x69), "DL/T 645 frame does not start with 0x68"),
        (_with(_with(REPLY, 7, 0x67), 18, 0x16), "no second 0x68 after the address"),
        (REPLY[:11], "DL/T 645 frame of 11 bytes is shorter than 12"),
        (REPLY + b"\x16", "DL/T 645 frame of 21 bytes, its length byte gives 20"),
        (_with(_with(REPLY, 1, 0x0A), 18, 0x20), "DL/T 645 address 00000000000A is not BCD"),
        (REQUEST, "control 0x11 is not a read reply"),
        (
            dlt645.encode_frame("000000000001", 0x91, bytes.fromhex("00 00 01 04 01 02")),
            "unsupported data identifier 04010000",
        ),
        (
            dlt645.encode_frame("000000000001", 0x91, bytes.fromhex("00 00 01 00 01 02")),
            "00010000 has 2 data bytes, not 4",
        ),
        (dlt645.encode_frame("000000000001", 0x91, bytes.fromhex("00 FF 01 00 01 02 03")), "a multiple of 4"),
        (dlt645.encode_frame("000000000001", 0x91, bytes.fromhex("00 00 01 00 AA 00 00 00")), "byte 0xAA is not BCD"),
        (dlt645.encode_frame("000000000001", 0x91, b"\x00\x00"), "has no data identifier"),
        (dlt645.encode_frame("000000000001", 0xD1, b"\x01\x02"), "error reply of meter 000000000001 has 2 data bytes"),
    ],
)
def test_bad_frames_are_refused_with_a_reason(frame: bytes, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        dlt645.decode_reply(frame)


def test_encoder_refuses_callers_mistakes() -> None:
    with pytest.raises(ValueError, match="unsupported data identifier"):
        dlt645.encode_reply("000000000001", 0x04000101, (1,))
    with pytest.raises(ValueError, match="takes one value"):
        dlt645.encode_reply("000000000001", dlt645.VOLTAGE_A, (1, 2))
    with pytest.raises(ValueError, match="does not fit"):
        dlt645.encode_reply("000000000001", dlt645.VOLTAGE_A, (10_000,))
    with pytest.raises(ValueError, match="12 digits"):
        dlt645.encode_read_request("1", dlt645.VOLTAGE_A)


addresses = st.text("0123456789", min_size=12, max_size=12)
SUPPORTED = [*dlt645.ITEMS, *(dlt645.DAILY_FROZEN_FORWARD | n for n in (1, 2, 31, 62))]


@st.composite
def replies(draw: st.DrawFn) -> dlt645.Reply:
    di = draw(st.sampled_from(SUPPORTED))
    spec = dlt645.item_spec(di)
    assert spec is not None
    limit = 8 * 10 ** (2 * spec.size - 1) - 1 if spec.signed else 10 ** (2 * spec.size) - 1
    value = st.integers(-limit if spec.signed else 0, limit)
    values = draw(st.lists(value, min_size=1, max_size=9 if spec.block else 1))
    return dlt645.Reply(draw(addresses), di, tuple(values), draw(st.booleans()))


@given(replies())
def test_reply_round_trip(reply: dlt645.Reply) -> None:
    frame = dlt645.encode_reply(reply.address, reply.di, reply.values, more=reply.more)
    assert dlt645.decode_reply(frame) == reply


@given(addresses, st.integers(0, 0xFFFFFFFF))
def test_read_request_round_trip(address: str, di: int) -> None:
    assert dlt645.decode_read_request(dlt645.encode_read_request(address, di)) == (address, di)


@given(addresses, st.integers(0, 0x7F))
def test_error_reply_round_trip(address: str, code: int) -> None:
    assert dlt645.decode_reply(dlt645.encode_error_reply(address, code)) == dlt645.ErrorReply(address, code)


@given(st.binary(max_size=64))
def test_random_bytes_only_ever_raise_frame_error(data: bytes) -> None:
    with contextlib.suppress(FrameError):
        dlt645.decode_reply(data)


@given(replies(), st.data())
def test_any_single_byte_change_is_caught(reply: dlt645.Reply, data: st.DataObject) -> None:
    frame = dlt645.encode_reply(reply.address, reply.di, reply.values, more=reply.more)
    index = data.draw(st.integers(0, len(frame) - 1).filter(lambda i: i != dlt645.LENGTH_AT))
    flip = data.draw(st.integers(1, 255))
    with pytest.raises(FrameError):
        dlt645.decode_reply(frame[:index] + bytes([frame[index] ^ flip]) + frame[index + 1 :])
