"""Exact, hand-computed cases of interval consumption from register series."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from core.config import Meter
from core.consumption import (
    Anomaly,
    Delta,
    RegisterSpec,
    WorkCalendar,
    allocate,
    clean_points,
    compute,
    daily,
    learn_max_rate,
    local_midnight_ms,
    window_ms,
)
from core.types import Item, Kind

IV = 900_000  # 15 minutes in ms
#: Register of 0..999.9 (wraps at 1000), 0.1 steps, 15-minute readings, at most 40 per hour (10.1 per step).
SPEC = RegisterSpec(modulus=1000.0, resolution=0.1, interval_s=900, max_rate_per_h=40.0)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def amounts(points: list[tuple[int, float]], spec: RegisterSpec = SPEC) -> list[float]:
    return [d.amount for d in compute(points, spec).deltas]


def test_plain_rises_are_the_differences() -> None:
    result = compute([(0, 100.0), (IV, 102.0), (2 * IV, 105.0)], SPEC)
    assert result.deltas == (Delta(0, IV, 2.0), Delta(IV, 2 * IV, 3.0))
    assert result.anomalies == ()
    assert result.total == 5.0


def test_rollover_adds_the_rest_of_the_register() -> None:
    result = compute([(0, 995.0), (IV, 3.0), (2 * IV, 4.5)], SPEC)
    # 1000 - 995 + 3 = 8, then 1.5
    assert amounts([(0, 995.0), (IV, 3.0), (2 * IV, 4.5)]) == [8.0, 1.5]
    assert result.deltas[0].flags == ("rollover",)
    assert result.anomalies == (Anomaly("rollover", IV, "register wrapped at 1000", 995.0, 3.0),)


def test_replacement_counts_from_the_new_register() -> None:
    result = compute([(0, 500.0), (IV, 502.0), (2 * IV, 4.0), (3 * IV, 6.5)], SPEC)
    # the new register started at 0: 4.0 in the swap interval, then 2.5
    assert [d.amount for d in result.deltas] == [2.0, 4.0, 2.5]
    assert result.deltas[1].flags == ("replacement",)
    assert [a.kind for a in result.anomalies] == ["replacement"]
    assert (result.anomalies[0].prev, result.anomalies[0].value) == (502.0, 4.0)


def test_replacement_starting_high_is_unknown_not_negative() -> None:
    result = compute([(0, 500.0), (IV, 50.0), (2 * IV, 53.0)], SPEC)
    # 50 is more than one plausible step (10.1): the swap interval's use is unknown, counted 0
    assert [d.amount for d in result.deltas] == [0.0, 3.0]
    assert "unknown" in result.anomalies[0].detail


def test_small_backwards_step_is_flagged_and_never_counted_twice() -> None:
    result = compute([(0, 100.0), (IV, 99.5), (2 * IV, 99.8), (3 * IV, 101.0)], SPEC)
    # counted from the peak 100: 0, 0, 1.0 (a naive reading would give -0.5, 0.3, 1.2)
    assert [d.amount for d in result.deltas] == [0.0, 0.0, 1.0]
    assert [d.flags for d in result.deltas] == [("backwards",), ("backwards",), ()]
    assert result.anomalies == (Anomaly("backwards", IV, "register went back 0.5", 100.0, 99.5),)
    assert result.total == 1.0


def test_spike_is_a_jump_and_its_return_counts_nothing() -> None:
    result = compute([(0, 100.0), (IV, 200.0), (2 * IV, 102.0), (3 * IV, 103.0)], SPEC)
    assert [d.amount for d in result.deltas] == [0.0, 0.0, 1.0]
    assert [a.kind for a in result.anomalies] == ["jump", "replacement"]
    assert all(d.amount >= 0 for d in result.deltas)


def test_gap_is_flagged_and_its_consumption_kept() -> None:
    result = compute([(0, 100.0), (IV, 101.0), (4 * IV, 107.0)], SPEC)
    assert [d.amount for d in result.deltas] == [1.0, 6.0]
    assert result.deltas[1].flags == ("gap",)
    assert result.anomalies == (Anomaly("gap", 4 * IV, "no reading for 2700 s", 101.0, 107.0),)
    assert not result.deltas[1].trusted and result.deltas[0].trusted


def test_gap_scales_what_is_plausible() -> None:
    # 25 in 45 min is above one 15-minute step (10.1) but below 40/h × 0.75 h + 0.1 = 30.1
    assert amounts([(0, 100.0), (3 * IV, 125.0)]) == [25.0]


def test_rollover_across_a_gap() -> None:
    assert amounts([(0, 990.0), (3 * IV, 15.0)]) == [25.0]


def test_duplicates_and_disorder_are_cleaned() -> None:
    points = [(2 * IV, 105.0), (0, 100.0), (IV, 102.0), (IV, 102.0)]
    assert amounts(points) == [2.0, 3.0]
    series, anomalies = clean_points([(IV, 102.0), (0, 100.0), (IV, 103.0)])
    assert series == [(0, 100.0), (IV, 103.0)]
    assert anomalies == [Anomaly("conflict", IV, "two different values at the same time", 102.0, 103.0)]


def test_no_or_one_point_gives_no_steps() -> None:
    assert compute([], SPEC).deltas == ()
    assert compute([(0, 1.0)], SPEC).deltas == ()


def test_non_finite_value_is_a_caller_mistake() -> None:
    with pytest.raises(ValueError):
        compute([(0, float("nan"))], SPEC)


def test_learnt_bound_is_spike_factor_times_p95() -> None:
    spec = RegisterSpec(modulus=1000.0, resolution=0.1, interval_s=900)
    points = [(i * IV, 100.0 + i) for i in range(10)]  # 1 per 15 min = 4 per hour
    assert learn_max_rate(points, spec) == pytest.approx(80.0)  # 20 × 4
    # a flat series learns nothing: the floor of 100 steps per interval = 100 × 0.1 × 4 = 40 per hour
    assert learn_max_rate([(0, 5.0), (IV, 5.0)], spec) == pytest.approx(40.0)


def test_spec_of_meter_uses_multiplier_and_wrap() -> None:
    meter = Meter(
        id="M",
        building="B",
        kind=Kind.ELECTRICITY,
        item=Item.MAIN_INCOMER,
        multiplier=80,
        resolution=0.01,
        rollover=999999.99,
    )
    spec = RegisterSpec.of(meter)
    assert spec.modulus == pytest.approx(80_000_000.0)
    assert spec.resolution == pytest.approx(0.8)
    assert spec.interval_s == 900


def test_bad_spec_is_refused() -> None:
    with pytest.raises(ValueError):
        RegisterSpec(modulus=1.0, resolution=2.0, interval_s=900)
    with pytest.raises(ValueError):
        RegisterSpec(modulus=10.0, resolution=1.0, interval_s=900, gap_factor=0.5)


def test_allocate_is_pro_rata() -> None:
    deltas = [Delta(0, 3_600_000, 6.0), Delta(3_600_000, 4_500_000, 1.0, ("gap",))]
    first, second = allocate(deltas, [0, 1_800_000, 7_200_000])
    assert (first.amount, first.covered_ms, first.complete, first.flags) == (3.0, 1_800_000, True, ())
    assert (second.amount, second.covered_ms, second.complete, second.flags) == (4.0, 2_700_000, False, ("gap",))
    assert first.exact and not second.exact and first.hours == 0.5


def test_daily_splits_at_local_midnight() -> None:
    midnight = local_midnight_ms(date(2024, 1, 2), SHANGHAI)
    assert midnight == 1_704_124_800_000  # 2024-01-01T16:00Z
    hour = 3_600_000
    days = daily([Delta(midnight - hour, midnight + hour, 4.0)], SHANGHAI)
    assert {d: b.amount for d, b in days.items()} == {date(2024, 1, 1): 2.0, date(2024, 1, 2): 2.0}
    assert not days[date(2024, 1, 1)].complete


def test_window_may_cross_midnight() -> None:
    lo, hi = window_ms(date(2024, 1, 1), "22:00", "06:00", SHANGHAI)
    assert (lo, hi) == (local_midnight_ms(date(2024, 1, 1), SHANGHAI) + 22 * 3_600_000, 1_704_146_400_000)
    lo, hi = window_ms(date(2024, 1, 1), "02:00", "05:00", SHANGHAI)
    assert hi - lo == 3 * 3_600_000


def test_work_calendar() -> None:
    cn = WorkCalendar("CN")
    assert not cn.is_working_day(date(2024, 10, 1))  # National Day
    assert cn.is_working_day(date(2024, 9, 29))  # a make-up working Sunday
    assert not cn.is_working_day(date(2024, 9, 28))  # an ordinary Saturday
    assert cn.is_working_day(date(2024, 9, 30))
    local = WorkCalendar("CN", extra_holidays=frozenset({date(2024, 9, 30)}), extra_workdays=frozenset())
    assert not local.is_working_day(date(2024, 9, 30))
