"""Interval consumption from a cumulative register series, robust to rollover, replacement, noise and gaps.

Pure functions, no I/O: the alert rules and the energy API share them. Values are in the kind's base unit
(kWh or m³) with the multiplier applied, as stored in `meter_register.value`.

How a step between two readings is read (prev → new, `dt` apart):

* rises by no more than plausible for `dt`: consumption `new - prev`;
* rises by more (a spike, a swapped meter starting higher): consumption unknown, counted 0, flagged `jump`;
* falls, and wrapping round the register (`modulus - prev + new`) is plausible for `dt`: a `rollover`;
* falls by no more than one plausible interval: the register went `backwards` (noise, a re-read);
  consumption 0 and later readings count from the highest value seen, so nothing is counted twice;
* falls by more: a meter `replacement`; the new register counts from 0, so the step's consumption is
  `new` if that is plausible, else unknown (0); later readings count from `new`.

"Plausible" is `max_rate_per_h × dt + resolution`. Given no rate, it is learnt from the series itself:
`spike_factor ×` the 95th percentile of its rising rates, at least `floor_steps` register steps per interval.
A step longer than `gap_factor × interval_s` is flagged `gap` (its consumption is still counted: the
register is continuous, only the timing inside the gap is unknown). Consumption is never negative.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

import holidays

if TYPE_CHECKING:
    from core.config import Meter

AnomalyKind = Literal["gap", "rollover", "replacement", "backwards", "jump", "conflict"]
ANOMALY_KINDS: tuple[AnomalyKind, ...] = ("gap", "rollover", "replacement", "backwards", "jump", "conflict")
#: Flags of a step whose amount (counted 0 or from an assumed new base) or timing is not known exactly.
UNTRUSTED = frozenset({"jump", "backwards", "replacement", "gap"})


@dataclass(frozen=True, slots=True)
class RegisterSpec:
    """What is needed to read one meter's register series, in base units."""

    modulus: float  # the register wraps to 0 at this value: (rollover + resolution) × multiplier
    resolution: float  # one register step × multiplier
    interval_s: int  # expected reading interval
    gap_factor: float = 2.0  # a step longer than gap_factor × interval_s is a gap
    max_rate_per_h: float | None = None  # plausible consumption per hour; None: learnt from the series
    spike_factor: float = 20.0  # learnt bound = spike_factor × 95th percentile of rising rates
    floor_steps: float = 100.0  # ... but at least this many register steps per interval

    def __post_init__(self) -> None:
        if not (self.modulus > 0 and self.resolution > 0 and self.resolution < self.modulus):
            raise ValueError("RegisterSpec needs 0 < resolution < modulus")
        if self.interval_s <= 0 or self.gap_factor < 1 or self.spike_factor < 1 or self.floor_steps <= 0:
            raise ValueError("RegisterSpec needs interval_s > 0, gap_factor >= 1, spike_factor >= 1, floor_steps > 0")
        if self.max_rate_per_h is not None and not self.max_rate_per_h > 0:
            raise ValueError("RegisterSpec.max_rate_per_h must be > 0")

    @classmethod
    def of(cls, meter: Meter, gap_factor: float = 2.0, max_rate_per_h: float | None = None) -> RegisterSpec:
        """Build the spec of a configured meter."""
        return cls(
            modulus=(meter.rollover + meter.resolution) * meter.multiplier,
            resolution=meter.resolution * meter.multiplier,
            interval_s=meter.interval_s,
            gap_factor=gap_factor,
            max_rate_per_h=max_rate_per_h,
        )


@dataclass(frozen=True, slots=True)
class Delta:
    """Consumption between two consecutive readings, (start_ms, end_ms]; never negative."""

    start_ms: int
    end_ms: int
    amount: float
    flags: tuple[str, ...] = ()  # sorted subset of ANOMALY_KINDS that affected this step

    @property
    def duration_s(self) -> float:
        """Length of the step in seconds."""
        return (self.end_ms - self.start_ms) / 1000

    @property
    def rate_per_h(self) -> float:
        """Mean consumption per hour over the step."""
        return self.amount * 3_600_000 / (self.end_ms - self.start_ms)

    @property
    def trusted(self) -> bool:
        """True unless the step's consumption is unknown (counted as 0) or its timing is."""
        return not (UNTRUSTED & set(self.flags))


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A data-quality event found in a register series."""

    kind: AnomalyKind
    ts_ms: int  # time of the reading where it shows
    detail: str
    prev: float | None = None  # register before (base units)
    value: float | None = None  # register at ts_ms (base units)


@dataclass(frozen=True, slots=True)
class Consumption:
    """The consumption steps of a series and what was odd about it."""

    deltas: tuple[Delta, ...]
    anomalies: tuple[Anomaly, ...]
    max_rate_per_h: float  # the plausibility bound used

    @property
    def total(self) -> float:
        """Sum of all steps."""
        return math.fsum(d.amount for d in self.deltas)


@dataclass(frozen=True, slots=True)
class Bucket:
    """Consumption allotted to one time bucket [start_ms, end_ms)."""

    start_ms: int
    end_ms: int
    amount: float
    covered_ms: int  # how much of the bucket lies inside some step
    flags: tuple[str, ...] = ()  # union of the flags of the steps contributing to it, sorted

    @property
    def complete(self) -> bool:
        """True if steps cover the whole bucket."""
        return self.covered_ms >= self.end_ms - self.start_ms

    @property
    def exact(self) -> bool:
        """True if the bucket is complete and no step in it had an unknown amount or timing."""
        return self.complete and not (UNTRUSTED & set(self.flags))

    @property
    def hours(self) -> float:
        """Length of the bucket in hours."""
        return (self.end_ms - self.start_ms) / 3_600_000


def clean_points(points: Iterable[tuple[int, float]]) -> tuple[list[tuple[int, float]], list[Anomaly]]:
    """Sort by time and drop repeated timestamps (the last one wins; differing values are a `conflict`)."""
    latest: dict[int, float] = {}
    anomalies: list[Anomaly] = []
    for ts, value in points:
        if not math.isfinite(value):
            raise ValueError(f"register value at {ts} is not finite")
        if ts in latest and not math.isclose(latest[ts], value, rel_tol=0, abs_tol=1e-9):
            anomalies.append(Anomaly("conflict", ts, "two different values at the same time", latest[ts], value))
        latest[ts] = value
    return sorted(latest.items()), anomalies


def learn_max_rate(points: Sequence[tuple[int, float]], spec: RegisterSpec) -> float:
    """Plausible consumption per hour: the spec's, else spike_factor × p95 of rising rates (with a floor)."""
    if spec.max_rate_per_h is not None:
        return spec.max_rate_per_h
    floor = spec.floor_steps * spec.resolution * 3600 / spec.interval_s
    gap_ms = spec.gap_factor * spec.interval_s * 1000
    rates = sorted(
        (b - a) * 3_600_000 / (tb - ta)
        for (ta, a), (tb, b) in pairwise(points)
        if b - a > spec.resolution / 2 and tb - ta <= gap_ms
    )
    if not rates:
        return floor
    p95 = rates[min(len(rates) - 1, math.ceil(0.95 * len(rates)) - 1)]
    return max(floor, spec.spike_factor * p95)


def compute(points: Iterable[tuple[int, float]], spec: RegisterSpec) -> Consumption:
    """Turn (ts_ms, register) readings into non-negative consumption steps and data-quality anomalies."""
    series, anomalies = clean_points(points)
    max_rate = learn_max_rate(series, spec)
    half = spec.resolution / 2
    gap_ms = spec.gap_factor * spec.interval_s * 1000
    deltas: list[Delta] = []
    if not series:
        return Consumption((), tuple(anomalies), max_rate)
    last_ts, last = series[0]
    base = last  # what the next rise counts from: the highest value seen since the last reset
    for ts, value in series[1:]:
        dt_ms = ts - last_ts
        plausible = max_rate * dt_ms / 3_600_000 + spec.resolution
        flags: set[str] = set()
        if dt_ms > gap_ms:
            flags.add("gap")
            anomalies.append(Anomaly("gap", ts, f"no reading for {dt_ms / 1000:.0f} s", last, value))
        rise = value - base
        if rise >= -half:
            if rise <= plausible:
                amount = max(rise, 0.0)
            else:
                amount = 0.0
                flags.add("jump")
                anomalies.append(Anomaly("jump", ts, f"register rose {rise:.6g}, more than plausible", base, value))
            base = value
        else:
            amount, base = _drop(value, base, last, ts, plausible, spec, flags, anomalies)
        deltas.append(Delta(last_ts, ts, amount, tuple(sorted(flags))))
        last_ts, last = ts, value
    return Consumption(tuple(deltas), tuple(anomalies), max_rate)


def _drop(
    value: float,
    base: float,
    last: float,
    ts: int,
    plausible: float,
    spec: RegisterSpec,
    flags: set[str],
    anomalies: list[Anomaly],
) -> tuple[float, float]:
    """Read a fall of the register below `base`; return (consumption, new base)."""
    wrapped = spec.modulus - base + value
    if 0 <= wrapped <= plausible:
        flags.add("rollover")
        anomalies.append(Anomaly("rollover", ts, f"register wrapped at {spec.modulus:.6g}", base, value))
        return wrapped, value
    fall = base - value
    if fall <= plausible:
        flags.add("backwards")
        if value < last - spec.resolution / 2:  # report the step down once, not every reading below the peak
            anomalies.append(Anomaly("backwards", ts, f"register went back {fall:.6g}", last, value))
        return 0.0, base
    flags.add("replacement")
    known = value <= plausible
    detail = f"register fell {fall:.6g}: new register" + ("" if known else f" starting at {value:.6g} (unknown)")
    anomalies.append(Anomaly("replacement", ts, detail, base, value))
    return (value if known else 0.0), value


def allocate(deltas: Sequence[Delta], edges_ms: Sequence[int]) -> list[Bucket]:
    """Spread each step's consumption over buckets [edges[i], edges[i+1]) in proportion to time."""
    buckets: list[Bucket] = []
    n = len(edges_ms) - 1
    amounts = [0.0] * max(n, 0)
    covered = [0] * max(n, 0)
    flags: list[set[str]] = [set() for _ in range(max(n, 0))]
    j = 0
    for d in sorted(deltas, key=lambda x: x.start_ms):
        span = d.end_ms - d.start_ms
        if span <= 0:
            continue
        while j < n and edges_ms[j + 1] <= d.start_ms:
            j += 1
        k = j
        while k < n and edges_ms[k] < d.end_ms:
            lo, hi = max(d.start_ms, edges_ms[k]), min(d.end_ms, edges_ms[k + 1])
            if hi > lo:
                amounts[k] += d.amount * (hi - lo) / span
                covered[k] += hi - lo
                flags[k].update(d.flags)
            k += 1
    for i in range(n):
        buckets.append(Bucket(edges_ms[i], edges_ms[i + 1], amounts[i], covered[i], tuple(sorted(flags[i]))))
    return buckets


def local_midnight_ms(day: date, tz: ZoneInfo) -> int:
    """UTC epoch ms of the local midnight starting `day`."""
    return int(datetime.combine(day, time(0), tzinfo=tz).timestamp() * 1000)


def local_day(ts_ms: int, tz: ZoneInfo) -> date:
    """Local calendar date of an instant."""
    return datetime.fromtimestamp(ts_ms / 1000, tz).date()


def daily(deltas: Sequence[Delta], tz: ZoneInfo) -> dict[date, Bucket]:
    """Consumption per local calendar day (pro rata across midnight), for every day the steps touch."""
    if not deltas:
        return {}
    first = local_day(min(d.start_ms for d in deltas), tz)
    last = local_day(max(d.end_ms for d in deltas) - 1, tz)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    edges = [local_midnight_ms(d, tz) for d in days] + [local_midnight_ms(last + timedelta(days=1), tz)]
    return dict(zip(days, allocate(deltas, edges), strict=True))


def window_ms(day: date, start: str, end: str, tz: ZoneInfo) -> tuple[int, int]:
    """UTC ms bounds of the local window "HH:MM"-"HH:MM" starting on `day`; crosses midnight if end <= start."""
    lo = datetime.combine(day, _clock(start), tzinfo=tz)
    hi_day = day + timedelta(days=1) if end <= start else day
    hi = datetime.combine(hi_day, _clock(end), tzinfo=tz)
    return int(lo.timestamp() * 1000), int(hi.timestamp() * 1000)


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


@lru_cache(maxsize=256)
def _holidays(country: str, year: int) -> holidays.HolidayBase:
    calendar: holidays.HolidayBase = holidays.country_holidays(country, years=year)
    return calendar


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Working days: the country's calendar (holidays, make-up workdays), overridden by local extra days."""

    country: str = "CN"
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        """True on a working day."""
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        return bool(_holidays(self.country, day.year).is_working_day(day))
