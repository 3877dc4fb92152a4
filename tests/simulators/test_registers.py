"""Registers: quantisation, units, rollover and replacement, monotonic series in generated runs."""

from __future__ import annotations

import itertools
from datetime import datetime

import numpy as np
import pytest

from core.config import SiteConfig
from simulators.meters import FaultPlan, GenOptions, Replacement, Rollover, readings_by_meter
from simulators.meters.registers import Register, register_format
from tests.simulators.conftest import run


def test_register_format_prints_exact_decimals(demo_site: SiteConfig) -> None:
    main = demo_site.meter_by_id["B01-E-MAIN"]  # resolution 0.01 kWh
    water = demo_site.meter_by_id["B01-W-MAIN"]  # resolution 0.001 m3
    counts = np.array([0, 1, 12345678, 99999999])
    assert register_format(main, "kWh").values(counts) == [0.0, 0.01, 123456.78, 999999.99]
    assert register_format(main, "Wh").values(counts) == [0.0, 10.0, 123456780.0, 999999990.0]
    assert register_format(main, "MWh").values(counts) == [0.0, 0.00001, 123.45678, 999.99999]
    assert register_format(water, "L").values(np.array([1234567])) == [1234567.0]
    with pytest.raises(ValueError, match="does not fit"):
        register_format(water, "kWh")


def test_register_integrates_quantises_wraps_and_resets(demo_site: SiteConfig) -> None:
    meter = demo_site.meter_by_id["B01-E-MAIN"]  # multiplier 80, rollover 999999.99
    reg = Register(meter, initial=999999.95)
    counts = reg.advance(np.array([0.0, 0.8, 3.2, 8.0, 8.0]))  # primary kWh: +0.01, +0.04, +0.1, +0.1
    assert counts.tolist() == [99999995, 99999996, 0, 10, 20]
    counts = reg.advance(np.array([80.0, 80.0, 80.0]), resets={1: 0.0})
    assert counts.tolist() == [120, 100, 200]


def test_generated_registers_are_monotonic(demo_site: SiteConfig) -> None:
    pubs = run(demo_site, datetime(2026, 10, 1), datetime(2026, 10, 8))
    series = readings_by_meter(pubs)
    assert set(series) == {m.id for m in demo_site.meters if m.address is None}  # the JSON gateways' meters
    for meter_id, readings in series.items():
        values = np.array([r.raw for r in readings])
        assert len(values) == 7 * 96
        assert np.all(np.diff(values) >= 0), meter_id
        assert readings[0].seq == 0 and readings[-1].seq == 7 * 96 - 1


def test_register_increments_match_the_energy(demo_site: SiteConfig) -> None:
    pubs = run(demo_site, datetime(2026, 10, 12), datetime(2026, 10, 13))
    series = readings_by_meter(pubs)
    day_main = series["B01-E-MAIN"][-1].value - series["B01-E-MAIN"][0].value
    subs = ["B01-E-LGT1", "B01-E-LGT2", "B01-E-HVAC1", "B01-E-HVAC2", "B01-E-PWR", "B01-E-SPC"]
    day_subs = sum(series[m][-1].value - series[m][0].value for m in subs)
    assert day_main / day_subs == pytest.approx(1.02, abs=0.01)  # multiplier 80 applied in `value`


def test_rollover_and_replacement_are_the_only_decreases(demo_site: SiteConfig) -> None:
    tz = demo_site.tz
    wrap_at = datetime(2026, 10, 3, 10, 0, tzinfo=tz)
    swap_at = datetime(2026, 10, 5, 14, 7, tzinfo=tz)
    plan = FaultPlan(
        rollovers=(Rollover("B01-E-HVAC1", wrap_at),),
        replacements=(Replacement("B02-E-PWR", swap_at, start_value=1.5),),
    )
    series = readings_by_meter(run(demo_site, datetime(2026, 10, 1), datetime(2026, 10, 8), faults=plan))
    hvac = series["B01-E-HVAC1"]
    drops = [i for i in range(1, len(hvac)) if hvac[i].raw < hvac[i - 1].raw]
    assert len(drops) == 1
    i = drops[0]
    assert hvac[i].ts_ms == int(wrap_at.timestamp() * 1000)
    assert hvac[i - 1].raw > 999_999.0 and hvac[i].raw < 1.0
    pwr = series["B02-E-PWR"]
    drops = [i for i in range(1, len(pwr)) if pwr[i].raw < pwr[i - 1].raw]
    assert len(drops) == 1
    i = drops[0]
    assert pwr[i].ts_ms == int(datetime(2026, 10, 5, 14, 15, tzinfo=tz).timestamp() * 1000)  # first read after
    assert 1.5 <= pwr[i].raw < 1.5 + 50
    untouched = series["B01-E-LGT1"]
    assert all(b.raw >= a.raw for a, b in itertools.pairwise(untouched))


def test_units_scale_the_same_register(demo_site: SiteConfig) -> None:
    start, end = datetime(2026, 10, 1), datetime(2026, 10, 2)
    units = {"B01-E-MAIN": "Wh", "B01-E-LGT1": "MWh", "B01-W-MAIN": "L"}
    base = readings_by_meter(run(demo_site, start, end))
    other = readings_by_meter(run(demo_site, start, end, options=GenOptions(units=units)))
    for meter, unit in units.items():
        assert {r.unit for r in other[meter]} == {unit}
        for a, b in zip(base[meter], other[meter], strict=True):
            assert b.value == pytest.approx(a.value, rel=1e-12)
    assert other["B01-E-MAIN"][5].raw == pytest.approx(base["B01-E-MAIN"][5].raw * 1000)
