"""Load model shapes: working days, holidays, seasons, data room, car park, mains and water."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest

from core.config import SiteConfig
from core.types import Item, Kind
from simulators.meters import Leak, LoadModel
from simulators.meters.clock import build_timeline, is_working_day, to_ms


def timeline(site: SiteConfig, start: datetime, days: float, interval_s: int = 900, seed: int = 1):
    """Intervals ending every `interval_s` from start (exclusive) for `days`, site-local."""
    lo = to_ms(start, site.tz)
    ticks = np.arange(lo + interval_s * 1000, lo + int(days * 86_400_000) + 1, interval_s * 1000, dtype=np.int64)
    return build_timeline(ticks, interval_s, site.tz, seed)


def day_energy(model: LoadModel, meter: str, day: date) -> float:
    """Primary kWh (or m3) of one meter over one local day."""
    tl = timeline(model.site, datetime(day.year, day.month, day.day), 1)
    return float(model.energy(meter, tl).sum())


def test_chinese_calendar() -> None:
    assert not is_working_day(date(2026, 10, 1))  # National Day
    assert not is_working_day(date(2026, 10, 4))  # Sunday within the Golden Week
    assert is_working_day(date(2026, 10, 10))  # Saturday made a working day
    assert is_working_day(date(2026, 9, 29))
    assert not is_working_day(date(2026, 9, 27))  # ordinary Sunday


def test_office_weekday_against_holiday_and_weekend(demo_site: SiteConfig) -> None:
    model = LoadModel(demo_site, seed=1)
    weekday = day_energy(model, "B01-E-MAIN", date(2026, 9, 29))
    national_day = day_energy(model, "B01-E-MAIN", date(2026, 10, 1))
    sunday = day_energy(model, "B01-E-MAIN", date(2026, 9, 27))
    makeup_saturday = day_energy(model, "B01-E-MAIN", date(2026, 10, 10))
    print(f"\nB01 main kWh: weekday {weekday:.0f}, National Day {national_day:.0f}, Sunday {sunday:.0f}")
    assert weekday / national_day > 1.8
    assert weekday / sunday > 1.8
    assert makeup_saturday / national_day > 1.8  # 调休: the make-up Saturday is a working day
    lighting = day_energy(model, "B01-E-LGT1", date(2026, 9, 29)) / day_energy(model, "B01-E-LGT1", date(2026, 10, 1))
    assert lighting > 2.5


def test_office_day_shape_has_lunch_dip_and_low_nights(demo_site: SiteConfig) -> None:
    model = LoadModel(demo_site, seed=1)
    tl = timeline(demo_site, datetime(2026, 9, 29), 1)
    kw = model.rate("B01-E-LGT1", tl)

    def at(hour: float) -> float:
        return float(kw[int(np.argmin(abs(tl.hour - hour)))])

    assert at(10.4) > at(12.9) > at(3.1)  # mid-morning > lunch > night
    assert at(3.1) < 0.25 * at(10.4)


def test_hvac_seasons(demo_site: SiteConfig) -> None:
    model = LoadModel(demo_site, seed=1)

    def workdays(month: int) -> float:
        days = [date(2026, month, d) for d in range(1, 29) if is_working_day(date(2026, month, d))]
        return sum(day_energy(model, "B01-E-HVAC1", d) for d in days) / len(days)

    april, july, january = workdays(4), workdays(7), workdays(1)
    print(f"\nB01 chiller kWh/workday: Jan {january:.0f}, Apr {april:.0f}, Jul {july:.0f}")
    assert july > 2.5 * april
    assert january > 2 * april


def test_annual_intensity_is_realistic(demo_site: SiteConfig) -> None:
    model = LoadModel(demo_site, seed=1)
    tl = timeline(demo_site, datetime(2026, 1, 1), 365)
    memo: dict[str, np.ndarray] = {}
    for building, lo, hi in (("B01", 50, 100), ("B02", 50, 100), ("C01", 150, 450), ("P01", 20, 90)):
        kwh = float(model.energy(f"{building}-E-MAIN", tl, memo).sum())
        area = demo_site.building_by_id[building].floor_area_m2
        print(f"\n{building}: {kwh / area:.0f} kWh/m2/year")
        assert lo < kwh / area < hi


def test_data_room_is_flat(demo_site: SiteConfig) -> None:
    model = LoadModel(demo_site, seed=1)
    tl = timeline(demo_site, datetime(2026, 10, 1), 14)
    for meter in ("D01-E-UPS1", "D01-E-UPS2", "D01-E-MAIN"):
        kw = model.rate(meter, tl)
        assert kw.min() > 50
        assert kw.std() / kw.mean() < 0.05, meter


def test_canteen_peaks_at_meals_and_ev_by_day(demo_site: SiteConfig) -> None:
    model = LoadModel(demo_site, seed=1)
    tl = timeline(demo_site, datetime(2026, 9, 29), 1)
    kitchen = model.rate("C01-E-KIT", tl)
    ev = model.rate("P01-E-EV", tl)
    hour = tl.hour
    lunch, night = kitchen[(hour > 11) & (hour < 12.5)].mean(), kitchen[hour < 4].mean()
    assert lunch > 5 * night
    assert kitchen[(hour > 6.5) & (hour < 8)].mean() > 3 * night  # breakfast
    assert kitchen[(hour > 17) & (hour < 18.25)].mean() > 3 * night  # dinner
    assert ev[(hour > 9) & (hour < 12)].mean() > 10 * ev[hour < 6].mean()


def test_mains_are_sum_of_submeters_plus_losses(demo_site: SiteConfig) -> None:
    model = LoadModel(demo_site, seed=1)
    tl = timeline(demo_site, datetime(2026, 10, 12), 3)
    memo: dict[str, np.ndarray] = {}
    for building in demo_site.buildings:
        meters = [m for m in demo_site.meters if m.building == building.id and m.kind is Kind.ELECTRICITY]
        main = next(m for m in meters if m.item is Item.MAIN_INCOMER)
        subs = sum(model.energy(m.id, tl, memo).sum() for m in meters if m.item is not Item.MAIN_INCOMER)
        ratio = model.energy(main.id, tl, memo).sum() / subs
        assert 1.01 < ratio < 1.03, building.id


def test_water_is_zero_at_night_without_leak(demo_site: SiteConfig) -> None:
    model = LoadModel(demo_site, seed=1)
    tl = timeline(demo_site, datetime(2026, 10, 12), 7)
    night = (tl.hour > 0) & (tl.hour < 5)
    for meter in (m.id for m in demo_site.meters if m.kind is Kind.WATER):
        flow = model.rate(meter, tl)
        assert np.all(flow[night] == 0.0), meter
        assert flow.sum() > 0, meter


def test_leak_adds_constant_flow_to_the_meter_and_its_main(demo_site: SiteConfig) -> None:
    leak_at = datetime(2026, 10, 14, 1, 10, tzinfo=demo_site.tz)
    model = LoadModel(demo_site, seed=1, leaks=[Leak("B01-W-WC", leak_at, flow_m3h=0.4)])
    tl = timeline(demo_site, datetime(2026, 10, 12), 7)
    night = (tl.hour > 0) & (tl.hour < 5)
    after = tl.ts_ms > to_ms(leak_at + timedelta(minutes=15), demo_site.tz)
    for meter in ("B01-W-WC", "B01-W-MAIN"):
        flow = model.rate(meter, tl)
        assert np.all(flow[night & ~after & (tl.ts_ms <= to_ms(leak_at, demo_site.tz))] == 0.0)
        assert flow[night & after] == pytest.approx(0.4)
    # the interval 01:00-01:15 holds 5 of 15 minutes of leak
    first = int(np.searchsorted(tl.ts_ms, to_ms(leak_at, demo_site.tz)))
    assert model.rate("B01-W-WC", tl)[first] == pytest.approx(0.4 * 5 / 15)
    assert np.all(model.rate("B02-W-WC", tl)[night] == 0.0)


def test_rates_do_not_depend_on_the_window(demo_site: SiteConfig) -> None:
    model = LoadModel(demo_site, seed=5)
    long = timeline(demo_site, datetime(2026, 10, 1), 4)
    short = timeline(demo_site, datetime(2026, 10, 2, 6), 1)
    offset = int(np.searchsorted(long.ts_ms, short.ts_ms[0]))
    for meter in ("B01-E-MAIN", "C01-W-KIT", "P01-E-EV"):
        a, b = model.rate(meter, long), model.rate(meter, short)
        np.testing.assert_array_equal(a[offset : offset + len(b)], b)
