"""Exact, hand-computed bucket totals: interpolation at edges, sums of sub-periods, rollover, replacement,
duplicates and out-of-order readings, gaps."""

from __future__ import annotations

import random
from datetime import date
from zoneinfo import ZoneInfo

from api.energy.calendar import BucketSize, bucket_edges, day_start_ms
from api.energy.cells import MICRO, Cell, Tally, add_all, decimal_text, into_buckets, split_exact
from core.consumption import Delta, RegisterSpec, compute

H = 3_600_000
Q = 900_000  # 15 minutes
SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Register 0..999.9 (wraps at 1000), 0.1 steps, 15-minute readings, at most 40 per hour.
SPEC = RegisterSpec(modulus=1000.0, resolution=0.1, interval_s=900, max_rate_per_h=40.0)


def u(value: float) -> int:
    return round(value * MICRO)


def test_a_step_across_an_edge_is_split_by_the_interpolated_register() -> None:
    # register 100.0 at 23:30 and 104.0 at 00:30: at midnight it reads 102.0, so 2.0 on each side
    midnight = day_start_ms(date(2024, 3, 1), SHANGHAI)
    deltas = [Delta(midnight - H // 2, midnight + H // 2, 4.0)]
    before, after = split_exact(deltas, [midnight - H, midnight, midnight + H])
    assert (before.amount_u, after.amount_u) == (u(2.0), u(2.0))
    assert before.measured_ms == after.measured_ms == H // 2  # only half of each bucket has readings around it


def test_uneven_splits_still_add_up_exactly() -> None:
    # 1.0 over three hours: floor(1e6/3) = 333333, floor(2e6/3) - 333333 = 333333, 1e6 - 666666 = 333334
    deltas = [Delta(0, 3 * H, 1.0)]
    hours = split_exact(deltas, [0, H, 2 * H, 3 * H])
    assert [t.amount_u for t in hours] == [333_333, 333_333, 333_334]
    assert sum(t.amount_u for t in hours) == split_exact(deltas, [0, 3 * H])[0].amount_u == MICRO


def test_hours_add_up_to_days_to_months_to_the_year_exactly() -> None:
    rng = random.Random(5)
    start, end = day_start_ms(date(2024, 1, 1), SHANGHAI), day_start_ms(date(2025, 1, 1), SHANGHAI)
    # irregular readings (every 7..53 minutes) of an irregular load
    points, ts, value = [], start - 20 * 60_000, 5000.0
    while ts < end + H:
        points.append((ts, round(value, 2)))
        ts += rng.randint(7, 53) * 60_000
        value += rng.uniform(0, 3.3)
    deltas = compute(points, RegisterSpec(1e9, 0.01, 900, max_rate_per_h=1000.0)).deltas
    by_size = {size: split_exact(deltas, bucket_edges(start, end, size, SHANGHAI)) for size in BucketSize}
    total = split_exact(deltas, [start, end])[0].amount_u
    for size, tallies in by_size.items():
        assert sum(t.amount_u for t in tallies) == total, size
    # each month is the sum of its days, each day the sum of its hours
    days = bucket_edges(start, end, BucketSize.DAY, SHANGHAI)
    hours = bucket_edges(start, end, BucketSize.HOUR, SHANGHAI)
    hour_cells = [Cell("m", a, b, t) for a, b, t in zip(hours, hours[1:], by_size[BucketSize.HOUR], strict=False)]
    assert into_buckets(hour_cells, days) == by_size[BucketSize.DAY]
    months = bucket_edges(start, end, BucketSize.MONTH, SHANGHAI)
    day_cells = [Cell("m", a, b, t) for a, b, t in zip(days, days[1:], by_size[BucketSize.DAY], strict=False)]
    assert into_buckets(day_cells, months) == by_size[BucketSize.MONTH]
    assert [t.amount_u for t in by_size[BucketSize.YEAR]] == [total]


def test_rollover_counts_the_wrap_and_is_flagged() -> None:
    points = [(0, 995.0), (Q, 998.0), (2 * Q, 2.0), (3 * Q, 4.5)]
    tallies = split_exact(compute(points, SPEC).deltas, [0, 2 * Q, 3 * Q])
    # 998 -> 2 wraps at 1000: 4.0, not -996
    assert [t.amount_u for t in tallies] == [u(3.0 + 4.0), u(2.5)]
    assert tallies[0].flags == {"rollover"}
    assert tallies[0].estimated_u == 0 and tallies[0].measured_ms == 2 * Q  # a rollover is exact


def test_replacement_counts_the_new_register_from_zero_as_estimated() -> None:
    points = [(0, 500.0), (Q, 502.0), (2 * Q, 4.0), (3 * Q, 6.5)]
    first, swap, after = split_exact(compute(points, SPEC).deltas, [0, Q, 2 * Q, 3 * Q])
    assert (first.amount_u, swap.amount_u, after.amount_u) == (u(2.0), u(4.0), u(2.5))
    assert swap.flags == {"replacement"} and swap.estimated_u == u(4.0) and swap.measured_ms == 0
    assert after.flags == frozenset() and after.measured_ms == Q


def test_duplicates_and_out_of_order_readings_change_nothing() -> None:
    clean = [(i * Q, 100.0 + 1.5 * i) for i in range(12)]
    noisy = clean + clean[3:6] + [(5 * Q, 100.0 + 1.5 * 5)]
    random.Random(1).shuffle(noisy)
    edges = [0, 4 * Q, 8 * Q, 11 * Q]
    assert split_exact(compute(noisy, SPEC).deltas, edges) == split_exact(compute(clean, SPEC).deltas, edges)
    assert sum(t.amount_u for t in split_exact(compute(noisy, SPEC).deltas, edges)) == u(1.5 * 11)


def test_a_gap_is_spread_as_estimated_and_lowers_completeness() -> None:
    # readings every 15 min until 01:00, nothing until 04:00, then again; 6.0 used during the gap
    points = [(0, 10.0), (Q, 11.0), (2 * Q, 12.0), (3 * Q, 13.0), (4 * Q, 14.0), (4 * H, 20.0), (4 * H + Q, 21.0)]
    hours = split_exact(compute(points, SPEC).deltas, [0, H, 2 * H, 3 * H, 4 * H, 5 * H])
    assert [t.amount_u for t in hours] == [u(4.0), u(2.0), u(2.0), u(2.0), u(1.0)]
    assert [t.estimated_u for t in hours] == [0, u(2.0), u(2.0), u(2.0), 0]
    assert [t.measured_ms for t in hours] == [H, 0, 0, 0, Q]  # the last hour has one reading after 04:00
    assert all(t.flags == {"gap"} for t in hours[1:4])
    assert add_all(hours).amount_u == u(21.0 - 10.0)


def test_a_register_going_backwards_never_gives_negative_energy() -> None:
    points = [(0, 100.0), (Q, 101.0), (2 * Q, 100.5), (3 * Q, 100.8), (4 * Q, 102.0)]
    tallies = split_exact(compute(points, SPEC).deltas, [0, Q, 2 * Q, 3 * Q, 4 * Q])
    assert all(t.amount_u >= 0 for t in tallies)
    assert sum(t.amount_u for t in tallies) == u(2.0)  # counted from the highest value seen: nothing twice


def test_buckets_without_any_reading_are_empty_not_zero_complete() -> None:
    tallies = split_exact(compute([(2 * H, 1.0), (2 * H + Q, 2.0)], SPEC).deltas, [0, H, 2 * H, 3 * H])
    assert tallies[0] == Tally() and tallies[1] == Tally()
    assert tallies[2].amount_u == u(1.0) and tallies[2].measured_ms == Q


def test_decimal_text_is_exact() -> None:
    assert decimal_text(1_234_567_891) == "1234.567891"
    assert decimal_text(2_500_000) == "2.5"
    assert decimal_text(0) == "0"
    assert decimal_text(-1) == "-0.000001"
