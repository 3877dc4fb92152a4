"""Local-calendar buckets (hour, day, ISO week, month, year) in the site's time zone, as UTC epoch ms edges.

Pure functions. A bucket is [edge[i], edge[i+1]). Days start at local midnight (00:00 Asia/Shanghai is 16:00 UTC
the day before); a local hour, day, week, month or year is whatever length the zone makes it (23 or 25 hours on
a DST change day), because every edge is computed from the local wall clock through zoneinfo.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

MS_PER_HOUR = 3_600_000


class BucketSize(StrEnum):
    """Calendar bucket a query is split into."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"  # ISO week: starts Monday 00:00 local
    MONTH = "month"
    YEAR = "year"


def to_local(ts_ms: int, tz: ZoneInfo) -> datetime:
    """The aware local datetime of an instant."""
    return datetime.fromtimestamp(ts_ms / 1000, tz)


def local_ms(wall: datetime, tz: ZoneInfo) -> int:
    """UTC epoch ms of a naive local wall time (first occurrence if it repeats)."""
    return int(wall.replace(tzinfo=tz, fold=0).timestamp() * 1000)


def iso_local(ts_ms: int, tz: ZoneInfo) -> str:
    """RFC 3339 local time with offset, to the second."""
    return to_local(ts_ms, tz).isoformat(timespec="seconds")


def day_start_ms(day: date, tz: ZoneInfo) -> int:
    """UTC epoch ms of the first instant of a local calendar day."""
    # A midnight skipped by a DST change maps (fold=0, the old offset) to the first instant that exists.
    return local_ms(datetime.combine(day, time(0)), tz)


def is_hour_edge(ts_ms: int, tz: ZoneInfo) -> bool:
    """True if the instant is a whole local hour (hh:00:00.000 on the local clock)."""
    wall = to_local(ts_ms, tz)
    return ts_ms % 1000 == 0 and wall.minute == 0 and wall.second == 0


def hour_edges(start_ms: int, end_ms: int, tz: ZoneInfo) -> list[int]:
    """Every local whole-hour instant in [start_ms, end_ms], sorted (repeated DST hours appear twice)."""
    edges: set[int] = set()
    day = to_local(start_ms, tz).date() - timedelta(days=1)
    last = to_local(end_ms, tz).date() + timedelta(days=1)
    while day <= last:
        for hour in range(24):
            wall = datetime.combine(day, time(hour))
            for fold in (0, 1):
                ts = int(wall.replace(tzinfo=tz, fold=fold).timestamp() * 1000)
                if start_ms <= ts <= end_ms and is_hour_edge(ts, tz):
                    edges.add(ts)
        day += timedelta(days=1)
    return sorted(edges)


def _period_starts(first: date, last: date, size: BucketSize) -> list[date]:
    """Local dates on which a day/week/month/year bucket starts, from the one containing `first` to `last`."""
    if size is BucketSize.DAY:
        cursor = first
    elif size is BucketSize.WEEK:
        cursor = first - timedelta(days=first.weekday())
    elif size is BucketSize.MONTH:
        cursor = first.replace(day=1)
    else:
        cursor = first.replace(month=1, day=1)
    out: list[date] = []
    while cursor <= last:
        out.append(cursor)
        if size is BucketSize.DAY:
            cursor += timedelta(days=1)
        elif size is BucketSize.WEEK:
            cursor += timedelta(days=7)
        elif size is BucketSize.MONTH:
            cursor = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
        else:
            cursor = date(cursor.year + 1, 1, 1)
    return out


def bucket_edges(start_ms: int, end_ms: int, size: BucketSize, tz: ZoneInfo) -> list[int]:
    """Edges of the calendar buckets covering [start_ms, end_ms), the first and last clipped to the range."""
    if end_ms <= start_ms:
        raise ValueError("end must be after start")
    if size is BucketSize.HOUR:
        inner = hour_edges(start_ms, end_ms, tz)
    else:
        first = to_local(start_ms, tz).date()
        last = to_local(end_ms, tz).date()
        inner = [day_start_ms(d, tz) for d in _period_starts(first, last, size)]
    return [start_ms, *(e for e in inner if start_ms < e < end_ms), end_ms]


def count_buckets(start_ms: int, end_ms: int, size: BucketSize) -> int:
    """Upper bound of the number of buckets, cheap enough to refuse a huge query before building it."""
    span_h = (end_ms - start_ms) / MS_PER_HOUR
    per = {BucketSize.HOUR: 1, BucketSize.DAY: 23, BucketSize.WEEK: 167, BucketSize.MONTH: 671, BucketSize.YEAR: 8759}
    return int(span_h // per[size]) + 2


def whole_days(start_ms: int, end_ms: int, tz: ZoneInfo) -> tuple[int, int] | None:
    """(first, last) local midnight of the whole local days inside [start_ms, end_ms); None if there are none."""
    first = (
        start_ms if is_day_edge(start_ms, tz) else day_start_ms(to_local(start_ms, tz).date() + timedelta(days=1), tz)
    )
    last = day_start_ms(to_local(end_ms, tz).date(), tz)
    return (first, last) if first < last else None


def is_day_edge(ts_ms: int, tz: ZoneInfo) -> bool:
    """True if the instant is the start of a local calendar day."""
    return ts_ms == day_start_ms(to_local(ts_ms, tz).date(), tz)


def shift_years(day: date, years: int) -> date:
    """The same calendar date `years` later (negative: earlier); 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def year_fraction(start_ms: int, end_ms: int, tz: ZoneInfo) -> float:
    """How much of a year [start, end) is: each local day counts 1/365 or 1/366 of its year, pro rata."""
    total = 0.0
    cursor = start_ms
    while cursor < end_ms:
        day = to_local(cursor, tz).date()
        day_end = day_start_ms(day + timedelta(days=1), tz)
        day_len = day_end - day_start_ms(day, tz)
        days_in_year = 366 if _leap(day.year) else 365
        total += (min(end_ms, day_end) - cursor) / day_len / days_in_year
        cursor = day_end
    return total


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def parse_local_hour(text: str, tz: ZoneInfo) -> int:
    """`YYYY-MM-DD` (local midnight) or ISO 8601 (no offset: local time) on a whole local hour -> UTC epoch ms."""
    try:
        wall = datetime.combine(date.fromisoformat(text), time(0)) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("expected a date YYYY-MM-DD or an ISO 8601 time such as 2024-06-01T08:00") from None
    if not 1971 <= wall.year <= 9998:
        raise ValueError("year out of range")
    if wall.tzinfo is None:
        ts = local_ms(wall, tz)
        if to_local(ts, tz).replace(tzinfo=None) != wall:
            raise ValueError(f"{text} does not exist in {tz.key} (the clocks skip it)")
    else:
        ts = int(wall.timestamp() * 1000)
    if not is_hour_edge(ts, tz):
        raise ValueError(f"must be a whole local hour in {tz.key} (minutes and seconds zero)")
    return ts
