"""Transparent gateways end to end: simulated DL/T 645 and CJ/T 188 frames over real Mosquitto into real InfluxDB."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core import topics
from core.config import SiteConfig
from ingest.frames import parse_frames
from ingest.influx import InfluxClient, InfluxSettings
from simulators.meters.runner import run_site
from simulators.meters.transparent import FrameOptions
from simulators.meters.truth import Publication
from tests.collectors.helpers import make_collector, stored_points, wait_for
from tests.e2e.harness import count_stored
from tests.ingest.frames.site import transparent_site

pytestmark = pytest.mark.integration

INTERVAL_MS = 900_000


@pytest.fixture
def test_site() -> SiteConfig:
    """The broker fixture's site: a JSON gateway and one transparent gateway of each protocol."""
    return transparent_site(f"t{uuid.uuid4().hex[:8]}")


def away_from_an_interval_boundary(margin_s: float = 30.0) -> int:
    """Wait until the current 15-min interval has `margin_s` left; return its start (epoch ms).

    DL/T 645 replies carry no time: they are stamped with the start of the interval they are received in,
    so the run must not straddle a boundary for the expected points to be exact.
    """
    left = (INTERVAL_MS - time.time() * 1000 % INTERVAL_MS) / 1000
    if left < margin_s:
        time.sleep(left + 1.0)
    return int(time.time() * 1000) // INTERVAL_MS * INTERVAL_MS


def test_frames_land_as_readings_of_the_right_meters(broker, influx_db, tmp_path: Path) -> None:
    site: SiteConfig = broker.site
    slot = away_from_an_interval_boundary()
    end = datetime.fromtimestamp((slot + INTERVAL_MS) / 1000, UTC)  # the current interval is live
    start = end - timedelta(days=2)
    low_from = datetime.fromtimestamp(slot / 1000, UTC) - timedelta(days=1)
    options = FrameOptions(corrupt_rate=0.1, battery_low_from={"B1-W-WC": low_from})
    collector = make_collector(
        site, broker.port, broker.passwords["collector"], influx_db.url, influx_db.database, tmp_path
    )
    collector.start()
    pubs: list[Publication] = []
    try:
        assert collector.wait_connected()
        result = run_site(
            site, broker.host, broker.port, broker.passwords, 11, start, end, "fast",
            frames=options, on_publication=pubs.append,
        )  # fmt: skip
        received = int(time.time() * 1000)
        manifest = result.manifest
        bad = sum(len(p.bad) for p in pubs)
        assert wait_for(lambda: count_stored(influx_db.url, influx_db.database) >= manifest.distinct, timeout=60)
        assert wait_for(lambda: collector.ingestor.deadletters.count() >= bad, timeout=30)
        dead = collector.ingestor.deadletters.list()
    finally:
        collector.stop()
    assert received < slot + INTERVAL_MS, "the run straddled an interval boundary"
    assert result.refused == 0

    frames = [p for p in pubs if topics.frame_protocol_of(p.topic)]
    by_protocol = {topics.frame_protocol_of(p.topic) for p in frames if p.readings}
    assert by_protocol == {"dlt645", "cjt188"}
    corrupt = [p for p in frames if p.fault == "malformed:corrupt_frame"]
    assert corrupt and bad == len(corrupt)  # the JSON gateway sends nothing bad in this run

    with InfluxClient(InfluxSettings(url=influx_db.url, database=influx_db.database)) as client:
        stored = stored_points(client)
        assert set(stored) == set(manifest.expected)
        for key, truth in manifest.expected.items():
            assert stored[key] == pytest.approx(truth.value, rel=1e-12), key
        live = [(m, ts) for (m, ts) in manifest.expected if m.startswith("P1-E") and ts == slot]
        assert sorted(live) == [("P1-E-EV1", slot), ("P1-E-EV2", slot)]  # the live poll, stamped by receipt
        others = {ts for (m, ts) in manifest.expected if m == "P1-E-EV1"} - {slot}
        local = [datetime.fromtimestamp(ts / 1000, site.tz) for ts in others]
        assert len(local) >= 2 and all(t.time() == datetime.min.time() for t in local)  # daily freezes, 050601NN

        series = client.query('SELECT "flags" FROM "meter_register" WHERE "flags" <> \'\' GROUP BY "meter"')
        flagged = {(s["tags"]["meter"], int(ts)): flags for s in series for ts, flags in s["values"]}
        want = {k: ",".join(t.flags) for k, t in manifest.expected.items() if t.flags}
        assert want and flagged == want
        assert {m for m, _ in flagged} == {"B1-W-WC"}

        instants = client.query('SELECT "value", "raw" FROM "meter_instant" GROUP BY "meter", "quantity"')
        got = {(s["tags"]["meter"], s["tags"]["quantity"], int(v[0])): v[1] for s in instants for v in s["values"]}
    expected_instants = {
        (i.meter, i.quantity, i.ts_ms): i.value
        for p in frames
        if p.well_formed and p.gateway == "gw-dtu-645"
        for i in parse_frames("dlt645", p.topic, p.payload, site, received).instants
    }
    assert len(expected_instants) == 2 * 3 and got == pytest.approx(expected_instants)

    reasons = sorted(d.reason for d in dead)
    assert len(reasons) == len(corrupt)
    assert all(
        "checksum" in r or "does not start" in r or "ends with" in r or "second 0x68" in r or "unexpected byte" in r
        for r in reasons
    ), reasons
    assert {d.gateway for d in dead} <= {"gw-dtu-645", "gw-dtu-188"}
