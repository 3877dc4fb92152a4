"""Energy rules over a whole simulated year of clean data: every season, holiday, make-up workday and weekend.

The consumption is computed in-process from the simulator's registers, once for the year; each evaluation
sees what the alert service would read from InfluxDB at that time (`as_of`: the look-back up to now). The
rules run at 07:00 (every rule: the day, the night and last night's leak window are complete) and at 18:00
(the day-off window is complete) of every day, which covers every window each rule judges.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from itertools import pairwise

import pytest

from alerts.engine.rules import RuleOutput
from alerts.engine.rules.baseload import base_load_rule
from alerts.engine.rules.energy import energy_outputs
from alerts.engine.rules.quality import data_quality_rule
from alerts.engine.rules.windows import MeterData, lookback_days, prepare
from core.config import SiteConfig
from simulators.meters.clock import to_ms
from tests.alerts.engine.helpers import as_of, campus_site, register_series, windowed

YEAR = 2024
SEED = 7
DAY_MS = 86_400_000
Series = dict[str, list[tuple[int, float]]]


@pytest.fixture(scope="module")
def campus() -> SiteConfig:
    return campus_site("campus")


@pytest.fixture(scope="module")
def year_series(campus: SiteConfig) -> Series:
    start = datetime(YEAR, 1, 1) - timedelta(days=lookback_days(campus.alerts) + 1)
    return register_series(campus, SEED, start, datetime(YEAR + 1, 1, 1, 19))


@pytest.fixture(scope="module")
def year(campus: SiteConfig, year_series: Series) -> dict[str, MeterData]:
    return prepare(campus, year_series)


def without_correction(site: SiteConfig) -> SiteConfig:
    """The same site with the rules as they were before the common-mode correction."""
    a = site.alerts
    daily = a.daily.model_copy(update={"peer_correction": False})
    base_load = a.base_load.model_copy(update={"peer_correction": False, "recent_days": 0})
    return site.model_copy(update={"alerts": a.model_copy(update={"daily": daily, "base_load": base_load})})


def evaluations(site: SiteConfig, year: dict[str, MeterData], days: Iterator[date]) -> Iterator[list[RuleOutput]]:
    """The rules' outputs at 07:00 and 18:00 of each day."""
    look = lookback_days(site.alerts) * DAY_MS
    for day in days:
        morning = to_ms(datetime.combine(day, datetime.min.time()) + timedelta(hours=7), site.tz)
        data = as_of(year, morning - look, morning)
        yield [*energy_outputs(site, data, morning), data_quality_rule(site, data, morning)]
        evening = morning + 11 * 3_600_000
        yield base_load_rule(site, as_of(year, evening - look, evening), evening)


def days_of(first: date, last: date) -> Iterator[date]:
    return (first + timedelta(i) for i in range((last - first).days + 1))


def rollovers(series: Series) -> dict[str, list[int]]:
    """The times at which each register really wrapped (the simulator's clean data has no other drop)."""
    out: dict[str, list[int]] = defaultdict(list)
    for meter, points in series.items():
        for (_, a), (t, b) in pairwise(points):
            if b < a:
                out[meter].append(t)
    return out


def test_a_clean_year_raises_nothing_but_real_rollovers(
    campus: SiteConfig, year: dict[str, MeterData], year_series: Series
) -> None:
    found: dict[str, set[str]] = defaultdict(set)
    unknown: dict[str, int] = defaultdict(int)
    rollover_events: dict[str, set[int]] = defaultdict(set)
    for outputs in evaluations(campus, year, days_of(date(YEAR, 1, 1), date(YEAR, 12, 31))):
        for out in outputs:
            unknown[out.scope] += len(out.unknown)
            for c in out.conditions:
                found[c.kind].add(f"{c.key} {c.evidence.get('day', '')}")
                if c.kind == "data_quality":
                    rollover_events[c.evidence["meter"]].update(e["ts_ms"] for e in c.evidence["events"])
    energy = {kind: keys for kind, keys in found.items() if kind != "data_quality"}
    assert energy == {}
    # Registers that wrap are real data-quality events (info), and the only ones.
    wraps = rollovers(year_series)
    assert {k.split()[0] for k in found["data_quality"]} == {f"data_quality:rollover:{m}" for m in wraps}
    assert rollover_events == {m: set(ts) for m, ts in wraps.items()}
    # ... having judged everything: no window was unknown all year
    assert dict(unknown) == {
        "leak": 0,
        "daily_anomaly": 0,
        "base_load_night": 0,
        "base_load_offday": 0,
        "data_quality": 0,
    }


SEASON_STARTS = [(date(YEAR, 6, 1), date(YEAR, 6, 12)), (date(YEAR, 12, 1), date(YEAR, 12, 9))]


def test_without_the_correction_the_season_starts_alert(
    campus: SiteConfig, year: dict[str, MeterData], year_series: Series
) -> None:
    """What the year test would find with the rules as they were: its data does exercise the correction."""
    old = without_correction(campus)
    found: set[str] = set()
    for first, last in SEASON_STARTS:
        for outputs in evaluations(old, year, days_of(first, last)):
            found.update(c.key for out in outputs for c in out.conditions)
    assert {"daily_anomaly:O3-E-HVAC", "daily_anomaly:O4-E-HVAC", "daily_anomaly:C1-E-HVAC"} <= found
    assert "base_load_offday:C1-E-HVAC" in found
    # The year's consumption seen `as_of` a time is what the rules compute from the data stored by then.
    now = to_ms(datetime(YEAR, 6, 4, 7), campus.tz)
    start = now - lookback_days(campus.alerts) * DAY_MS
    stored = {m: [p for p in points if start <= p[0] <= now] for m, points in year_series.items()}
    assert keys_and_evidence(energy_outputs(old, prepare(old, stored), now)) == keys_and_evidence(
        energy_outputs(old, as_of(year, start, now), now)
    )


def keys_and_evidence(outputs: list[RuleOutput]) -> dict[str, object]:
    return {c.key: c.evidence for out in outputs for c in out.conditions}


@pytest.mark.parametrize(
    ("meter", "day"),
    [("O3-E-HVAC", date(YEAR, 6, 4)), ("C1-E-HVAC", date(YEAR, 12, 3))],
    ids=["cooling-office", "heating-canteen"],
)
def test_one_abnormal_building_during_a_season_start_is_still_found(
    campus: SiteConfig, year_series: Series, meter: str, day: date
) -> None:
    """Every HVAC meter jumps with the season; one also runs 60 kW more all working hours: that one is found."""
    lo = to_ms(datetime.combine(day, datetime.min.time()) + timedelta(hours=8), campus.tz)
    extra = windowed([(lo, lo + 10 * 3_600_000)], 60 / 3_600_000)  # +600 kWh
    now = to_ms(datetime.combine(day + timedelta(1), datetime.min.time()) + timedelta(hours=7), campus.tz)
    start = now - lookback_days(campus.alerts) * DAY_MS
    stored = {
        m: [(t, v + (extra(t) if m == meter else 0.0)) for t, v in pts if start <= t <= now]
        for m, pts in year_series.items()
    }
    outputs = energy_outputs(campus, prepare(campus, stored), now)
    found = keys_and_evidence(outputs)
    assert sorted(found) == [f"daily_anomaly:{meter}"]
    ev = found[f"daily_anomaly:{meter}"]
    assert isinstance(ev, dict)
    assert ev["day"] == day.isoformat() and ev["direction"] == "high"
    cm = ev["common_mode"]
    use = campus.building_by_id[campus.meter_by_id[meter].building].use
    assert cm["applied"] is True and cm["group"] == f"electricity/01B/{use}" and "moved with it" in cm["why"]
    assert cm["factor"] > 1.5  # the season, seen on its peers
    assert cm["expected"] == pytest.approx(ev["baseline_median"] * cm["factor"], rel=1e-3)
    assert ev["consumption"] - cm["expected"] == pytest.approx(600, rel=0.35)
    # Without the injected fault, the same evaluation raises nothing: the season alone is withdrawn.
    clean = {m: [p for p in pts if start <= p[0] <= now] for m, pts in year_series.items()}
    assert keys_and_evidence(energy_outputs(campus, prepare(campus, clean), now)) == {}
