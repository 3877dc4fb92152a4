"""What the energy rules look at: each meter's consumption over the look-back, in exact local-time windows.

A window is judged only when it is *complete and exact* (no gap, jump, replacement or backwards step inside:
see `core.consumption.Bucket.exact`); one that is not is "unknown", never "fine", so missing data neither
raises nor resolves an alert.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from core.config import AlertRules, Meter, SiteConfig
from core.consumption import Bucket, Consumption, RegisterSpec, WorkCalendar, allocate, compute, window_ms

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True, slots=True)
class MeterData:
    """One meter's consumption over the look-back."""

    meter: Meter
    consumption: Consumption
    last_ts_ms: int | None


def prepare(site: SiteConfig, series: Mapping[str, list[tuple[int, float]]]) -> dict[str, MeterData]:
    """Compute the consumption of every configured meter from its register series."""
    gap_factor = site.alerts.data_quality.gap_factor
    out: dict[str, MeterData] = {}
    for meter in site.meters:
        points = series.get(meter.id, [])
        consumption = compute(points, RegisterSpec.of(meter, gap_factor=gap_factor))
        last = max((t for t, _ in points), default=None)
        out[meter.id] = MeterData(meter, consumption, last)
    return out


def calendar_of(rules: AlertRules) -> WorkCalendar:
    """The working-day calendar the rules configure."""
    c = rules.calendar
    return WorkCalendar(c.country, frozenset(c.extra_holidays), frozenset(c.extra_workdays))


def lookback_days(rules: AlertRules) -> int:
    """Days of history the energy rules need."""
    return 2 + max(
        rules.leak.baseline_days,
        7 * rules.daily.baseline_weeks,
        7 * rules.base_load.baseline_weeks,
        int(rules.leak.never_zero_h // 24) + 1,
        int(rules.data_quality.window_h // 24) + 1,
    )


def buckets(data: MeterData, edges: Sequence[int]) -> list[Bucket]:
    """`allocate` over only the steps that overlap [edges[0], edges[-1]]: the rules look at short windows."""
    deltas = data.consumption.deltas  # consecutive steps, in time order (`compute`)
    first = bisect.bisect_right(deltas, edges[0], key=lambda d: d.end_ms)
    last = bisect.bisect_left(deltas, edges[-1], key=lambda d: d.start_ms)
    return allocate(deltas[first:last], edges)


def exact_window(data: MeterData, lo: int, hi: int, step_ms: int | None = None) -> list[Bucket] | None:
    """Buckets of [lo, hi) (one, or `step_ms` long); None unless every one is exact."""
    edges = [lo, hi] if step_ms is None else [*range(lo, hi, step_ms), hi]
    found = buckets(data, edges)
    return found if found and all(b.exact for b in found) else None


def mean_rate(data: MeterData, lo: int, hi: int) -> float | None:
    """Mean consumption per hour over [lo, hi) (kW for electricity), or None unless exact."""
    found = exact_window(data, lo, hi)
    return None if found is None else found[0].amount / found[0].hours


def local_days(data: MeterData, first: date, last: date, tz: ZoneInfo) -> dict[date, Bucket]:
    """Consumption of each local day from `first` to `last`, both included."""
    days = [first + timedelta(i) for i in range((last - first).days + 1)]
    edges = [window_ms(d, "00:00", "00:00", tz)[0] for d in days]
    edges.append(window_ms(last, "00:00", "00:00", tz)[1])
    return dict(zip(days, buckets(data, edges), strict=True))
