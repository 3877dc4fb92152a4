"""The consumption query service: groups of meters, a local-calendar bucket size, a time range -> exact series.

Each range is served from the rollups where they are valid (`energy_rollup_state`) and from the raw registers
elsewhere (typically the last hour or so): the two give identical cells, so a query never shows the seam.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from api.energy.calendar import BucketSize, bucket_edges, is_hour_edge, whole_days
from api.energy.cells import Cell, Tally, add_all, into_buckets
from api.energy.raw import RawReader
from api.energy.store import DAILY, HOURLY, EnergyStore, RollupState
from api.energy.topology import Group, Topology
from core.config import SiteConfig

Source = Literal["auto", "raw"]


@dataclass(frozen=True, slots=True)
class BucketValue:
    """One bucket of one series."""

    start_ms: int
    end_ms: int
    tally: Tally
    meters: int  # how many meters the series adds up

    @property
    def completeness_pct(self) -> float:
        """Share of the bucket's meter-time covered by trusted readings, in %."""
        span = self.meters * (self.end_ms - self.start_ms)
        return 100.0 * self.tally.measured_ms / span if span > 0 else 0.0


@dataclass(frozen=True, slots=True)
class SeriesValue:
    """A group's buckets and their total (the exact sum of the buckets)."""

    group: Group
    total: BucketValue
    buckets: tuple[BucketValue, ...]


@dataclass(frozen=True, slots=True)
class ConsumptionResult:
    """The answer to one consumption query."""

    start_ms: int
    end_ms: int
    size: BucketSize
    source: str  # "rollup", "raw" or "rollup+raw"
    series: tuple[SeriesValue, ...]


class EnergyService:
    """Consumption of meter groups, from the rollups and the raw registers."""

    def __init__(
        self,
        site: SiteConfig,
        store: EnergyStore,
        raw: RawReader,
        state_ttl_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.site = site
        self.tz = site.tz
        self.store = store
        self.raw = raw
        self.topology = Topology(site)
        self.state_ttl_s = state_ttl_s
        self._clock = clock
        self._state: tuple[float, RollupState | None] | None = None
        self._lock = threading.Lock()

    def rollup_state(self) -> RollupState | None:
        """The rollup coverage, re-read from InfluxDB at most every `state_ttl_s` seconds."""
        now = self._clock()
        with self._lock:
            if self._state is not None and now - self._state[0] < self.state_ttl_s:
                return self._state[1]
        state = self.store.state()
        if state is not None and not (is_hour_edge(state.from_ms, self.tz) and is_hour_edge(state.until_ms, self.tz)):
            state = None  # not written by this code: do not trust it
        with self._lock:
            self._state = (now, state)
        return state

    def forget_state(self) -> None:
        """Drop the cached rollup coverage (after a rollup run in this process)."""
        with self._lock:
            self._state = None

    def consumption(
        self, groups: Sequence[Group], start_ms: int, end_ms: int, size: BucketSize, source: Source = "auto"
    ) -> ConsumptionResult:
        """Series of every group over [start, end) in local-calendar buckets; start and end on whole local hours."""
        if not (is_hour_edge(start_ms, self.tz) and is_hour_edge(end_ms, self.tz)):
            raise ValueError("start and end must fall on whole local hours")
        edges = bucket_edges(start_ms, end_ms, size, self.tz)
        meters = sorted({m for g in groups for m in g.meters})
        cells, used = self._cells(meters, edges, size, source)
        by_meter: dict[str, list[Cell]] = {m: [] for m in meters}
        for cell in cells:
            by_meter[cell.meter].append(cell)
        per_meter = {m: into_buckets(by_meter[m], edges) for m in meters}
        series = []
        for group in groups:
            n = len(group.meters)
            buckets = tuple(
                BucketValue(edges[i], edges[i + 1], add_all(per_meter[m][i] for m in group.meters), n)
                for i in range(len(edges) - 1)
            )
            total = BucketValue(start_ms, end_ms, add_all(b.tally for b in buckets), n)
            series.append(SeriesValue(group, total, buckets))
        return ConsumptionResult(start_ms, end_ms, size, used, tuple(series))

    def _cells(
        self, meters: Sequence[str], edges: Sequence[int], size: BucketSize, source: Source
    ) -> tuple[list[Cell], str]:
        """Cells on `edges` (or finer) from the rollups where valid, raw elsewhere; and which were used."""
        start, end = edges[0], edges[-1]
        state = self.rollup_state() if source == "auto" else None
        if state is None or state.until_ms <= start or state.from_ms >= end:
            return self.raw.cells(meters, edges), "raw"
        a, b = max(start, state.from_ms), min(end, state.until_ms)
        ranges: list[tuple[str, int, int]] = []
        days = None if size is BucketSize.HOUR else whole_days(a, b, self.tz)
        if days is None:
            ranges.append((HOURLY, a, b))
        else:
            ranges += [(HOURLY, a, days[0]), (DAILY, days[0], days[1]), (HOURLY, days[1], b)]
        cells = self.store.rollup_cells(meters, ranges)
        used = "rollup"
        for lo, hi in ((start, a), (b, end)):
            if hi > lo:
                cells += self.raw.cells(meters, [lo, *(e for e in edges if lo < e < hi), hi])
                used = "rollup+raw"
        return cells, used
