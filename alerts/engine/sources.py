"""What the energy and meter rules read: register series and each meter's latest point, from InfluxDB."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from ingest.influx import InfluxClient

logger = logging.getLogger(__name__)

MEASUREMENT = "meter_register"


@dataclass(frozen=True, slots=True)
class LatestPoint:
    """A meter's most recent stored reading."""

    meter: str
    ts_ms: int
    value: float | None
    flags: tuple[str, ...] = ()  # status flags of that reading (CJ/T 188 meters); () if none or not reported


class RegisterSource(Protocol):
    """Where register readings come from (a seam: InfluxDB in production, anything in unit tests)."""

    def series(self, site: str, start_ms: int, end_ms: int) -> dict[str, list[tuple[int, float]]]:
        """(ts_ms, value) of every meter of a site in [start_ms, end_ms), sorted by time."""
        ...

    def latest(self, site: str, since_ms: int) -> dict[str, LatestPoint]:
        """The latest reading of every meter of a site that has one since `since_ms`."""
        ...


def quote_literal(text: str) -> str:
    """An InfluxQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse_flags(value: Any) -> tuple[str, ...]:
    """Split a `flags` field ("battery_low,valve_closed") into sorted distinct flags; tolerate absence."""
    if not isinstance(value, str):
        return ()
    return tuple(sorted({f.strip() for f in value.split(",") if f.strip()}))


class InfluxRegisterSource:
    """Read `meter_register` through InfluxQL."""

    def __init__(self, client: InfluxClient) -> None:
        self.client = client

    def series(self, site: str, start_ms: int, end_ms: int) -> dict[str, list[tuple[int, float]]]:
        """(ts_ms, value) per meter, sorted; raise SinkUnavailable if InfluxDB cannot answer."""
        q = (
            f'SELECT "value" FROM "{MEASUREMENT}" WHERE "site" = {quote_literal(site)} '
            f'AND time >= {int(start_ms)}ms AND time < {int(end_ms)}ms GROUP BY "meter"'
        )
        out: dict[str, list[tuple[int, float]]] = {}
        # Non-chunked: InfluxDB 1.x merges its internal 10 000-row chunks (leaving a stale "partial": true
        # on long series); only a server max-row-limit would truncate, and Vigil's servers set none.
        for s in self.client.query(q):
            meter = s.get("tags", {}).get("meter")
            if not meter:
                continue
            out[meter] = [(int(t), float(v)) for t, v in s.get("values", []) if v is not None]
        return out

    def latest(self, site: str, since_ms: int) -> dict[str, LatestPoint]:
        """The latest point of every meter (all its fields, so an absent `flags` reads as no flags)."""
        q = (
            f'SELECT * FROM "{MEASUREMENT}" WHERE "site" = {quote_literal(site)} AND time >= {int(since_ms)}ms '
            'GROUP BY "meter" ORDER BY time DESC LIMIT 1'
        )
        out: dict[str, LatestPoint] = {}
        for s in self.client.query(q):
            meter = s.get("tags", {}).get("meter")
            rows = s.get("values") or []
            if not meter or not rows:
                continue
            row = dict(zip(s.get("columns", []), rows[0], strict=False))
            value = row.get("value")
            out[meter] = LatestPoint(
                meter=meter,
                ts_ms=int(row["time"]),
                value=float(value) if isinstance(value, int | float) else None,
                flags=parse_flags(row.get("flags")),
            )
        return out
