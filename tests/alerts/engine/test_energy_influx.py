"""Energy and data-quality rules on simulator data stored in a real InfluxDB: found when injected, silent when clean."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alerts.engine.model import Alert
from alerts.engine.rules import RuleOutput
from alerts.engine.rules.windows import lookback_days
from alerts.engine.service import AlertService
from alerts.engine.sources import InfluxRegisterSource
from alerts.engine.store import AlertStore
from core.config import SiteConfig
from core.consumption import Consumption, RegisterSpec, compute, window_ms
from core.types import Reading
from ingest.influx import InfluxClient, InfluxSettings
from simulators.meters.clock import to_ms
from simulators.meters.faults import FaultPlan, Leak, Replacement, Rollover
from tests.alerts.engine.helpers import (
    FakeClock,
    add_consumption,
    simulated_readings,
    windowed,
    write_readings,
)
from tests.conftest import InfluxTarget, build_test_site

pytestmark = pytest.mark.integration

# Five weeks of autumn, clear of HVAC season switches (Oct 1, Dec 1) and of the National Day week.
START = datetime(2024, 10, 14)
END = datetime(2024, 11, 19)  # a Tuesday: the last complete day judged is Monday 18 November
NOW = END + timedelta(hours=1)  # when the rules run: the data runs up to then
SEED = 7
HOUR_MS = 3_600_000


@pytest.fixture
def site() -> SiteConfig:
    return build_test_site(f"e{uuid.uuid4().hex[:8]}")


@pytest.fixture
def client(influx_db: InfluxTarget) -> Iterator[InfluxClient]:
    with InfluxClient(InfluxSettings(url=influx_db.url, database=influx_db.database)) as c:
        yield c


class Harness:
    """Data in, one evaluation at the end of the data, alerts out."""

    def __init__(self, site: SiteConfig, client: InfluxClient, state: Path) -> None:
        self.site = site
        self.client = client
        self.state = state
        self.end_ms = to_ms(NOW, site.tz)
        self.clock = FakeClock(self.end_ms)
        self.outputs: list[RuleOutput] = []

    def readings(self, faults: FaultPlan | None = None) -> list[Reading]:
        return simulated_readings(self.site, SEED, START, NOW + timedelta(minutes=1), faults)

    def evaluate(self, readings: list[Reading]) -> list[Alert]:
        write_readings(self.client, readings)
        return self.rerun()

    def rerun(self) -> list[Alert]:
        store = AlertStore(self.state / "alerts.db")
        try:
            service = AlertService(self.site, store, source=InfluxRegisterSource(self.client), clock=self.clock)
            self.outputs = service.evaluate_energy()
            return store.active(self.site.site.id)
        finally:
            store.close()

    def consumption(self, meter: str) -> Consumption:
        start = self.end_ms - lookback_days(self.site.alerts) * 86_400_000
        series = InfluxRegisterSource(self.client).series(self.site.site.id, start, self.end_ms + 1)[meter]
        return compute(series, RegisterSpec.of(self.site.meter_by_id[meter]))


@pytest.fixture
def harness(site: SiteConfig, client: InfluxClient, tmp_path: Path) -> Harness:
    return Harness(site, client, tmp_path)


def keys(alerts: list[Alert]) -> list[str]:
    return sorted(a.key for a in alerts)


def test_clean_data_raises_nothing(harness: Harness) -> None:
    assert harness.evaluate(harness.readings()) == []
    # ... having judged everything: no rule found its data incomplete
    assert {o.scope: o.unknown for o in harness.outputs} == {
        "leak": (),
        "daily_anomaly": (),
        "base_load_night": (),
        "base_load_offday": (),
        "data_quality": (),
    }
    for meter in harness.site.meters:
        result = harness.consumption(meter.id)
        assert result.anomalies == ()
        assert all(d.amount >= 0 for d in result.deltas)


def test_leak_is_found_on_its_building(harness: Harness) -> None:
    leak = Leak("B2-W-MAIN", END - timedelta(days=3), flow_m3h=0.25)
    alerts = harness.evaluate(harness.readings(FaultPlan(leaks=(leak,))))
    # 6 m³ a day more is also an abnormal day for that meter; nothing else is raised
    assert keys(alerts) == ["daily_anomaly:B2-W-MAIN", "leak:B2"]
    alert = alerts[0] if alerts[0].kind == "leak" else alerts[1]
    ev = alert.evidence
    assert ev["suspects"] == ["B2-W-MAIN"] and ev["criteria"] == ["never_zero", "night_flow"]
    meter = ev["meters"]["B2-W-MAIN"]
    assert meter["night_min_m3h"] == pytest.approx(0.25, abs=0.01)
    assert meter["baseline_m3h"] == 0.0
    assert meter["flowing_since_ms"] == pytest.approx(to_ms(leak.start, harness.site.tz), abs=HOUR_MS)
    assert alert.severity.value == "major"


def test_leak_started_last_night_is_found_by_night_flow_alone(harness: Harness) -> None:
    leak = Leak("B1-W-MAIN", END - timedelta(hours=22), flow_m3h=0.2)  # 02:00 on the 18th: 23 h before NOW
    alerts = {a.key: a for a in harness.evaluate(harness.readings(FaultPlan(leaks=(leak,))))}
    assert sorted(alerts) == ["daily_anomaly:B1-W-MAIN", "leak:B1"]
    assert alerts["leak:B1"].evidence["criteria"] == ["night_flow"]


def test_replacement_and_rollover_are_data_quality_alerts_and_never_negative(harness: Harness) -> None:
    plan = FaultPlan(
        replacements=(Replacement("B1-E-LGT", END - timedelta(hours=10)),),
        rollovers=(Rollover("B2-E-PWR", END - timedelta(hours=5)),),
    )
    faulty = harness.readings(plan)
    alerts = harness.evaluate(faulty)
    assert keys(alerts) == ["data_quality:replacement:B1-E-LGT", "data_quality:rollover:B2-E-PWR"]
    by_key = {a.key: a for a in alerts}
    assert by_key["data_quality:replacement:B1-E-LGT"].severity.value == "minor"
    assert by_key["data_quality:rollover:B2-E-PWR"].severity.value == "info"
    (event,) = by_key["data_quality:rollover:B2-E-PWR"].evidence["events"]
    assert event["prev"] > 0.99 * RegisterSpec.of(harness.site.meter_by_id["B2-E-PWR"]).modulus

    since = harness.end_ms - lookback_days(harness.site.alerts) * 86_400_000  # what the rules look at
    clean_readings = [r for r in harness.readings() if r.ts_ms >= since]
    for meter in ("B1-E-LGT", "B2-E-PWR"):
        clean = compute(_series(clean_readings, meter), RegisterSpec.of(harness.site.meter_by_id[meter]))
        result = harness.consumption(meter)
        assert all(d.amount >= 0 for d in result.deltas)
        # the same energy as without the fault, within a couple of register steps
        step = RegisterSpec.of(harness.site.meter_by_id[meter]).resolution
        assert result.total == pytest.approx(clean.total, abs=3 * step)


def test_abnormal_day_is_found(harness: Harness) -> None:
    site = harness.site
    lo, hi = window_ms(END.date() - timedelta(days=1), "08:00", "18:00", site.tz)
    readings = harness.readings()
    # Monday's lighting and sockets use goes up by 600 kWh (about 2.5×) during office hours
    doubled = add_consumption(readings, "B1-E-LGT", windowed([(lo, hi)], 600 / (hi - lo)))
    alerts = harness.evaluate(doubled)
    assert keys(alerts) == ["daily_anomaly:B1-E-LGT"]
    ev = alerts[0].evidence
    assert ev["day"] == "2024-11-18" and ev["direction"] == "high" and ev["working_day"] is True
    assert ev["consumption"] - ev["baseline_median"] == pytest.approx(600, rel=0.1)
    assert len(ev["baseline_days"]) >= 3


def test_night_base_load_waste_is_found(harness: Harness) -> None:
    site = harness.site
    nights = [window_ms(END.date() - timedelta(days=d), "20:00", "07:00", site.tz) for d in (4, 3, 2, 1)]
    readings = add_consumption(harness.readings(), "B2-E-PWR", windowed(nights, 30 / HOUR_MS))  # +30 kW
    alerts = harness.evaluate(readings)
    assert "base_load_night:B2-E-PWR" in keys(alerts)
    assert all(a.kind in ("base_load_night", "base_load_offday", "daily_anomaly") for a in alerts)
    ev = next(a for a in alerts if a.key == "base_load_night:B2-E-PWR").evidence
    assert ev["ratio"] > 0.5 and ev["excess_kw"] == pytest.approx(30, abs=2)
    assert ev["day"] == "2024-11-17" and ev["window"] == "22:00-06:00"  # the night from Sunday to Monday


def test_weekend_base_load_waste_is_found(harness: Harness) -> None:
    site = harness.site
    weekend = [window_ms(datetime(2024, 11, d).date(), "00:00", "00:00", site.tz) for d in (16, 17)]
    readings = add_consumption(harness.readings(), "B1-E-HVAC", windowed(weekend, 120 / HOUR_MS))  # +120 kW
    alerts = harness.evaluate(readings)
    assert "base_load_offday:B1-E-HVAC" in keys(alerts)
    ev = next(a for a in alerts if a.key == "base_load_offday:B1-E-HVAC").evidence
    assert ev["day"] == "2024-11-17" and ev["window"] == "09:00-17:00"


def test_restart_reevaluates_without_duplicates(harness: Harness) -> None:
    leak = Leak("B2-W-MAIN", END - timedelta(days=3), flow_m3h=0.25)
    first = harness.evaluate(harness.readings(FaultPlan(leaks=(leak,))))
    harness.clock.advance(900)
    again = harness.rerun()  # a new store object and service on the same file: a restart
    assert [a.id for a in again] == [a.id for a in first]


def test_flags_raise_a_status_alert_and_absence_is_tolerated(harness: Harness, client: InfluxClient) -> None:
    site = harness.site
    now = harness.end_ms
    lines = [
        f"meter_register,building=B1,item=02,kind=water,meter=B1-W-MAIN,site={site.site.id} "
        f'value=10.0,raw=10.0,flags="battery_low,valve_closed" {now - 900_000}',
        f"meter_register,building=B2,item=02,kind=water,meter=B2-W-MAIN,site={site.site.id} "
        f'value=11.0,raw=11.0,flags="battery_low" {now - 1_800_000}',
        f"meter_register,building=B2,item=02,kind=water,meter=B2-W-MAIN,site={site.site.id} "
        f'value=11.5,raw=11.5,flags="" {now - 900_000}',  # the battery was changed
        f"meter_register,building=B1,item=01A,kind=electricity,meter=B1-E-LGT,site={site.site.id} "
        f"value=5.0,raw=5.0 {now - 900_000}",  # no flags field at all
    ]
    client.write_lines(lines)
    store = AlertStore(harness.state / "alerts.db")
    service = AlertService(site, store, source=InfluxRegisterSource(client), clock=harness.clock)
    service.check_meters()
    status = [a for a in store.active(site.site.id) if a.kind == "meter_status"]
    assert [(a.key, a.severity.value, a.evidence["flags"]) for a in status] == [
        ("meter_status:B1-W-MAIN", "major", ["battery_low", "valve_closed"])
    ]
    store.close()


def test_gateway_silence_and_stale_meters_from_stored_data(harness: Harness, client: InfluxClient) -> None:
    site = harness.site
    readings = harness.readings()
    cut_b = harness.end_ms - 2 * HOUR_MS  # gw-b goes quiet two hours before the end
    cut_w = harness.end_ms - 3 * HOUR_MS  # one meter of gw-a stops three hours before
    gw_b = set(next(g for g in site.gateways if g.id == "gw-b").meters)
    kept = [
        r
        for r in readings
        if not (r.meter in gw_b and r.ts_ms > cut_b) and not (r.meter == "B1-W-MAIN" and r.ts_ms > cut_w)
    ]
    first_look = harness.end_ms - HOUR_MS
    write_readings(client, [r for r in kept if r.ts_ms <= first_look])
    store = AlertStore(harness.state / "alerts.db")
    harness.clock.ms = first_look
    service = AlertService(site, store, source=InfluxRegisterSource(client), clock=harness.clock)
    service.check_meters()
    # old data not yet watched for the thresholds: maybe a back-fill still arriving, so nothing is said
    assert store.active(site.site.id) == []
    write_readings(client, [r for r in kept if r.ts_ms > first_look])  # an hour later, gw-a delivered more
    harness.clock.ms = harness.end_ms
    service.check_meters()
    alerts = {a.key: a for a in store.active(site.site.id)}
    assert sorted(alerts) == ["gateway_offline:gw-b", "meter_stale:B1-W-MAIN"]
    assert alerts["gateway_offline:gw-b"].evidence["last_data_ms"] == cut_b - cut_b % 900_000
    assert alerts["meter_stale:B1-W-MAIN"].evidence["gateway"] == "gw-a"
    store.close()


def test_a_gateway_replaying_history_is_not_offline(harness: Harness, client: InfluxClient) -> None:
    """The demo's start: a day of history replayed at 300× (old timestamps, arriving now) is no silence."""
    site = harness.site
    readings = sorted(harness.readings(), key=lambda r: r.ts_ms)
    start = harness.end_ms - 86_400_000
    write_readings(client, [r for r in readings if r.ts_ms <= start])
    store = AlertStore(harness.state / "alerts.db")
    harness.clock.ms = harness.end_ms
    service = AlertService(site, store, source=InfluxRegisterSource(client), clock=harness.clock)
    replayed = start
    for _ in range(6):  # six looks a minute apart, each after five more simulated hours were delivered
        service.check_meters()
        assert store.active(site.site.id) == []
        batch = [r for r in readings if replayed < r.ts_ms <= replayed + 5 * HOUR_MS]
        write_readings(client, batch)
        replayed += 5 * HOUR_MS
        harness.clock.advance(60)
    service.check_meters()
    assert store.active(site.site.id) == []
    store.close()


def _series(readings: list[Reading], meter: str) -> list[tuple[int, float]]:
    return [(r.ts_ms, r.value) for r in readings if r.meter == meter]
