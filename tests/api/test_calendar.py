"""Local-calendar buckets: Asia/Shanghai days start at 16:00 UTC the day before; DST days are 23 or 25 hours."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from api.energy.calendar import (
    BucketSize,
    bucket_edges,
    day_start_ms,
    hour_edges,
    is_hour_edge,
    iso_local,
    parse_local_hour,
    whole_days,
    year_fraction,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")  # +05:30: local hours are not UTC hours
H = 3_600_000


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def test_a_shanghai_day_starts_at_16_utc_the_day_before() -> None:
    assert day_start_ms(date(2024, 3, 1), SHANGHAI) == utc(2024, 2, 29, 16)
    edges = bucket_edges(utc(2024, 2, 29, 16), utc(2024, 3, 3, 16), BucketSize.DAY, SHANGHAI)
    assert edges == [utc(2024, 2, 29, 16), utc(2024, 3, 1, 16), utc(2024, 3, 2, 16), utc(2024, 3, 3, 16)]
    assert iso_local(edges[1], SHANGHAI) == "2024-03-02T00:00:00+08:00"


def test_month_and_year_edges_are_local_and_partial_ends_are_clipped() -> None:
    start = day_start_ms(date(2024, 1, 15), SHANGHAI)
    end = day_start_ms(date(2024, 3, 10), SHANGHAI)
    assert bucket_edges(start, end, BucketSize.MONTH, SHANGHAI) == [
        start,
        utc(2024, 1, 31, 16),  # 1 February 00:00 +08:00
        utc(2024, 2, 29, 16),  # 1 March
        end,
    ]
    years = bucket_edges(day_start_ms(date(2023, 7, 1), SHANGHAI), utc(2025, 1, 1), BucketSize.YEAR, SHANGHAI)
    assert years[1] == utc(2023, 12, 31, 16) and years[2] == utc(2024, 12, 31, 16)  # 1 January local
    assert years[-1] == utc(2025, 1, 1)


def test_weeks_start_on_monday() -> None:
    edges = bucket_edges(
        day_start_ms(date(2024, 3, 1), SHANGHAI), day_start_ms(date(2024, 3, 20), SHANGHAI), BucketSize.WEEK, SHANGHAI
    )
    assert [datetime.fromtimestamp(e / 1000, SHANGHAI).date() for e in edges] == [
        date(2024, 3, 1),  # a Friday: the first week is clipped
        date(2024, 3, 4),
        date(2024, 3, 11),
        date(2024, 3, 18),
        date(2024, 3, 20),
    ]


def test_dst_days_have_23_and_25_hours() -> None:
    spring = bucket_edges(
        day_start_ms(date(2024, 3, 30), BERLIN), day_start_ms(date(2024, 4, 2), BERLIN), BucketSize.DAY, BERLIN
    )
    assert [(b - a) // H for a, b in pairwise(spring)] == [24, 23, 24]
    autumn_start, autumn_end = day_start_ms(date(2024, 10, 27), BERLIN), day_start_ms(date(2024, 10, 28), BERLIN)
    assert autumn_end - autumn_start == 25 * H
    hours = bucket_edges(autumn_start, autumn_end, BucketSize.HOUR, BERLIN)
    assert len(hours) - 1 == 25  # 02:00-03:00 happens twice
    labels = [iso_local(e, BERLIN) for e in hours[2:5]]
    assert labels == ["2024-10-27T02:00:00+02:00", "2024-10-27T02:00:00+01:00", "2024-10-27T03:00:00+01:00"]


def test_hours_follow_the_local_clock_in_half_hour_zones() -> None:
    edges = hour_edges(utc(2024, 1, 1, 0), utc(2024, 1, 1, 3), KOLKATA)
    assert edges == [utc(2024, 1, 1, 0, 30), utc(2024, 1, 1, 1, 30), utc(2024, 1, 1, 2, 30)]
    assert not is_hour_edge(utc(2024, 1, 1, 1), KOLKATA)


def test_whole_days_inside_a_range() -> None:
    start = day_start_ms(date(2024, 5, 1), SHANGHAI) + 6 * H
    end = day_start_ms(date(2024, 5, 4), SHANGHAI) + 5 * H
    assert whole_days(start, end, SHANGHAI) == (
        day_start_ms(date(2024, 5, 2), SHANGHAI),
        day_start_ms(date(2024, 5, 4), SHANGHAI),
    )
    assert whole_days(start, start + 10 * H, SHANGHAI) is None


def test_year_fraction_is_one_for_a_calendar_year() -> None:
    for year in (2023, 2024):
        start, end = day_start_ms(date(year, 1, 1), SHANGHAI), day_start_ms(date(year + 1, 1, 1), SHANGHAI)
        assert year_fraction(start, end, SHANGHAI) == pytest.approx(1.0, abs=1e-12)
    june = year_fraction(day_start_ms(date(2024, 6, 1), SHANGHAI), day_start_ms(date(2024, 7, 1), SHANGHAI), SHANGHAI)
    assert june == pytest.approx(30 / 366)


def test_parse_local_hour() -> None:
    assert parse_local_hour("2024-03-01", SHANGHAI) == utc(2024, 2, 29, 16)
    assert parse_local_hour("2024-03-01T08:00", SHANGHAI) == utc(2024, 3, 1, 0)
    assert parse_local_hour("2024-03-01T00:00:00Z", SHANGHAI) == utc(2024, 3, 1, 0)
    with pytest.raises(ValueError, match="whole local hour"):
        parse_local_hour("2024-03-01T08:30", SHANGHAI)
    with pytest.raises(ValueError, match="whole local hour"):
        parse_local_hour("2024-01-01T01:00:00+00:00", KOLKATA)
    with pytest.raises(ValueError, match="does not exist"):
        parse_local_hour("2024-03-31T02:00", BERLIN)
    with pytest.raises(ValueError, match="expected a date"):
        parse_local_hour("yesterday", SHANGHAI)
