"""Helpers shared by collector tests: wiring an in-process collector, publishing, querying."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from collectors.meters import MeterCollector, MqttSettings
from core.config import SiteConfig
from ingest.deadletter import DeadLetterStore
from ingest.influx import InfluxClient, InfluxSettings
from ingest.pipeline import Ingestor
from ingest.spool import Spool


def make_collector(
    site: SiteConfig, broker_port: int, password: str, url: str, database: str, state: Path, client_id: str = "c1"
) -> MeterCollector:
    """Build an in-process collector writing to `database`."""
    ingestor = Ingestor(
        site,
        InfluxClient(InfluxSettings(url=url, database=database, timeout_s=5)),
        Spool(state / "spool.db"),
        DeadLetterStore(state / "deadletter.db"),
        retry_budget_s=1.0,
    )
    settings = MqttSettings(port=broker_port, password=password, client_id=client_id)
    return MeterCollector(settings, site.site.id, ingestor)


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, every: float = 0.1) -> bool:
    """Poll `predicate` until true or timeout; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def stored_points(client: InfluxClient) -> dict[tuple[str, int], float]:
    """Return {(meter, ts_ms): value} of every meter_register point in the database."""
    points: dict[tuple[str, int], float] = {}
    for series in client.query('SELECT "value" FROM "meter_register" GROUP BY "meter"'):
        meter = series["tags"]["meter"]
        for ts, value in series["values"]:
            points[(meter, int(ts))] = value
    return points
