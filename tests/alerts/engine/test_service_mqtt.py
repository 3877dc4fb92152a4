"""The alert service against a real Mosquitto: camera failures → blind-spot alerts within 2 s, recovery,
restart without duplicates, gateway offline by retained status, acknowledgement published."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from alerts.coverage.model import Coverage
from alerts.coverage.monitor import CoverageMonitor, MonitorSettings
from alerts.engine.model import Alert, AlertState, alert_from_json
from alerts.engine.service import AlertService, MqttSettings
from alerts.engine.sources import InfluxRegisterSource
from alerts.engine.store import AlertStore
from core import topics
from core.config import SiteConfig
from ingest.influx import InfluxClient, InfluxSettings
from tests.alerts.engine.helpers import perimeter_site
from tests.collectors.helpers import wait_for
from tests.conftest import Broker, InfluxTarget

pytestmark = pytest.mark.integration

FAST = {
    "camera_unhealthy_hold_s": 0.5,
    "check_interval_s": 1,
    "resolved_retain_s": 1,
    "flap": {
        "default": {"open_hold_s": 0, "clear_hold_s": 0.5},
        "by_kind": {"blind_spot": {"open_hold_s": 0, "clear_hold_s": 0.5}},
    },
}


@pytest.fixture
def test_site() -> SiteConfig:
    """Overrides conftest's: the broker fixture builds its accounts from this site."""
    return perimeter_site(f"m{uuid.uuid4().hex[:8]}", alerts=FAST)


@dataclass
class Watcher:
    """Every message under vigil/{site}/alerts/#, with when it arrived."""

    messages: list[tuple[float, str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, topic: str, payload: bytes) -> None:
        with self.lock:
            self.messages.append((time.monotonic(), topic, payload))

    def alerts(self, since: float = 0.0) -> list[tuple[float, Alert]]:
        with self.lock:
            return [(t, alert_from_json(p)) for t, _, p in self.messages if t >= since and p]

    def first(self, match: Callable[[Alert], bool], since: float, timeout: float) -> tuple[float, Alert] | None:
        found: list[tuple[float, Alert]] = []

        def check() -> bool:
            found[:] = [(t, a) for t, a in self.alerts(since) if match(a)]
            return bool(found)

        return found[0] if wait_for(check, timeout, every=0.02) else None

    def cleared(self, alert_id: str) -> bool:
        with self.lock:
            return any(topic.endswith("/" + alert_id) and not p for _, topic, p in self.messages)


def client(broker: Broker, name: str) -> mqtt.Client:
    c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
    c.username_pw_set("vigil-service", broker.passwords["vigil-service"])
    c.connect(broker.host, broker.port)
    c.loop_start()
    return c


def health(c: mqtt.Client, site: str, camera: str, state: str) -> None:
    payload = orjson.dumps(
        {
            "camera": camera,
            "state": state,
            "since_ms": int(time.time() * 1000),
            "snapshot": f"snapshots/{camera}/last.jpg",
        }
    )
    c.publish(topics.camera_health(site, camera), payload, qos=1, retain=True).wait_for_publish(5)


def analyzer_all_ok(broker: Broker, site: str, name: str) -> mqtt.Client:
    """A stand-in video analyzer that has reported c1, c2 and c3 ok (retained); it keeps the connection."""
    c = client(broker, name)
    for cam in ("c1", "c2", "c3"):
        health(c, site, cam, "ok")
    return c


@dataclass
class Running:
    site: SiteConfig
    broker: Broker
    store_path: Path
    influx: InfluxClient
    service: AlertService | None = None
    store: AlertStore | None = None

    def start(self) -> AlertService:
        self.store = AlertStore(self.store_path)
        settings = MqttSettings(
            port=self.broker.port, password=self.broker.passwords["vigil-service"], client_id="alerts-test"
        )
        self.service = AlertService(
            self.site, self.store, source=InfluxRegisterSource(self.influx), mqtt_settings=settings, tick_s=0.05
        )
        self.service.start()
        assert self.service.wait_connected(10)
        return self.service

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
            self.service = None
        if self.store is not None:
            self.store.close()
            self.store = None


@pytest.fixture
def running(test_site: SiteConfig, broker: Broker, influx_db: InfluxTarget, tmp_path: Path) -> Iterator[Running]:
    influx = InfluxClient(InfluxSettings(url=influx_db.url, database=influx_db.database))
    now = int(time.time() * 1000)
    # Every meter reported a minute ago: no gateway is silent, no meter stale.
    influx.write_lines(
        [
            f"meter_register,building={m.building},item={m.item.value},kind={m.kind.value},meter={m.id},"
            f"site={test_site.site.id} value=1.0,raw=1.0 {now - 60_000}"
            for m in test_site.meters
        ]
    )
    r = Running(test_site, broker, tmp_path / "alerts.db", influx)
    try:
        yield r
    finally:
        r.stop()
        influx.close()


@pytest.fixture
def watcher(test_site: SiteConfig, broker: Broker) -> Iterator[Watcher]:
    w = Watcher()
    c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="watcher", protocol=mqtt.MQTTv5)
    c.username_pw_set("vigil-service", broker.passwords["vigil-service"])
    c.on_message = lambda _c, _u, msg: w.add(msg.topic, msg.payload)
    c.connect(broker.host, broker.port)
    c.subscribe(topics.all_alerts(test_site.site.id), qos=1)
    c.loop_start()
    yield w
    c.disconnect()
    c.loop_stop()


def test_blind_spot_within_two_seconds_then_resolved(
    test_site: SiteConfig, broker: Broker, running: Running, watcher: Watcher
) -> None:
    site = test_site.site.id
    pub = analyzer_all_ok(broker, site, "video-analyzer")
    monitor = CoverageMonitor(
        Coverage(test_site),
        MonitorSettings(port=broker.port, password=broker.passwords["vigil-service"], client_id="cov", settle_s=0.3),
    )
    monitor.start()
    service = running.start()
    try:
        assert wait_for(lambda: (r := monitor.latest) is not None and len(r.healthy) == 3, 10)
        time.sleep(0.5)
        assert service.active() == []

        t0 = time.monotonic()
        health(pub, site, "c2", "video_loss")
        hit = watcher.first(lambda a: a.kind == "blind_spot" and a.state is AlertState.OPEN, t0, 5)
        assert hit is not None, "no blind-spot alert"
        t_open, alert = hit
        assert t_open - t0 < 2.0
        ev = alert.evidence
        assert ev["start_m"] == pytest.approx(40.0, abs=1.0) and ev["end_m"] == pytest.approx(60.0, abs=1.0)
        assert ev["cameras"] == ["c2"] and ev["zones"] == ["gate"] and alert.severity.value == "critical"
        assert ev["snapshots"] == {"c2": "snapshots/c2/last.jpg"}
        lost = watcher.first(lambda a: a.key == "camera_stream_lost:c2", t0, 5)
        assert lost is not None and lost[1].severity.value == "major"

        # Restart the alert service while the camera is still down: same alert, no duplicate.
        running.stop()
        service = running.start()
        time.sleep(1.5)
        active = service.active()
        assert sorted(a.key for a in active) == sorted(["camera_stream_lost:c2", alert.key])
        assert next(a for a in active if a.kind == "blind_spot").id == alert.id

        # An operator acknowledges: published too.
        service.acknowledge(alert.id, "alice", "guard sent to the gate")
        acked = watcher.first(lambda a: a.id == alert.id and a.state is AlertState.ACKNOWLEDGED, t0, 5)
        assert acked is not None and acked[1].acked_by == "alice"

        t1 = time.monotonic()
        health(pub, site, "c2", "ok")
        done = watcher.first(lambda a: a.id == alert.id and a.state is AlertState.RESOLVED, t1, 5)
        assert done is not None and done[1].resolved_by == "engine"
        assert done[0] - t1 < 2.0  # clear hold 0.5 s
        assert wait_for(lambda: watcher.cleared(alert.id), 5)  # retained message removed after 1 s
        assert service.active() == []
        assert [e.action for e in service.history(alert.id)] == ["open", "acknowledge", "resolve"]
        assert len(service.alerts(kind="blind_spot")) == 1
    finally:
        monitor.stop()
        pub.disconnect()
        pub.loop_stop()


def test_gateway_offline_by_retained_status(
    test_site: SiteConfig, broker: Broker, running: Running, watcher: Watcher
) -> None:
    site = test_site.site.id
    pub = client(broker, "gw-status")
    pub.publish(topics.gateway_status(site, "gw-a"), b"online", qos=1, retain=True).wait_for_publish(5)
    service = running.start()
    try:
        time.sleep(1.5)
        assert [a.kind for a in service.active()] == []
        t0 = time.monotonic()
        pub.publish(topics.gateway_status(site, "gw-a"), b"offline", qos=1, retain=True).wait_for_publish(5)
        hit = watcher.first(lambda a: a.key == "gateway_offline:gw-a" and a.state is AlertState.OPEN, t0, 5)
        assert hit is not None and hit[1].evidence["reasons"] == ["status offline"]
        # A restart sees the retained offline status again: still one alert
        running.stop()
        service = running.start()
        time.sleep(1.5)
        assert [a.id for a in service.active()] == [hit[1].id]
        t1 = time.monotonic()
        pub.publish(topics.gateway_status(site, "gw-a"), b"online", qos=1, retain=True).wait_for_publish(5)
        assert watcher.first(lambda a: a.id == hit[1].id and a.state is AlertState.RESOLVED, t1, 5) is not None
        # Garbage on a status topic is refused, counted, and changes nothing
        pub.publish(topics.gateway_status(site, "gw-b"), b"\xff\xfe?", qos=1).wait_for_publish(5)
        rejected = {"input": "gateway_status"}
        registry = service.metrics.registry
        assert wait_for(lambda: registry.get_sample_value("vigil_alert_rejected_total", rejected) == 1, 5)
        assert service.active() == []
    finally:
        pub.disconnect()
        pub.loop_stop()


def test_python_m_alerts_process(
    test_site: SiteConfig, broker: Broker, influx_db: InfluxTarget, watcher: Watcher, tmp_path: Path
) -> None:
    """The service as a real process, coverage monitor in-process: c3 down leaves 70–100 m blind."""
    import httpx

    from ops.servers import free_port
    from ops.stack import PythonService, http_ok
    from tests.e2e.harness import write_site_file

    site = test_site.site.id
    pub = analyzer_all_ok(broker, site, "analyzer-2")
    port = free_port()
    args = [
        "alerts",
        "--site",
        str(write_site_file(test_site, tmp_path / "site.yaml")),
        "--state-dir",
        str(tmp_path / "state"),
        "--mqtt-port",
        str(broker.port),
        "--influx-url",
        influx_db.url,
        "--influx-db",
        influx_db.database,
        "--with-coverage",
        "--metrics-port",
        str(port),
        "--summary-every",
        "1",
    ]
    service = PythonService(
        "alerts",
        args,
        tmp_path / "alerts.log",
        env={"VIGIL_MQTT_PASSWORD": broker.passwords["vigil-service"]},
        ready=http_ok(f"http://127.0.0.1:{port}/metrics"),
    )
    service.start()
    try:
        service.wait_ready()
        time.sleep(2.0)  # the monitor settles and publishes "all healthy"
        t0 = time.monotonic()
        health(pub, site, "c3", "frozen")
        hit = watcher.first(lambda a: a.kind == "blind_spot", t0, 5)
        assert hit is not None, service.log_tail()
        assert hit[0] - t0 < 2.0
        ev = hit[1].evidence
        assert (ev["start_m"], ev["end_m"], ev["cameras"]) == (
            pytest.approx(70, abs=1),
            pytest.approx(100, abs=1),
            ["c3"],
        )
        assert hit[1].severity.value == "minor"  # the east fence is priority 4
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert f'vigil_alerts_active{{kind="blind_spot",severity="minor",site="{site}",state="open"}} 1.0' in metrics
    finally:
        service.stop()
        pub.disconnect()
        pub.loop_stop()


def test_coverage_monitor_down_when_hung_or_killed(
    test_site: SiteConfig, broker: Broker, running: Running, watcher: Watcher, tmp_path: Path
) -> None:
    """The monitor as a process (heartbeat 0.5 s): SIGSTOP (connection up, no beats) and kill -9 (Last Will)."""
    import os
    import signal

    from tests.alerts.coverage.helpers import monitor_process
    from tests.e2e.harness import write_site_file

    site = test_site.site.id
    pub = analyzer_all_ok(broker, site, "analyzer-3")
    site_file = write_site_file(test_site, tmp_path / "site.yaml")
    proc = monitor_process(site_file, broker, tmp_path / "coverage.log", heartbeat_s=0.5)
    service = running.start()
    down = "coverage_monitor_down:" + site
    try:
        assert wait_for(lambda: not service.check_coverage_monitor().stale, 15), proc.log_tail()
        assert service.active() == []

        # Hung: the process is frozen, its connection stays open (no will for 1.5 × keepalive); no heartbeat.
        t0 = time.monotonic()
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGSTOP)
        hung = watcher.first(lambda a: a.key == down and a.state is AlertState.OPEN, t0, 5)
        assert hung is not None and hung[0] - t0 < 3.0  # 3 missed beats of 0.5 s, then the next tick
        assert hung[1].severity.value == "critical" and hung[1].evidence["reason"] == "silent"
        t1 = time.monotonic()
        os.kill(proc.pid, signal.SIGCONT)
        back = watcher.first(lambda a: a.id == hung[1].id and a.state is AlertState.RESOLVED, t1, 5)
        assert back is not None

        # Killed: the broker publishes the monitor's Last Will at once.
        t2 = time.monotonic()
        proc.kill()
        killed = watcher.first(lambda a: a.key == down and a.state is AlertState.OPEN, t2, 5)
        assert killed is not None and killed[0] - t2 < 2.0
        ev = killed[1].evidence
        assert ev["reason"] == "offline" and ev["status"] == "offline" and ev["blind_at_last_report"] == 0
        assert "offline since" in killed[1].title

        # A new monitor comes up: the report is current again, the alert resolves.
        t3 = time.monotonic()
        proc = monitor_process(site_file, broker, tmp_path / "coverage-2.log", heartbeat_s=0.5)
        again = watcher.first(lambda a: a.id == killed[1].id and a.state is AlertState.RESOLVED, t3, 15)
        assert again is not None, proc.log_tail()
    finally:
        proc.kill()
        pub.disconnect()
        pub.loop_stop()


def _gateway_with_will(broker: Broker, site: str, gateway: str) -> mqtt.Client:
    """A gateway's own connection: Last Will "offline", "online" on every (re)connect, both retained."""
    topic = topics.gateway_status(site, gateway)
    c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=gateway, protocol=mqtt.MQTTv5)
    c.username_pw_set(gateway, broker.passwords[gateway])
    c.will_set(topic, b"offline", qos=1, retain=True)
    c.reconnect_delay_set(min_delay=1, max_delay=2)
    c.on_connect = lambda cl, *_: cl.publish(topic, b"online", qos=1, retain=True)
    c.connect(broker.host, broker.port)
    c.loop_start()
    return c


@pytest.mark.parametrize("holds", ["default", "none"])
def test_a_broker_restart_opens_no_alert_with_the_default_holds(
    test_site: SiteConfig, broker: Broker, running: Running, tmp_path: Path, holds: str
) -> None:
    """Stopping the broker publishes the Last Will of every gateway and of the coverage monitor; they are all
    back within seconds. With the default flap holds no alert opens; without holds (the control that shows
    the wills really were published) the gateways are called down.
    """
    from tests.alerts.coverage.helpers import monitor_process
    from tests.e2e.harness import write_site_file

    site = test_site.site.id
    alerts: dict[str, Any] = {"check_interval_s": 1, "camera_unhealthy_hold_s": 0.5}
    if holds == "none":
        alerts["flap"] = {"default": {"open_hold_s": 0}, "by_kind": {}}
    running.site = perimeter_site(site, alerts=alerts)
    pub = analyzer_all_ok(broker, site, "analyzer-4")
    gateways = [_gateway_with_will(broker, site, g.id) for g in test_site.gateways]
    proc = monitor_process(write_site_file(test_site, tmp_path / "site.yaml"), broker, tmp_path / "cov.log", 0.5)
    service = running.start()
    try:
        assert wait_for(lambda: not service.check_coverage_monitor().stale, 15), proc.log_tail()
        time.sleep(2)
        assert service.active() == []
        broker.process.restart()
        # Past the coverage hold (15 s) and well past every client's reconnection; an alert that opened
        # would still be active (60 s clear hold).
        time.sleep(20)
        assert not service.check_coverage_monitor().stale, proc.log_tail()
        kinds = {a.kind for a in service.active()}
        if holds == "default":
            assert kinds == set()
        else:
            # The monitor's will reaches the engine only if the broker drops the monitor before the engine
            # (it opened one coverage_monitor_down in a 10-minute soak); the gateways' retained wills always do.
            assert "gateway_offline" in kinds and kinds <= {"gateway_offline", "coverage_monitor_down"}
    finally:
        proc.kill()
        for c in (pub, *gateways):
            c.disconnect()
            c.loop_stop()


def test_a_replay_at_300x_is_not_a_silent_gateway(
    test_site: SiteConfig, broker: Broker, influx_db: InfluxTarget, tmp_path: Path
) -> None:
    """The main job's start: the simulator replays the last hour at 300× through the real collector.

    The data is an hour old at first (twice the gateway silence threshold) and catches up with the wall clock
    in 12 s; it keeps arriving all along, so no gateway is offline and no meter stale at any look.
    """
    from datetime import UTC, datetime, timedelta

    from simulators.meters.runner import run_site
    from tests.e2e.harness import collector_process, write_site_file

    site_file = write_site_file(test_site, tmp_path / "site.yaml")
    collector = collector_process(site_file, broker, influx_db.url, influx_db.database, tmp_path / "collector")
    collector.start()
    stop = threading.Event()
    speed, span = 300.0, timedelta(hours=1)
    now = datetime.fromtimestamp(int(time.time()) // 900 * 900, UTC)
    start = now - span * (1 - 1 / speed)  # as the simulator's realtime mode: catch up just as the span ends
    gateways = {g.id: broker.passwords[g.id] for g in test_site.gateways}
    replay = threading.Thread(
        target=run_site,
        args=(test_site, broker.host, broker.port, gateways, 3, start, None, "realtime", speed),
        kwargs={"stop": stop, "keep_readings": False},
        daemon=True,
    )
    influx = InfluxClient(InfluxSettings(url=influx_db.url, database=influx_db.database))
    store = AlertStore(tmp_path / "alerts.db")
    service = AlertService(test_site, store, source=InfluxRegisterSource(influx), tick_s=0.05)
    try:
        collector.wait_ready()
        replay.start()
        service.start()  # meter checks every check_interval_s = 1 s
        lags = []
        deadline = time.monotonic() + span.total_seconds() / speed + 4
        while time.monotonic() < deadline:
            time.sleep(1.0)
            latest = service.gateways.latest or {}
            if latest:
                lags.append(time.time() * 1000 - max(p.ts_ms for p in latest.values()))
            silent = [a.key for a in store.query(test_site.site.id) if a.kind in ("gateway_offline", "meter_stale")]
            assert silent == [], f"{silent} with the data {lags[-1] / 1000:.0f} s behind"
        # It did replay: the data started well over the silence threshold behind, and caught up.
        assert lags and max(lags) > test_site.alerts.gateway_silence_s * 1000 and min(lags) < 900_000, lags
    finally:
        stop.set()
        service.stop()
        replay.join(10)
        collector.stop()
        store.close()
        influx.close()
