"""`python -m collectors` as a process: JSON logs carrying the device fields, metrics on the chosen address."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from core import topics
from ops.servers import free_port
from ops.stack import PythonService, http_ok
from tests.collectors.helpers import wait_for
from tests.e2e.harness import write_site_file
from tests.ops.mqtt_probe import Probe

pytestmark = pytest.mark.integration


def test_json_logs_name_the_gateway_and_meter_of_a_rejected_reading(broker, influx_db, tmp_path: Path) -> None:
    site_file = write_site_file(broker.site, tmp_path / "site.yaml")
    port = free_port()
    log = tmp_path / "collector.log"
    collector = PythonService(
        "collector",
        [
            *("collectors", "--site", str(site_file), "--mqtt-port", str(broker.port)),
            *("--influx-url", influx_db.url, "--influx-db", influx_db.database, "--state-dir", str(tmp_path / "s")),
            *("--metrics-port", str(port), "--metrics-host", "127.0.0.1", "--log-format", "json"),
        ],
        log,
        env={"VIGIL_MQTT_PASSWORD": broker.passwords["collector"]},
        ready=http_ok(f"http://127.0.0.1:{port}/metrics"),
    )
    collector.start()
    gw = Probe(broker.host, broker.port, "gw-a", broker.passwords["gw-a"])
    try:
        collector.wait_ready()
        gw.connect()
        now = int(time.time() * 1000)
        reading = {"meter": "B2-E-PWR", "ts": now, "value": 1.0, "unit": "kWh"}  # gw-b's meter
        gw.publish(topics.gateway_readings(broker.site.site.id, "gw-a"), json.dumps({"readings": [reading]}).encode())

        def rejected() -> list[dict[str, object]]:
            docs = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.startswith("{")]
            return [d for d in docs if str(d["message"]).startswith("rejected")]

        assert wait_for(lambda: bool(rejected()), timeout=20)
        assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 200
    finally:
        gw.disconnect()
        collector.stop()
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines and all(line.startswith("{") for line in lines), lines[:3]  # every line is JSON
    doc = rejected()[0]
    assert doc["service"] == "collector" and doc["logger"] == "ingest.pipeline" and doc["level"] == "INFO"
    assert doc["gateway"] == "gw-a" and doc["meter"] == "B2-E-PWR"
    assert doc["topic"] == topics.gateway_readings(broker.site.site.id, "gw-a")
