"""InfluxDB access for the energy API: raw register series, and the hourly/daily consumption rollups.

Measurements (docs/energy-api.md): `meter_register` (raw, docs/schema.md) is read; the rollup job writes
`meter_consumption_1h` and `meter_consumption_1d` (one point per meter and local hour / local day, tags as
`meter_register`, integer fields `amount_u` `estimated_u` `measured_ms` `span_ms`, string field `flags`)
and `energy_rollup_state` (how far the rollups are valid).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from api.energy.cells import Cell, Tally
from core.config import SiteConfig
from ingest.influx import InfluxClient
from ingest.lineprotocol import escape_tag, format_string

logger = logging.getLogger(__name__)

RAW = "meter_register"
HOURLY = "meter_consumption_1h"
DAILY = "meter_consumption_1d"
STATE = "energy_rollup_state"
#: Bumped whenever the rollup's meaning changes: rollups of another version are ignored (raw is used).
ROLLUP_VERSION = 1
WRITE_BATCH = 5000
_FIELDS = '"amount_u","estimated_u","measured_ms","span_ms","flags"'


def quote_literal(text: str) -> str:
    """An InfluxQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True, slots=True)
class RollupState:
    """The rollups hold every meter's local hours (and whole local days) in [from_ms, until_ms)."""

    from_ms: int
    until_ms: int
    updated_ms: int

    def merge(self, other: RollupState) -> RollupState:
        """Union of two overlapping or touching coverages."""
        return RollupState(
            min(self.from_ms, other.from_ms), max(self.until_ms, other.until_ms), max(self.updated_ms, other.updated_ms)
        )


class EnergyStore:
    """Reads and writes one site's energy data through InfluxQL and line protocol."""

    def __init__(self, client: InfluxClient, site: SiteConfig) -> None:
        self.client = client
        self.site = site
        self._site_filter = f'"site" = {quote_literal(site.site.id)}'

    def _meter_filter(self, meters: Sequence[str]) -> str:
        if set(meters) >= set(self.site.meter_by_id):
            return self._site_filter
        return self._site_filter + " AND (" + " OR ".join(f'"meter" = {quote_literal(m)}' for m in meters) + ")"

    # -- raw registers -----------------------------------------------------------------------------

    def registers(
        self, meters: Sequence[str], start_ms: int, end_ms: int, edge_lookup_ms: int
    ) -> dict[str, list[tuple[int, float]]]:
        """Readings in [start, end) plus each meter's last one before and first one at/after, within the lookup."""
        if not meters:
            return {}
        where = self._meter_filter(meters)
        statements = [
            f'SELECT "value" FROM "{RAW}" WHERE {where} AND time >= {start_ms}ms AND time < {end_ms}ms '
            'GROUP BY "meter"',
            f'SELECT last("value") FROM "{RAW}" WHERE {where} AND time >= {start_ms - edge_lookup_ms}ms '
            f'AND time < {start_ms}ms GROUP BY "meter"',
            f'SELECT first("value") FROM "{RAW}" WHERE {where} AND time >= {end_ms}ms '
            f'AND time < {end_ms + edge_lookup_ms}ms GROUP BY "meter"',
        ]
        out: dict[str, list[tuple[int, float]]] = {m: [] for m in meters}
        for result in self.client.query_all(";".join(statements), method="POST"):
            for series in result.get("series", []):
                meter = series.get("tags", {}).get("meter")
                if meter not in out:
                    continue
                out[meter].extend((int(t), float(v)) for t, v in series.get("values", []) if v is not None)
        return out

    def first_reading_ms(self) -> int | None:
        """Time of the site's earliest reading, None if it has none."""
        series = self.client.query(f'SELECT first("value") FROM "{RAW}" WHERE {self._site_filter}')
        rows = series[0].get("values", []) if series else []
        return int(rows[0][0]) if rows else None

    # -- rollups -----------------------------------------------------------------------------------

    def rollup_cells(self, meters: Sequence[str], ranges: Iterable[tuple[str, int, int]]) -> list[Cell]:
        """Rollup cells of `meters` for each (measurement, start_ms, end_ms), in one request."""
        ranges = [r for r in ranges if r[2] > r[1]]
        if not meters or not ranges:
            return []
        where = self._meter_filter(meters)
        statements = [
            f'SELECT {_FIELDS} FROM "{measurement}" WHERE {where} AND time >= {a}ms AND time < {b}ms GROUP BY "meter"'
            for measurement, a, b in ranges
        ]
        wanted = set(meters)
        cells: list[Cell] = []
        for result in self.client.query_all(";".join(statements), method="POST"):
            for series in result.get("series", []):
                meter = series.get("tags", {}).get("meter")
                if meter in wanted:
                    cells.extend(_cells(meter, series))
        return cells

    def write_cells(self, measurement: str, cells: Iterable[Cell]) -> int:
        """Write rollup cells (a cell already stored for the same meter and start is overwritten)."""
        site = self.site
        tags: dict[str, str] = {}
        for m in site.meters:
            tags[m.id] = (
                f"{measurement},building={escape_tag(m.building)},item={escape_tag(m.item.value)},"
                f"kind={escape_tag(m.kind.value)},meter={escape_tag(m.id)},site={escape_tag(site.site.id)}"
            )
        batch: list[str] = []
        written = 0
        for c in cells:
            t = c.tally
            flags = format_string(",".join(sorted(t.flags)))
            batch.append(
                f"{tags[c.meter]} amount_u={t.amount_u}i,estimated_u={t.estimated_u}i,measured_ms={t.measured_ms}i,"
                f"span_ms={c.end_ms - c.start_ms}i,flags={flags} {c.start_ms}"
            )
            if len(batch) >= WRITE_BATCH:
                self.client.write_lines(batch)
                written += len(batch)
                batch = []
        self.client.write_lines(batch)
        return written + len(batch)

    def state(self) -> RollupState | None:
        """How far the rollups are valid; None if there are none (of this version)."""
        series = self.client.query(
            f'SELECT "from_ms","until_ms","updated_ms","version" FROM "{STATE}" WHERE {self._site_filter} '
            "ORDER BY time DESC LIMIT 1"
        )
        rows = series[0].get("values", []) if series else []
        if not rows:
            return None
        row = dict(zip(series[0]["columns"], rows[0], strict=False))
        if row.get("version") != ROLLUP_VERSION or row.get("from_ms") is None or row.get("until_ms") is None:
            return None
        return RollupState(int(row["from_ms"]), int(row["until_ms"]), int(row.get("updated_ms") or 0))

    def save_state(self, state: RollupState) -> None:
        """Record how far the rollups are valid (a new point; the latest one counts)."""
        self.client.write_lines(
            [
                f"{STATE},site={escape_tag(self.site.site.id)} from_ms={state.from_ms}i,until_ms={state.until_ms}i,"
                f"updated_ms={state.updated_ms}i,version={ROLLUP_VERSION}i {state.updated_ms}"
            ]
        )


def _cells(meter: str, series: dict[str, Any]) -> list[Cell]:
    columns = series.get("columns", [])
    idx = {name: i for i, name in enumerate(columns)}
    out = []
    for row in series.get("values", []):
        amount = row[idx["amount_u"]]
        if amount is None:
            continue
        start = int(row[idx["time"]])
        flags = row[idx["flags"]] or ""
        tally = Tally(
            int(amount),
            int(row[idx["estimated_u"]] or 0),
            int(row[idx["measured_ms"]] or 0),
            frozenset(f for f in flags.split(",") if f),
        )
        out.append(Cell(meter, start, start + int(row[idx["span_ms"]]), tally))
    return out
