"""The collector in-process against real Mosquitto and InfluxDB."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from core import topics
from ingest.influx import InfluxClient, InfluxSettings
from tests.collectors.helpers import make_collector, stored_points, wait_for
from tests.ops.mqtt_probe import Probe

pytestmark = pytest.mark.integration


def test_readings_land_once_and_bad_ones_are_dead_lettered(broker, influx_db, tmp_path: Path) -> None:
    site = broker.site
    collector = make_collector(
        site, broker.port, broker.passwords["collector"], influx_db.url, influx_db.database, tmp_path
    )
    collector.start()
    assert collector.wait_connected()
    gw = Probe(broker.host, broker.port, "gw-a", broker.passwords["gw-a"])
    gw.connect()
    now = int(time.time() * 1000) // 1000 * 1000
    topic = topics.gateway_readings(site.site.id, "gw-a")
    good = [{"meter": "B1-E-MAIN", "ts": now - i * 900_000, "value": 1000.0 + i, "unit": "kWh"} for i in range(50)]
    try:
        gw.publish(topic, json.dumps({"readings": good}).encode())
        gw.publish(topic, json.dumps(good[0]).encode())  # duplicate
        gw.publish(topic, json.dumps({"readings": [good[1], {**good[2], "meter": "B2-E-PWR"}]}).encode())
        gw.publish(topic, b"\xff\xfe not json")
        gw.publish(topic, json.dumps({**good[3], "meter": "B1-E-MAIN\nevil,site=x value=1 1"}).encode())
        client = InfluxClient(InfluxSettings(url=influx_db.url, database=influx_db.database))
        assert wait_for(lambda: len(stored_points(client)) == 50)
        assert wait_for(lambda: collector.ingestor.deadletters.count() == 3)
        reasons = sorted(d.reason for d in collector.ingestor.deadletters.list())
    finally:
        gw.disconnect()
        collector.stop()
    points = stored_points(client)
    assert points == {("B1-E-MAIN", now - i * 900_000): (1000.0 + i) * 80 for i in range(50)}
    assert reasons[0].startswith("invalid JSON")
    assert reasons[1] == "meter B2-E-PWR is bound to gateway gw-b, not gw-a"
    assert reasons[2].startswith("unknown meter 'B1-E-MAIN\\nevil")
    measurements = client.query("SHOW MEASUREMENTS")
    client.close()
    assert [v[0] for v in measurements[0]["values"]] == ["meter_register"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the socket we drop on purpose
def test_unacked_messages_are_redelivered_to_a_restarted_collector(broker, influx_db, tmp_path: Path) -> None:
    """Messages received while the store is failing are not acked, and come back after a crash."""
    site = broker.site
    first = make_collector(
        site,
        broker.port,
        broker.passwords["collector"],
        influx_db.url,
        influx_db.database,
        tmp_path / "a",
        client_id="collector-x",
    )

    def broken_store(messages):  # the store fails: nothing may be acknowledged
        raise OSError("disk full")

    first.ingestor.store = broken_store  # type: ignore[method-assign]
    first.start()
    assert first.wait_connected()
    gw = Probe(broker.host, broker.port, "gw-a", broker.passwords["gw-a"])
    gw.connect()
    now = int(time.time() * 1000)
    topic = topics.gateway_readings(site.site.id, "gw-a")
    for i in range(20):
        gw.publish(topic, json.dumps({"meter": "B1-E-LGT", "ts": now - i * 1000, "value": i, "unit": "kWh"}).encode())
    gw.disconnect()
    time.sleep(1.0)
    # Crash: drop the connection without a DISCONNECT and without acking anything.
    first._stop.set()  # releases the network thread from its storage retries, without acking
    first.client._sock_close()
    first.client.loop_stop()
    second = make_collector(
        site,
        broker.port,
        broker.passwords["collector"],
        influx_db.url,
        influx_db.database,
        tmp_path / "b",
        client_id="collector-x",
    )
    second.start()
    client = InfluxClient(InfluxSettings(url=influx_db.url, database=influx_db.database))
    try:
        assert wait_for(lambda: len(stored_points(client)) == 20)
    finally:
        second.stop()
        client.close()
        first.ingestor.close()
