"""Local-time calendar features of a timestamp grid: hour of day, working day, month, outdoor temperature."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
import numpy as np

from simulators.meters.seeding import rng_for

MS_PER_DAY = 86_400_000


@lru_cache(maxsize=64)
def _china(year: int) -> holidays.HolidayBase:
    calendar: holidays.HolidayBase = holidays.country_holidays("CN", years=year)
    return calendar


def is_working_day(day: date) -> bool:
    """True on a Chinese working day: weekdays that are not public holidays, plus make-up weekend workdays."""
    return bool(_china(day.year).is_working_day(day))


def outdoor_temp_c(day: date, seed: int) -> float:
    """Synthetic daily mean outdoor temperature of a humid subtropical city (about 5 °C in Jan, 28 °C in Jul)."""
    doy = day.timetuple().tm_yday
    seasonal = 16.5 - 11.5 * math.cos(2 * math.pi * (doy - 20) / 365.25)
    return seasonal + float(rng_for(seed, "weather", day.toordinal()).normal(0.0, 2.0))


@dataclass(frozen=True, slots=True, eq=False)
class Timeline:
    """Calendar features of interval-end timestamps, evaluated at each interval's midpoint in local time."""

    ts_ms: np.ndarray  # int64 UTC epoch ms, end of each interval
    interval_s: int
    hour: np.ndarray  # float local hour of the midpoint, 0 <= hour < 24
    workday: np.ndarray  # bool
    month: np.ndarray  # int 1..12
    day: np.ndarray  # int local date ordinal
    temp_c: np.ndarray  # float daily mean outdoor temperature

    def __len__(self) -> int:
        return int(self.ts_ms.shape[0])


def build_timeline(ts_ms: np.ndarray, interval_s: int, tz: ZoneInfo, seed: int) -> Timeline:
    """Compute the local calendar features of every interval ending at `ts_ms`."""
    n = int(ts_ms.shape[0])
    hour = np.empty(n, dtype=np.float64)
    workday = np.empty(n, dtype=bool)
    month = np.empty(n, dtype=np.int64)
    day = np.empty(n, dtype=np.int64)
    temp = np.empty(n, dtype=np.float64)
    day_cache: dict[date, tuple[bool, float]] = {}
    half_ms = interval_s * 500
    for i, ts in enumerate(ts_ms.tolist()):
        local = datetime.fromtimestamp((ts - half_ms) / 1000, tz)
        d = local.date()
        if d not in day_cache:
            day_cache[d] = (is_working_day(d), outdoor_temp_c(d, seed))
        hour[i] = local.hour + local.minute / 60 + local.second / 3600
        workday[i], temp[i] = day_cache[d]
        month[i] = local.month
        day[i] = d.toordinal()
    return Timeline(ts_ms, interval_s, hour, workday, month, day, temp)


def format_rfc3339(ts_ms: int, tz: ZoneInfo) -> str:
    """Format UTC epoch ms as RFC 3339 in `tz` with its offset, e.g. 2026-11-25T08:15:00+08:00."""
    local = datetime.fromtimestamp(ts_ms // 1000, tz) + timedelta(milliseconds=ts_ms % 1000)
    return local.isoformat(timespec="milliseconds" if ts_ms % 1000 else "seconds")


def to_ms(moment: datetime, tz: ZoneInfo) -> int:
    """Convert a datetime to UTC epoch ms; a naive datetime is taken as local time in `tz`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return round(moment.timestamp() * 1000)
