"""End to end with the simulator and real servers: nothing lost, nothing doubled, every reject kept.

Each test runs the collector as a real process and checks the simulator's ground truth against InfluxDB
and the dead-letter store, across (a) kill -9 of the collector, (b) InfluxDB stopped 30 s under load,
(c) a broker restart.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.collectors.helpers import wait_for
from tests.e2e.harness import (
    Publishing,
    assert_exactly_stored,
    collector_process,
    count_stored,
    write_site_file,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def site_file(broker, tmp_path: Path) -> Path:
    return write_site_file(broker.site, tmp_path / "site.yaml")


def test_clean_run_with_every_input_fault(broker, influx_db, site_file: Path, tmp_path: Path) -> None:
    collector = collector_process(site_file, broker, influx_db.url, influx_db.database, tmp_path / "state")
    collector.start()
    try:
        collector.wait_ready()
        pub = Publishing().start(broker.site, broker, days=3, single=False)
        result = pub.join()
        assert result.refused == 0
        assert_exactly_stored(
            result, pub.publications, influx_db.url, influx_db.database, tmp_path / "state" / "deadletter.db"
        )
    finally:
        collector.stop()


def test_kill_9_of_the_collector_mid_stream(broker, influx_db, site_file: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    collector = collector_process(site_file, broker, influx_db.url, influx_db.database, state)
    collector.start()
    try:
        collector.wait_ready()
        # About 17 s of steady publishing: 4 days of readings at 20000x real time.
        pub = Publishing().start(broker.site, broker, days=4, speed=20000.0, single=True)
        for threshold in (400, 800):
            assert wait_for(lambda t=threshold: count_stored(influx_db.url, influx_db.database) > t, 60)
            assert pub.thread is not None and pub.thread.is_alive(), "kill must happen mid-stream"
            collector.kill()  # SIGKILL: nothing flushed, nothing acked that was not durable
            time.sleep(1.0)
            collector.start()
            collector.wait_ready()
        result = pub.join()
        assert result.refused == 0
        assert_exactly_stored(result, pub.publications, influx_db.url, influx_db.database, state / "deadletter.db")
    finally:
        collector.stop()


def test_influxdb_stopped_30s_under_load(broker, fresh_influx, site_file: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    collector = collector_process(site_file, broker, fresh_influx.url, fresh_influx.database, state)
    collector.start()
    try:
        collector.wait_ready()
        # About 50 s of steady publishing: 4 days of readings at ~7000x real time.
        pub = Publishing().start(broker.site, broker, days=4, speed=7000.0, single=True)
        assert wait_for(lambda: count_stored(fresh_influx.url, fresh_influx.database) > 200, 60)
        fresh_influx.server.stop()
        sent_before = len(pub.publications)
        time.sleep(30)
        assert len(pub.publications) > sent_before + 100, "the simulator kept publishing during the outage"
        assert collector.running
        spool = (state / "spool.db").stat().st_size
        assert spool > 0
        fresh_influx.server.start()
        fresh_influx.server.wait_ready()
        result = pub.join()
        assert result.refused == 0
        assert_exactly_stored(
            result, pub.publications, fresh_influx.url, fresh_influx.database, state / "deadletter.db"
        )
    finally:
        collector.stop()


def test_broker_restart_mid_stream(broker, influx_db, site_file: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    collector = collector_process(site_file, broker, influx_db.url, influx_db.database, state)
    collector.start()
    try:
        collector.wait_ready()
        pub = Publishing().start(broker.site, broker, days=4, speed=20000.0, single=True)
        assert wait_for(lambda: count_stored(influx_db.url, influx_db.database) > 400, 60)
        assert pub.thread is not None and pub.thread.is_alive(), "restart must happen mid-stream"
        broker.process.stop()  # graceful: Mosquitto saves its persistent sessions and queues
        time.sleep(2.0)
        broker.process.start()
        broker.process.wait_ready()
        result = pub.join()
        assert result.refused == 0
        assert_exactly_stored(result, pub.publications, influx_db.url, influx_db.database, state / "deadletter.db")
    finally:
        collector.stop()
