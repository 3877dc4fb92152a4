"""Helpers for alert-engine tests: a fake clock, simulator data into InfluxDB or in memory, test sites."""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from alerts.engine.rules.windows import MeterData
from core.config import SiteConfig, parse_site
from core.consumption import Consumption
from core.types import Reading
from ingest.influx import InfluxClient
from ingest.lineprotocol import to_line_protocol
from ingest.payload import parse_payload
from simulators.meters.clock import MS_PER_DAY, to_ms
from simulators.meters.faults import FaultPlan
from simulators.meters.generator import generate_site
from simulators.meters.model import LoadModel
from simulators.meters.registers import choose_units, register_format
from simulators.meters.series import MeterSeries
from tests.conftest import build_test_site


class FakeClock:
    """Milliseconds that move only when told to."""

    def __init__(self, ms: int = 1_700_000_000_000) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


def simulated_readings(
    site: SiteConfig, seed: int, start: datetime, end: datetime, faults: FaultPlan | None = None
) -> list[Reading]:
    """Every reading a correct collector would store for a simulated run (payloads parsed by the ingest parser)."""
    readings: list[Reading] = []
    for pub in generate_site(site, seed, start, end, faults=faults):
        if pub.is_status:
            continue
        readings.extend(parse_payload(pub.topic, pub.payload, site, pub.due_ms).readings)
    return readings


def register_series(
    site: SiteConfig, seed: int, start: datetime, end: datetime, faults: FaultPlan | None = None
) -> dict[str, list[tuple[int, float]]]:
    """Every meter's simulated register series (ts_ms, value), straight from the simulator's registers.

    The same values the gateways publish, without encoding and parsing them: fast enough for a year.
    """
    faults = faults or FaultPlan()
    units = choose_units(site.meters, {}, mixed=False)
    formats = {m.id: register_format(m, units[m.id]) for m in site.meters}
    model = LoadModel(site, seed, faults.leaks)
    lo, hi = to_ms(start, site.tz), to_ms(end, site.tz)
    series: dict[str, list[tuple[int, float]]] = {m.id: [] for m in site.meters}
    for chunk in MeterSeries(model, list(site.meters), formats, faults, lo, hi, 30 * MS_PER_DAY).chunks():
        for r in chunk:
            series[r.meter].append((r.true_ts_ms, r.value))
    return series


def as_of(data: Mapping[str, MeterData], start_ms: int, now_ms: int) -> dict[str, MeterData]:
    """What the rules would see of long-computed consumption if they ran at `now_ms` with data since `start_ms`."""
    out = {}
    for meter, d in data.items():
        deltas = d.consumption.deltas
        first = bisect.bisect_left(deltas, start_ms, key=lambda x: x.start_ms)
        last = bisect.bisect_right(deltas, now_ms, key=lambda x: x.end_ms)
        anomalies = tuple(a for a in d.consumption.anomalies if start_ms <= a.ts_ms <= now_ms)
        consumption = Consumption(deltas[first:last], anomalies, d.consumption.max_rate_per_h)
        out[meter] = MeterData(d.meter, consumption, deltas[last - 1].end_ms if last > first else None)
    return out


def write_readings(client: InfluxClient, readings: Iterable[Reading], batch: int = 5000) -> int:
    """Write readings as line protocol; return how many."""
    lines = [to_line_protocol(r) for r in readings]
    for i in range(0, len(lines), batch):
        client.write_lines(lines[i : i + batch])
    return len(lines)


def add_consumption(
    readings: Sequence[Reading], meter: str, extra: Callable[[int], float], multiplier: float = 1.0
) -> list[Reading]:
    """Add extra cumulative consumption to one meter: `extra(ts_ms)` base units consumed up to ts_ms."""
    out = []
    for r in readings:
        if r.meter == meter:
            value = r.value + extra(r.ts_ms)
            r = dataclasses.replace(r, value=value, raw=value / multiplier)
        out.append(r)
    return out


def windowed(windows: Sequence[tuple[int, int]], rate_per_ms: float) -> Callable[[int], float]:
    """Cumulative extra use of `rate_per_ms` inside some [lo, hi) windows."""

    def extra(ts: int) -> float:
        return sum(rate_per_ms * max(0, min(ts, hi) - lo) for lo, hi in windows)

    return extra


def perimeter_site(site_id: str, alerts: dict[str, Any] | None = None) -> SiteConfig:
    """The conftest test site plus a straight 100 m fence watched by three cameras.

    Each camera stands 10 m south of the fence with a field of view of 2·atan(20/10) looking north, so it
    sees exactly 40 m of fence: c1 0–40 m, c2 30–70 m, c3 60–100 m. With c2 down, 40–60 m is blind.
    The gate zone (priority 1) runs from 35 to 65 m.
    """
    data = build_test_site(site_id).model_dump(mode="json")
    hfov = 126.86989764584402  # 2·atan(2) in degrees
    data["cameras"] = [
        {
            "id": f"c{i}",
            "name": f"Camera {i}",
            "url": f"rtsp://cam{i}",
            "position": [x, -10.0],
            "heading_deg": 0.0,
            "hfov_deg": hfov,
            "range_m": 60.0,
        }
        for i, x in ((1, 20.0), (2, 50.0), (3, 80.0))
    ]
    data["perimeter"] = {
        "boundary": [[0.0, 0.0], [100.0, 0.0]],
        "closed": False,
        "zones": [
            {"id": "west", "name": "West fence", "start_m": 0.0, "end_m": 35.0, "priority": 3},
            {"id": "gate", "name": "Main gate", "start_m": 35.0, "end_m": 65.0, "priority": 1, "kind": "gate"},
            {"id": "east", "name": "East fence", "start_m": 65.0, "end_m": 100.0, "priority": 4},
        ],
    }
    if alerts is not None:
        data["alerts"] = alerts
    return parse_site(data, source="tests/alerts/engine/helpers.py")


def campus_site(site_id: str) -> SiteConfig:
    """A campus of four offices and two canteens, 13 meters, where every HVAC meter has a peer of its own use.

    Offices O1 and O2 have only a main incomer (the simulator gives it lighting, HVAC, power and special
    loads), O3 and O4 HVAC sub-meters, O3 a lighting one; C1 an HVAC and a kitchen sub-meter, C2 an HVAC one.
    The meters are read hourly, which keeps a year of rule evaluations quick.
    """
    elec = {"kind": "electricity", "resolution": 0.01, "rollover": 999999.99, "interval_s": 3600}
    water = {"kind": "water", "item": "02", "resolution": 0.001, "rollover": 99999.999, "interval_s": 3600}
    buildings = [
        ("O1", "office", 9000, 360),
        ("O2", "office", 6000, 240),
        ("O3", "office", 5000, 200),
        ("O4", "office", 4000, 150),
        ("C1", "canteen", 1500, 30),
        ("C2", "canteen", 900, 20),
    ]
    meters = [
        {"id": "O1-E-MAIN", "building": "O1", "item": "01E", **elec},
        {"id": "O2-E-MAIN", "building": "O2", "item": "01E", **elec},
        {"id": "O3-E-LGT", "building": "O3", "item": "01A", **elec},
        {"id": "O3-E-HVAC", "building": "O3", "item": "01B", **elec},
        {"id": "O4-E-HVAC", "building": "O4", "item": "01B", **elec},
        {"id": "C1-E-KIT", "building": "C1", "item": "01D", **elec},
        {"id": "C1-E-HVAC", "building": "C1", "item": "01B", **elec},
        {"id": "C2-E-HVAC", "building": "C2", "item": "01B", **elec},
        {"id": "O1-W-MAIN", "building": "O1", **water},
        {"id": "O2-W-MAIN", "building": "O2", **water},
        {"id": "O3-W-MAIN", "building": "O3", **water},
        {"id": "C1-W-MAIN", "building": "C1", **water},
        {"id": "C2-W-MAIN", "building": "C2", **water},
    ]
    return parse_site(
        {
            "site": {"id": site_id, "name": f"Campus {site_id}", "timezone": "Asia/Shanghai"},
            "buildings": [
                {"id": b, "name": f"{use.title()} {b}", "use": use, "floor_area_m2": area, "occupants": people}
                for b, use, area, people in buildings
            ],
            "meters": meters,
            "gateways": [
                {"id": "gw-o", "meters": [m["id"] for m in meters if str(m["id"]).startswith("O")]},
                {"id": "gw-c", "meters": [m["id"] for m in meters if str(m["id"]).startswith("C")]},
            ],
        },
        source="tests/alerts/engine/helpers.py",
    )
