"""The coverage monitor: health bookkeeping (unit), and live against a real Mosquitto (integration)."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
import yaml

from alerts.coverage.codec import coverage_from_json
from alerts.coverage.liveness import MonitorStatus, status_from_json
from alerts.coverage.model import Coverage
from alerts.coverage.monitor import CoverageMonitor, MonitorSettings
from core import topics
from core.config import SiteConfig, parse_site
from core.types import CoverageReport
from ops.broker import SERVICE
from tests.alerts.coverage.helpers import disc, make_site, monitor_process
from tests.conftest import Broker
from tests.e2e.harness import write_site_file
from tests.ops.mqtt_probe import Probe

DEMO = Path(__file__).resolve().parents[3] / "sites" / "demo.yaml"


def pair_site(site_id: str = "cov") -> SiteConfig:
    # Open fence 0–200 m; a sees 0–110, b sees 100–200 (all-round cameras on the fence).
    # b failing leaves 110–200 blind; a failing leaves 0–100 blind.
    return make_site(
        [disc("a", 50, 0, 60), disc("b", 150, 0, 50)], {"boundary": [[0, 0], [200, 0]], "closed": False}, site_id
    )


def health(state: str, camera: str) -> bytes:
    return orjson.dumps({"camera": camera, "state": state, "since": int(time.time() * 1000), "features": {}})


def blind_spans(report: CoverageReport) -> list[tuple[float, float, tuple[str, ...]]]:
    return [(s.start_m, s.end_m, s.cameras) for s in report.blind]


# --- unit: no broker --------------------------------------------------------------------------------


@pytest.fixture
def offline() -> CoverageMonitor:
    return CoverageMonitor(Coverage(pair_site()), MonitorSettings(port=1))  # never started


def test_health_changes_drive_the_healthy_set(offline: CoverageMonitor) -> None:
    t = topics.camera_health("cov", "a")
    assert offline.handle(t, health("ok", "a")) is True
    assert offline.handle(t, health("ok", "a")) is False  # repeated ok: nothing to recompute
    assert offline.healthy() == {"a"}
    assert offline.handle(t, health("occluded", "a")) is True
    assert offline.handle(t, health("video_loss", "a")) is False  # still not healthy
    assert offline.handle(t, health("ok", "a")) is True
    assert offline.handle(t, b"") is True  # retained health cleared: unknown counts as unhealthy
    assert offline.healthy() == frozenset()
    assert offline.counts["changes"] == 4


def test_bad_and_foreign_health_is_counted_kept_and_ignored(offline: CoverageMonitor) -> None:
    assert offline.handle(topics.camera_health("cov", "a"), b"{garbage") is False
    assert offline.handle(topics.camera_health("cov", "a"), health("ok", "b")) is False  # payload names b
    assert offline.handle(topics.camera_health("cov", "zz"), health("ok", "zz")) is False  # not in site file
    assert offline.handle(topics.camera_health("other", "a"), health("ok", "a")) is False  # other site
    assert offline.counts["rejected"] == 3 and offline.counts["unknown_camera"] == 1
    assert [r.reason.split(":")[0] for r in offline.rejections] == [
        "not JSON",
        "payload names camera 'b', topic names 'a'",
        "not a camera health topic of site cov",
    ]
    assert offline.healthy() == frozenset()


def test_unknown_cameras_are_unhealthy_and_hooks_get_each_new_report(offline: CoverageMonitor) -> None:
    got: list[CoverageReport] = []
    offline.add_hook(got.append)

    def broken(_report: CoverageReport) -> None:
        raise RuntimeError("hook bug")

    offline.add_hook(broken)  # a failing hook must not stop the others or the monitor
    first = offline.recompute(force=True)
    assert first is not None and first.unhealthy == ("a", "b")
    assert blind_spans(first) == [(0.0, 200.0, ("a", "b"))]
    assert offline.recompute() is None  # nothing changed
    offline.handle(topics.camera_health("cov", "a"), health("ok", "a"))
    offline.handle(topics.camera_health("cov", "b"), health("ok", "b"))
    second = offline.recompute()
    assert second is not None and second.blind == ()
    assert got == [first, second] and offline.latest == second


# --- integration: real Mosquitto -----------------------------------------------------------------------


def with_site_id(site: SiteConfig, site_id: str) -> SiteConfig:
    data = site.model_dump(mode="json")
    data["site"]["id"] = site_id
    return parse_site(data)


def connect(broker: Broker) -> Probe:
    probe = Probe(broker.host, broker.port, SERVICE, broker.passwords[SERVICE])
    assert not probe.connect().is_failure
    return probe


@pytest.fixture
def probe(broker: Broker) -> Iterator[Probe]:
    p = connect(broker)
    yield p
    p.disconnect()


def start_monitor(broker: Broker, site: SiteConfig, hook: Callable[[CoverageReport], None]) -> CoverageMonitor:
    settings = MonitorSettings(
        host=broker.host,
        port=broker.port,
        password=broker.passwords[SERVICE],
        client_id=f"coverage-{site.site.id}",
        settle_s=0.3,
    )
    monitor = CoverageMonitor(Coverage(site), settings, on_report=hook)
    monitor.start()
    assert monitor.wait_connected(10)
    return monitor


def wait_report(probe: Probe, want: Callable[[CoverageReport], bool], timeout: float) -> tuple[CoverageReport, float]:
    """Return the first coverage report on the probe that satisfies `want`, and how long it took."""
    start = time.monotonic()
    seen = []
    while (left := timeout - (time.monotonic() - start)) > 0:
        try:
            msg = probe.receive(timeout=left)
        except queue.Empty:
            break
        report = coverage_from_json(msg.payload)
        seen.append(blind_spans(report))
        if want(report):
            return report, time.monotonic() - start
    raise AssertionError(f"no matching coverage report within {timeout} s; saw {seen}")


def close_to(spans: list[tuple[float, float]], tol: float = 1.0) -> Callable[[CoverageReport], bool]:
    def want(report: CoverageReport) -> bool:
        got = [(s.start_m, s.end_m) for s in report.blind]
        return len(got) == len(spans) and all(
            abs(a - ea) <= tol and abs(b - eb) <= tol for (a, b), (ea, eb) in zip(got, spans, strict=True)
        )

    return want


@pytest.mark.integration
def test_failure_and_recovery_reach_mqtt_within_2_s(broker: Broker, probe: Probe) -> None:
    site_id = broker.site.site.id
    hooked: queue.Queue[CoverageReport] = queue.Queue()
    probe.subscribe(topics.coverage(site_id))
    monitor = start_monitor(broker, pair_site(site_id), hooked.put)
    try:
        # No health yet: every camera counts as unhealthy, the whole fence is blind.
        first, _ = wait_report(probe, close_to([(0, 200)]), 5)
        assert first.unhealthy == ("a", "b") and first.blind[0].cameras == ("a", "b")

        for cam in ("a", "b"):
            probe.publish(topics.camera_health(site_id, cam), health("ok", cam), retain=True)
        wait_report(probe, lambda r: r.blind == (), 2)

        probe.publish(topics.camera_health(site_id, "b"), health("occluded", "b"), retain=True)
        report, took = wait_report(probe, close_to([(110, 200)]), 2)
        assert took < 2 and report.blind[0].cameras == ("b",) and report.unhealthy == ("b",)
        assert report.blind[0].start_xy == pytest.approx((110, 0), abs=1)

        probe.publish(topics.camera_health(site_id, "b"), b"\x00not json", retain=False)
        probe.publish(topics.camera_health(site_id, "b"), health("ok", "b"), retain=True)
        _, took = wait_report(probe, lambda r: r.blind == (), 2)
        assert took < 2
        assert monitor.counts["rejected"] == 1

        # The in-process hook got the same reports (how many depends on how the two first oks were batched).
        hooks = []
        while not hooked.empty():
            hooks.append(hooked.get_nowait())
        assert hooks[0] == first and hooks[-1] == monitor.latest and hooks[-1].blind == ()
        assert report in hooks
    finally:
        monitor.stop()

    # Retained: a late subscriber gets the last report at once.
    late = connect(broker)
    try:
        late.subscribe(topics.coverage(site_id))
        msg = late.receive(timeout=5)
        assert msg.retain and coverage_from_json(msg.payload).blind == ()
    finally:
        late.disconnect()


@pytest.mark.integration
def test_demo_site_camera_failure_opens_the_hand_computed_gaps(broker: Broker, probe: Probe) -> None:
    site_id = broker.site.site.id
    site = with_site_id(parse_site(yaml.safe_load(DEMO.read_text(encoding="utf-8"))), site_id)
    cameras = [c.id for c in site.cameras]
    for cam in cameras:  # retained before the monitor starts: it must pick them up at start-up
        probe.publish(topics.camera_health(site_id, cam), health("ok", cam), retain=True)
    probe.subscribe(topics.coverage(site_id))
    monitor = start_monitor(broker, site, lambda _r: None)
    try:
        everyone, _ = wait_report(probe, lambda r: r.blind == (), 5)
        assert everyone.unhealthy == ()

        # See test_plan.test_demo_cam_s3_failure_matches_hand_computation for the numbers.
        probe.publish(topics.camera_health(site_id, "cam-s3"), health("occluded", "cam-s3"), retain=True)
        report, took = wait_report(probe, close_to([(207.5, 230.0), (237.67, 275.46)]), 2)
        assert took < 2 and all(s.cameras == ("cam-s3",) for s in report.blind)

        probe.publish(topics.camera_health(site_id, "cam-s3"), health("ok", "cam-s3"), retain=True)
        _, took = wait_report(probe, lambda r: r.blind == (), 2)
        assert took < 2
    finally:
        monitor.stop()


# --- liveness: status heartbeats, Last Will on kill -9, offline on a clean stop -----------------------------


def wait_status(probe: Probe, want: Callable[[MonitorStatus], bool], timeout: float) -> tuple[MonitorStatus, bool]:
    """The first status message on the probe that satisfies `want`, and whether it was a retained one."""
    deadline = time.monotonic() + timeout
    seen = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = probe.receive(timeout=left)
        except queue.Empty:
            break
        status = status_from_json(bytes(msg.payload))
        seen.append(status.state)
        if want(status):
            return status, bool(msg.retain)
    raise AssertionError(f"no matching monitor status within {timeout} s; saw {seen}")


@pytest.mark.integration
def test_the_broker_says_offline_when_the_monitor_is_killed(broker: Broker, probe: Probe, tmp_path: Path) -> None:
    site_id = broker.site.site.id
    site_file = write_site_file(pair_site(site_id), tmp_path / "site.yaml")
    probe.subscribe(topics.coverage_status(site_id))
    proc = monitor_process(site_file, broker, tmp_path / "coverage.log", heartbeat_s=0.5)
    try:
        first, _ = wait_status(probe, lambda s: s.state == "online", 15)
        assert first.heartbeat_s == 0.5 and first.report_ms is not None  # after its first report
        beats = [wait_status(probe, lambda s: s.state == "online", 2)[0].beat_ms or 0 for _ in range(3)]
        assert all(beats) and beats == sorted(beats)

        proc.kill()  # SIGKILL: no clean DISCONNECT, so the broker publishes the Last Will
        t0 = time.monotonic()
        will, _ = wait_status(probe, lambda s: s.state == "offline", 5)
        assert will.reason == "connection lost" and time.monotonic() - t0 < 2
    finally:
        proc.kill()

    # Retained: whoever looks later learns the monitor is gone, not just the last report.
    late = connect(broker)
    try:
        late.subscribe(topics.coverage_status(site_id))
        status, retained = wait_status(late, lambda s: True, 5)
        assert retained and status.state == "offline" and status.reason == "connection lost"
    finally:
        late.disconnect()


@pytest.mark.integration
def test_a_clean_stop_says_offline(broker: Broker, probe: Probe) -> None:
    site_id = broker.site.site.id
    probe.subscribe(topics.coverage_status(site_id))
    monitor = start_monitor(broker, pair_site(site_id), lambda _r: None)
    try:
        wait_status(probe, lambda s: s.state == "online", 5)
    finally:
        monitor.stop()
    status, _ = wait_status(probe, lambda s: s.state == "offline", 5)
    assert status.reason == "stopped" and status.beat_ms is not None
