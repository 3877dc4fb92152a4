from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.types import Item, Kind, Reading
from ingest.lineprotocol import UnencodableValue, escape_tag, format_float, to_line_protocol


def make(**overrides: object) -> Reading:
    base: dict[str, object] = dict(
        site="xd",
        building="B01",
        meter="B01-E-MAIN",
        kind=Kind.ELECTRICITY,
        item=Item.MAIN_INCOMER,
        ts_ms=1_764_000_000_000,
        value=98760.0,
        raw=1234.5,
        unit="kWh",
        gateway="gw-1",
        seq=None,
    )
    base.update(overrides)
    return Reading(**base)  # type: ignore[arg-type]


def test_exact_line() -> None:
    assert to_line_protocol(make()) == (
        "meter_register,building=B01,item=01E,kind=electricity,meter=B01-E-MAIN,site=xd"
        " value=98760.0,raw=1234.5 1764000000000"
    )


def test_exact_line_with_seq_and_water() -> None:
    line = to_line_protocol(make(kind=Kind.WATER, item=Item.WATER, meter="W1", value=0.1, raw=100.0, seq=42))
    assert (
        line
        == "meter_register,building=B01,item=02,kind=water,meter=W1,site=xd value=0.1,raw=100.0,seq=42i 1764000000000"
    )


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a,b", r"a\,b"),
        ("a b", r"a\ b"),
        ("a=b", r"a\=b"),
        ('say "hi"', r'say\ "hi"'),
        ("x,y=z w", r"x\,y\=z\ w"),
    ],
)
def test_tag_escaping(raw: str, escaped: str) -> None:
    assert escape_tag(raw) == escaped


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "trailing\\", "a\\,b", "nul\x00", "", "tab\there"])
def test_tags_that_cannot_be_carried_are_refused(bad: str) -> None:
    with pytest.raises(UnencodableValue):
        escape_tag(bad)


def test_newline_injection_in_meter_is_refused_not_written() -> None:
    with pytest.raises(UnencodableValue):
        to_line_protocol(make(meter="B01\nweather,city=x temp=1 1"))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_fields_are_refused(value: float) -> None:
    with pytest.raises(UnencodableValue):
        format_float(value)


def test_float_formatting_round_trips() -> None:
    for value in (0.0, 1.0, 0.1, 1e16, 123456.78, 5e-324, 1.7976931348623157e308):
        assert float(format_float(value)) == value


_UNESCAPED_SEP = re.compile(r"(?<!\\)[ ,=]")


@given(st.text(min_size=1, max_size=30))
def test_escaped_tags_never_contain_a_bare_separator_or_newline(value: str) -> None:
    try:
        escaped = escape_tag(value)
    except UnencodableValue:
        assert "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value)
        return
    assert "\n" not in escaped and not _UNESCAPED_SEP.search(escaped)
    assert escaped.replace(r"\,", ",").replace(r"\=", "=").replace(r"\ ", " ") == value


@given(st.text(min_size=1, max_size=20), st.floats(allow_nan=False, allow_infinity=False))
def test_any_line_is_one_line_with_three_sections(meter: str, value: float) -> None:
    try:
        line = to_line_protocol(make(meter=meter, value=value))
    except UnencodableValue:
        return
    assert "\n" not in line
    series, fields, ts = re.split(r"(?<!\\) ", line)
    assert ts == "1764000000000" and fields.startswith("value=")
    assert len(re.split(r"(?<!\\),", series)) == 6  # measurement + exactly five tags
