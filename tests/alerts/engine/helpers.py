"""Helpers for alert-engine tests: a fake clock, simulator data into InfluxDB, a perimeter test site."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from core.config import SiteConfig, parse_site
from core.types import Reading
from ingest.influx import InfluxClient
from ingest.lineprotocol import to_line_protocol
from ingest.payload import parse_payload
from simulators.meters.faults import FaultPlan
from simulators.meters.generator import generate_site
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
