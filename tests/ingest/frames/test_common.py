"""Payload text, preambles, padding, BCD: the framing the two protocols share."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.frames.common import (
    Chunk,
    FrameError,
    address_from_bcd,
    address_to_bcd,
    bcd_to_int,
    checksum,
    cut_frames,
    int_to_bcd,
    payload_bytes,
)

FRAME = bytes.fromhex("68 01 00 00 00 00 00 68 91 08 33 33 34 33 AB 89 67 45 17 16")
CUT = {"length_at": 9, "overhead": 12}  # DL/T 645


@pytest.mark.parametrize(
    "payload",
    [
        FRAME,
        b"68010000000000689108333334" + b"33AB8967451716",
        b"68 01 00 00 00 00 00 68 91 08 33 33 34 33 AB 89 67 45 17 16",
        b"68 01 00 00 00 00 00 68 91 08 33 33 34 33 ab 89 67 45 17 16\r\n",
        b"\t6801000000000068 9108333334 33AB8967451716 ",
    ],
)
def test_raw_and_hex_payloads_give_the_same_bytes(payload: bytes) -> None:
    assert payload_bytes(payload) == FRAME


@pytest.mark.parametrize(
    ("payload", "reason"),
    [(b"", "empty payload"), (b"  \n", "empty payload"), (b"68 01 0", "hex payload has an odd number of digits (5)")],
)
def test_bad_payload_text(payload: bytes, reason: str) -> None:
    with pytest.raises(FrameError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        payload_bytes(payload)


def test_preamble_and_padding_are_skipped() -> None:
    assert cut_frames(b"\xfe" * 4 + FRAME + b"\xff" * 7, **CUT) == [Chunk(FRAME)]
    assert cut_frames(FRAME + b"\x00\xfe\xff", **CUT) == [Chunk(FRAME)]
    assert cut_frames(FRAME, **CUT) == [Chunk(FRAME)]


def test_several_frames_in_one_payload() -> None:
    assert cut_frames(b"\xfe\xfe" + FRAME + b"\xff\xfe\xfe" + FRAME, **CUT) == [Chunk(FRAME), Chunk(FRAME)]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\xff" + FRAME, "unexpected byte 0xFF at offset 0 before the frame start 0x68"),
        (b"\xfe\x10" + FRAME, "unexpected byte 0x10 at offset 1 before the frame start 0x68"),
        (FRAME[:9], "truncated frame at offset 0: 9 bytes"),
        (FRAME[:-1], "truncated frame at offset 0: length byte gives 20 bytes, 19 left"),
    ],
)
def test_what_is_not_a_frame_becomes_an_error_chunk(data: bytes, error: str) -> None:
    chunks = cut_frames(data, **CUT)
    assert chunks[-1].error == error
    assert len(chunks) == 1


def test_garbage_after_a_frame_is_its_own_error_chunk() -> None:
    chunks = cut_frames(FRAME + b"\xff\x12\x34", **CUT)
    assert chunks == [Chunk(FRAME), Chunk(b"\x12\x34", "unexpected byte 0x12 at offset 21 after the last frame")]


def test_only_preamble_is_no_frame() -> None:
    with pytest.raises(FrameError, match="no frame in payload"):
        cut_frames(b"\xfe\xfe\xfe", **CUT)


def test_bcd_vectors() -> None:
    assert bcd_to_int(bytes.fromhex("78563412"), "v") == 12345678
    assert int_to_bcd(12345678, 4) == bytes.fromhex("78563412")
    assert bcd_to_int(bytes.fromhex("341282"), "v", signed=True) == -21234
    assert int_to_bcd(-21234, 3, signed=True) == bytes.fromhex("341282")
    assert address_from_bcd(bytes.fromhex("443322110033 78")) == "78330011223344"
    assert address_to_bcd("000000000001", 12) == bytes.fromhex("010000000000")
    assert checksum(bytes.fromhex("68 01 00 00 00 00 00 68 91 08 33 33 34 33 AB 89 67 45")) == 0x17
    with pytest.raises(FrameError, match="byte 0x1A is not BCD"):
        bcd_to_int(b"\x1a", "v")
    with pytest.raises(FrameError, match="address 0000000000AA is not BCD"):
        address_from_bcd(bytes.fromhex("AA0000000000"))
    with pytest.raises(ValueError, match="does not fit"):
        int_to_bcd(800_000, 3, signed=True)
    with pytest.raises(ValueError, match="does not fit"):
        int_to_bcd(-1, 2)
    with pytest.raises(ValueError, match="12 digits"):
        address_to_bcd("12345", 12)


@given(st.integers(1, 8).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, 10 ** (2 * n) - 1))))
def test_bcd_round_trip(case: tuple[int, int]) -> None:
    size, value = case
    assert bcd_to_int(int_to_bcd(value, size), "v") == value


@given(
    st.integers(1, 6).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(-(8 * 10 ** (2 * n - 1)) + 1, 8 * 10 ** (2 * n - 1) - 1))
    )
)
def test_signed_bcd_round_trip(case: tuple[int, int]) -> None:
    size, value = case
    assert bcd_to_int(int_to_bcd(value, size, signed=True), "v", signed=True) == value


@given(st.binary(max_size=300))
def test_payload_text_and_cutting_never_raise_anything_else(data: bytes) -> None:
    with contextlib.suppress(FrameError):
        cut_frames(payload_bytes(data), **CUT)
