"""Encode readings as InfluxDB line protocol (the `meter_register` and `meter_instant` schemas of docs/schema.md)."""

from __future__ import annotations

import functools
import math
import re

from core.types import InstantReading, Reading

MEASUREMENT = "meter_register"
INSTANT_MEASUREMENT = "meter_instant"

# Line protocol cannot carry these in a tag at all (a newline ends the point; a backslash can
# swallow the separator after it), so such a value is refused rather than written altered.
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\\]")
_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_STRING_ESCAPES = str.maketrans({'"': r"\"", "\\": r"\\"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UnencodableValue(ValueError):
    """A tag or field value that line protocol cannot carry faithfully."""


def escape_tag(value: str) -> str:
    """Escape a tag key or value; refuse control characters and backslashes."""
    if not value:
        raise UnencodableValue("empty tag value")
    if _FORBIDDEN.search(value):
        raise UnencodableValue(f"tag value {value[:60]!r} contains a control character or backslash")
    return value.translate(_TAG_ESCAPES)


def format_float(value: float) -> str:
    """Format a float field so InfluxDB parses back the same float."""
    if not math.isfinite(value):
        raise UnencodableValue(f"field value {value} is not finite")
    return repr(float(value))


def format_string(value: str) -> str:
    """Quote a string field value; refuse control characters."""
    if _CONTROL.search(value):
        raise UnencodableValue(f"string field {value[:60]!r} contains a control character")
    return f'"{value.translate(_STRING_ESCAPES)}"'


@functools.lru_cache(maxsize=65_536)
def _register_tags(site: str, building: str, meter: str, kind: str, item: str) -> str:
    # The tag set depends only on the meter: escape it once, not for every reading.
    return (
        f"building={escape_tag(building)},item={escape_tag(item)},kind={escape_tag(kind)},"
        f"meter={escape_tag(meter)},site={escape_tag(site)}"
    )


def to_line_protocol(reading: Reading) -> str:
    """Encode one reading as one line (timestamp in milliseconds)."""
    tags = _register_tags(reading.site, reading.building, reading.meter, reading.kind.value, reading.item.value)
    fields = f"value={format_float(reading.value)},raw={format_float(reading.raw)}"
    if reading.seq is not None:
        fields += f",seq={int(reading.seq)}i"
    for n, tariff in enumerate(reading.tariffs, start=1):
        fields += f",tariff{n}={format_float(tariff)}"
    if reading.flags is not None:
        fields += f",flags={format_string(','.join(reading.flags))}"
    return f"{MEASUREMENT},{tags} {fields} {int(reading.ts_ms)}"


def instant_to_line_protocol(instant: InstantReading) -> str:
    """Encode one instantaneous value as one line of `meter_instant` (timestamp in milliseconds)."""
    tags = (
        f"building={escape_tag(instant.building)},item={escape_tag(instant.item.value)},"
        f"kind={escape_tag(instant.kind.value)},meter={escape_tag(instant.meter)},"
        f"quantity={escape_tag(instant.quantity)},site={escape_tag(instant.site)}"
    )
    fields = f"value={format_float(instant.value)},raw={format_float(instant.raw)}"
    return f"{INSTANT_MEASUREMENT},{tags} {fields} {int(instant.ts_ms)}"
