"""The rollup job: every meter's consumption per local hour and per local day, computed by Vigil from the raw
registers (the same code as a raw query) and stored in InfluxDB, so that long queries read a few rows.

Why not an InfluxDB continuous query: a CQ only sees the intervals just past (back-filled readings would never
reach it), stores `last(value)` at the start of the hour instead of the reading's time (so the register could
not be interpolated exactly at the edges), and knows nothing of rollovers, replacements or gaps. The job
recomputes a look-back window on every run, so late and back-filled readings within it are picked up;
`python -m api rollup --from DATE` rebuilds anything older.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from api.energy.calendar import day_start_ms, hour_edges, is_day_edge, iso_local, to_local
from api.energy.cells import Cell, add_all
from api.energy.raw import RawReader
from api.energy.store import DAILY, HOURLY, EnergyStore, RollupState

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RollupSettings:
    """When the job runs and how much it recomputes."""

    every_s: float = 300.0  # period of the background job in `python -m api serve`; 0: never
    lookback_s: int = 2 * 86_400  # recompute this much before the last run's end, for late readings
    settle_s: int = 1800  # leave the most recent hours to raw queries while their readings may still arrive
    chunk_days: int = 7  # local days computed per InfluxDB round trip


@dataclass(frozen=True, slots=True)
class RollupRun:
    """What one run did."""

    start_ms: int
    until_ms: int
    hours: int
    days: int
    seconds: float


class Rollup:
    """Compute and store the hourly and daily rollups of one site."""

    def __init__(
        self,
        store: EnergyStore,
        raw: RawReader,
        settings: RollupSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.raw = raw
        self.site = store.site
        self.tz = store.site.tz
        self.settings = settings or RollupSettings()
        self.clock = clock
        self._lock = threading.Lock()  # one run at a time in this process

    def settled_ms(self, now_ms: int) -> int:
        """The latest local whole hour at least `settle_s` old."""
        edge_to = now_ms - self.settings.settle_s * 1000
        edges = hour_edges(edge_to - 3 * 3_600_000, edge_to, self.tz)
        return edges[-1]

    def run(self, stop: threading.Event | None = None) -> RollupRun | None:
        """Bring the rollups up to date: from the first reading, or the last run's end minus the look-back."""
        now_ms = int(self.clock() * 1000)
        until = self.settled_ms(now_ms)
        state = self.store.state()
        if state is None:
            first = self.store.first_reading_ms()
            if first is None:
                logger.info("rollup %s: no readings yet", self.site.site.id)
                return None
            start = first
        else:
            start = max(state.from_ms, state.until_ms - self.settings.lookback_s * 1000)
        return self.build(start, until, now_ms, stop)

    def build(
        self, start_ms: int, until_ms: int, now_ms: int | None = None, stop: threading.Event | None = None
    ) -> RollupRun | None:
        """Recompute [start's local day, until) chunk by chunk, recording the coverage after each chunk.

        With `stop` set, it ends after the chunk in progress; what was done stays valid and recorded.
        """
        now_ms = int(self.clock() * 1000) if now_ms is None else now_ms
        start = day_start_ms(to_local(start_ms, self.tz).date(), self.tz)
        if until_ms <= start:
            return None
        with self._lock:
            began = time.monotonic()
            hours = days = 0
            cursor = start
            while cursor < until_ms and not (stop is not None and stop.is_set()):
                nxt = min(
                    until_ms,
                    day_start_ms(to_local(cursor, self.tz).date() + timedelta(self.settings.chunk_days), self.tz),
                )
                h, d = self._chunk(cursor, nxt)
                hours, days = hours + h, days + d
                cursor = nxt
                self._record(RollupState(start, cursor, now_ms))
            run = RollupRun(start, cursor, hours, days, time.monotonic() - began)
        logger.info(
            "rollup %s: %d meter-hours, %d meter-days in %.1f s (until %s)",
            self.site.site.id,
            run.hours,
            run.days,
            run.seconds,
            iso_local(cursor, self.tz),
        )
        return run

    def _record(self, done: RollupState) -> None:
        """Save the coverage, joined with what is recorded when they overlap (a run never shrinks another's)."""
        latest = self.store.state()
        if latest is not None and latest.from_ms <= done.until_ms and done.from_ms <= latest.until_ms:
            done = latest.merge(done)
        self.store.save_state(done)

    def _chunk(self, start_ms: int, end_ms: int) -> tuple[int, int]:
        """Compute, then write, the hours of [start, end) and its whole days."""
        edges = hour_edges(start_ms, end_ms, self.tz)
        meters = [m.id for m in self.site.meters]
        hours = self.raw.cells(meters, edges)
        per_day: dict[tuple[str, int], list[Cell]] = defaultdict(list)
        for cell in hours:
            per_day[(cell.meter, day_start_ms(to_local(cell.start_ms, self.tz).date(), self.tz))].append(cell)
        days: list[Cell] = []
        for (meter, day), cells in per_day.items():
            day_end = day_start_ms(to_local(day, self.tz).date() + timedelta(days=1), self.tz)
            if day_end <= end_ms and is_day_edge(day, self.tz) and day >= start_ms:
                days.append(Cell(meter, day, day_end, add_all(c.tally for c in cells)))
        self.store.write_cells(HOURLY, hours)
        self.store.write_cells(DAILY, days)
        return len(hours), len(days)


class RollupThread:
    """Run the rollup job every `every_s` seconds in a daemon thread until stopped."""

    def __init__(self, rollup: Rollup) -> None:
        self.rollup = rollup
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the loop (the first run is at once)."""
        self._thread = threading.Thread(target=self._loop, name="energy-rollup", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to end and wait for the run in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        every = self.rollup.settings.every_s
        while not self._stop.is_set():
            try:
                self.rollup.run(self._stop)
            except Exception:
                logger.exception("rollup of site %s failed; retrying in %.0f s", self.rollup.site.site.id, every)
            self._stop.wait(every)
