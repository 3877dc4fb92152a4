"""Register readings of one gateway's meters, chunk by chunk, with replacements and rollovers applied."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from core.config import Meter
from core.types import UNIT_FACTORS
from simulators.meters.clock import MS_PER_DAY, Timeline, build_timeline, to_ms
from simulators.meters.faults import FaultPlan
from simulators.meters.model import LoadModel, Memo
from simulators.meters.registers import Register, RegisterFormat
from simulators.meters.seeding import rng_for


@dataclass(frozen=True, slots=True)
class RawReading:
    """A register reading as the meter holds it, before the gateway formats or garbles it."""

    meter: str
    true_ts_ms: int
    raw: float  # in `unit`
    unit: str
    seq: int
    value: float  # base unit, multiplier applied


class MeterSeries:
    """Yield the readings of a set of meters over [start_ms, end_ms) in time-ordered chunks."""

    def __init__(
        self,
        model: LoadModel,
        meters: list[Meter],
        formats: dict[str, RegisterFormat],
        faults: FaultPlan,
        start_ms: int,
        end_ms: int,
        chunk_ms: int,
    ) -> None:
        self.model, self.meters, self.formats = model, meters, formats
        self.start_ms, self.end_ms, self.chunk_ms = start_ms, end_ms, chunk_ms
        site, seed = model.site, model.seed
        self._replacements = {
            m.id: sorted((to_ms(r.at, site.tz), r.start_value) for r in faults.replacements if r.meter == m.id)
            for m in meters
        }
        rollovers = {r.meter: to_ms(r.at, site.tz) for r in faults.rollovers}
        self._registers = {
            m.id: Register(m, self._initial(m, seed) if m.id not in rollovers else self._near_wrap(m, rollovers[m.id]))
            for m in meters
        }
        self._seq = dict.fromkeys((m.id for m in meters), 0)

    def chunks(self) -> Iterator[list[RawReading]]:
        """Each chunk's readings sorted by time, then by the meters' order on the gateway."""
        lo = self.start_ms
        while lo < self.end_ms:
            hi = min(lo + self.chunk_ms, self.end_ms)
            yield self._chunk(lo, hi)
            lo = hi

    def _chunk(self, lo: int, hi: int) -> list[RawReading]:
        timelines: dict[int, Timeline] = {}
        memos: dict[int, Memo] = {}
        rows: list[tuple[int, int, RawReading]] = []
        for order, meter in enumerate(self.meters):
            ticks = _ticks(lo, hi, meter.interval_s)
            if not len(ticks):
                continue
            iv = meter.interval_s
            if iv not in timelines:
                timelines[iv] = build_timeline(ticks, iv, self.model.site.tz, self.model.seed)
                memos[iv] = {}
            energy = self.model.energy(meter.id, timelines[iv], memos[iv]).copy()
            if ticks[0] < self.start_ms + iv * 1000:  # the first reading is the starting register
                energy[0] = 0.0
            counts = self._registers[meter.id].advance(energy, self._resets(meter.id, ticks))
            fmt = self.formats[meter.id]
            factor = UNIT_FACTORS[fmt.unit][1] * meter.multiplier
            seq0 = self._seq[meter.id]
            self._seq[meter.id] = seq0 + len(ticks)
            for i, (ts, raw) in enumerate(zip(ticks.tolist(), fmt.values(counts), strict=True)):
                rows.append((ts, order, RawReading(meter.id, ts, raw, fmt.unit, seq0 + i, raw * factor)))
        rows.sort(key=lambda r: (r[0], r[1]))
        return [r[2] for r in rows]

    def _resets(self, meter_id: str, ticks: np.ndarray) -> dict[int, float]:
        """Replacement resets falling in this chunk: index of the first tick at/after the swap -> new register."""
        resets: dict[int, float] = {}
        pending = self._replacements[meter_id]
        while pending and pending[0][0] <= int(ticks[-1]):
            at_ms, start_value = pending.pop(0)
            resets[int(np.searchsorted(ticks, at_ms, side="left"))] = start_value
        return resets

    def _initial(self, meter: Meter, seed: int) -> float:
        """A plausible starting register: somewhere in the first 40% of its range."""
        return float(rng_for(seed, "initial", meter.id).uniform(0.02, 0.4)) * meter.rollover

    def _near_wrap(self, meter: Meter, at_ms: int) -> float:
        """Starting register chosen so the register wraps halfway through the interval ending at/after at_ms."""
        iv_ms = meter.interval_s * 1000
        first = -(-self.start_ms // iv_ms) * iv_ms
        target = max(-(-at_ms // iv_ms) * iv_ms, first + iv_ms)
        total, last = 0.0, 0.0
        lo = first + 1
        while lo <= target:
            hi = min(lo + 30 * MS_PER_DAY, target + 1)
            ticks = _ticks(lo, hi, meter.interval_s)
            if len(ticks):
                tl = build_timeline(ticks, meter.interval_s, self.model.site.tz, self.model.seed)
                energy = self.model.energy(meter.id, tl) / meter.multiplier
                total += float(energy.sum())
                last = float(energy[-1])
            lo = hi
        span = meter.rollover + meter.resolution
        return (span - total + last / 2) % span


def _ticks(lo: int, hi: int, interval_s: int) -> np.ndarray:
    """Epoch-aligned reading times of an interval in [lo, hi)."""
    step = interval_s * 1000
    first = -(-lo // step) * step
    return np.arange(first, hi, step, dtype=np.int64)
