"""The alert wall screen in a real browser (Debian's chromium, driven by Playwright) against a real broker.

A camera fails → within 2 s the page shows the blind-spot alert and a red stretch on the map, and rings; the
operator acknowledges it with a note → it shows acknowledged and the alarm stops; the server goes away → the
page says it is stale; the server comes back → the page resyncs (the alert resolved meanwhile).
Screenshots go to test-artifacts/screen/.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from alerts.coverage.model import Coverage
from alerts.coverage.monitor import CoverageMonitor, MonitorSettings
from alerts.engine.service import AlertService, MqttSettings
from alerts.engine.store import AlertStore
from api.app import ALERT_ROUTERS, SCREEN_PAGES, ApiSettings, create_app
from api.auth import KeyStore, Role
from api.deps import AlertServices
from api.live import LiveSettings, LiveState
from core import topics
from core.config import SiteConfig
from ingest.influx import InfluxClient, InfluxSettings
from ops.servers import free_port
from tests.alerts.engine.helpers import perimeter_site
from tests.alerts.engine.test_service_mqtt import FAST, client, health
from tests.api.conftest import KEYS, load
from tests.collectors.helpers import wait_for
from tests.conftest import Broker, InfluxTarget

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screen"
playwright_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():  # pragma: no cover - scripts/bootstrap.sh installs it
    pytest.skip("Debian's chromium is not installed (scripts/bootstrap.sh)", allow_module_level=True)


@pytest.fixture
def test_site() -> SiteConfig:
    """The perimeter site (three cameras on a 100 m fence); the broker fixture builds its accounts from it."""
    return perimeter_site(f"s{uuid.uuid4().hex[:8]}", alerts=FAST)


class Server:
    """The API served by uvicorn in a thread on a fixed port, stoppable and restartable."""

    def __init__(self, app: FastAPI, port: int) -> None:
        self.app, self.port = app, port
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", timeout_graceful_shutdown=1
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        assert wait_for(lambda: self.server is not None and self.server.started, 10)

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(10)
            self.server = self.thread = None


@dataclass
class Stack:
    site: SiteConfig
    store: AlertStore
    server: Server
    monitor: CoverageMonitor
    base: str


@pytest.fixture
def stack(
    test_site: SiteConfig, broker: Broker, influx_db: InfluxTarget, keys: KeyStore, tmp_path: Path
) -> Iterator[Stack]:
    """Alert service + coverage monitor + API (live state, screen) for the test site, cameras all ok."""
    site_id = test_site.site.id
    password = broker.passwords["vigil-service"]
    influx = InfluxClient(InfluxSettings(url=influx_db.url, database=influx_db.database, timeout_s=60))
    today = datetime.now(test_site.tz).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    load(test_site, influx, today - timedelta(days=29), today + timedelta(minutes=1), seed=11)

    pub = client(broker, "analyzer")
    for cam in ("c1", "c2", "c3"):
        health(pub, site_id, cam, "ok")
    for gw in ("gw-a", "gw-b"):
        pub.publish(topics.gateway_status(site_id, gw), b"online", qos=1, retain=True).wait_for_publish(5)
    store = AlertStore(tmp_path / "alerts.db")
    service = AlertService(
        test_site,
        store,
        mqtt_settings=MqttSettings(port=broker.port, password=password, client_id="alerts"),
        tick_s=0.05,
    )
    monitor = CoverageMonitor(
        Coverage(test_site), MonitorSettings(port=broker.port, password=password, client_id="cov", settle_s=0.3)
    )
    live = LiveState(test_site, LiveSettings(port=broker.port, password=password, client_id="api-live"))
    alerting = AlertServices(AlertStore(tmp_path / "alerts.db"), live, Coverage(test_site), heartbeat_s=1.0)
    settings = ApiSettings(site=test_site, influx=influx.settings, background_rollup=False, state_ttl_s=0)
    app = create_app(
        settings,
        keys,
        client=influx,
        routers=ALERT_ROUTERS,
        pages=SCREEN_PAGES,
        state={"alerting": alerting},
        workers=[live],
    )
    server = Server(app, free_port())
    monitor.start()
    service.start()
    server.start()
    try:
        assert service.wait_connected(10) and live.wait_connected(10)
        assert wait_for(lambda: (r := live.coverage) is not None and len(r.healthy) == 3, 10)
        yield Stack(test_site, store, server, monitor, f"http://127.0.0.1:{server.port}")
    finally:
        server.stop()
        service.stop()
        monitor.stop()
        alerting.store.close()
        store.close()
        pub.disconnect()
        pub.loop_stop()
        influx.close()


def shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))  # type: ignore[attr-defined]


def test_blind_spot_on_the_wall_screen(stack: Stack, broker: Broker) -> None:
    site_id = stack.site.site.id
    pub = client(broker, "analyzer-2")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{stack.base}/screen/login?key={KEYS[Role.OPERATOR]}")
            assert page.url.endswith("/screen")
            page.wait_for_selector('#conn[data-state="live"]', timeout=10_000)
            page.wait_for_selector('.tile[data-camera="c3"][data-state="ok"]', timeout=5_000)
            page.wait_for_function("document.querySelector('#map svg') !== null", timeout=5_000)
            assert page.get_attribute("#map", "data-blind") == "0"
            # Chinese labels in the served font (not whatever the kiosk has).
            assert page.text_content("header h1") == "周界安防监控"
            page.wait_for_function("document.fonts.check('26px VigilCJK', '周界')", timeout=10_000)
            assert page.evaluate(
                "[...document.fonts].some(f => f.family.includes('VigilCJK') && f.status === 'loaded')"
            )
            page.wait_for_selector("#energy .ebar.today", timeout=10_000)
            page.wait_for_selector('.gw-online[data-gateway="gw-b"]', timeout=5_000)
            shot(page, "1-all-ok-zh")

            # A camera is occluded: blind 40–60 m in the gate zone, critical.
            t0 = time.monotonic()
            health(pub, site_id, "c2", "occluded")
            page.wait_for_selector('li.alert[data-kind="blind_spot"][data-state="open"]', timeout=2_000)
            page.wait_for_function("document.querySelector('#map').dataset.blind !== '0'", timeout=2_000)
            elapsed = time.monotonic() - t0
            assert elapsed < 2.0, f"blind spot on screen after {elapsed:.2f} s"
            assert page.locator('#map polyline[stroke="#e53935"]').count() >= 1
            assert page.get_attribute("body", "data-alarm") == "on"
            assert page.evaluate("window.vigilAlarm.ringing && window.vigilAlarm.audio === 'running'")
            page.wait_for_selector('.tile[data-camera="c2"][data-state="occluded"]', timeout=2_000)
            page.wait_for_selector('li.alert[data-kind="camera_unhealthy"]', timeout=3_000)
            kinds = page.eval_on_selector_all("li.alert", "els => els.map(e => e.dataset.kind)")
            assert kinds[0] == "blind_spot"  # critical before the camera's minor alert
            shot(page, "2-blind-spot-alarm-zh")

            # Acknowledge it with a note: shown acknowledged, alarm silenced, written through the store.
            item = page.locator('li.alert[data-kind="blind_spot"]')
            alert_id = item.get_attribute("data-alert-id")
            assert alert_id
            item.locator("button.ack").click()
            page.fill("#ack-note", "已派保安前往大门")
            shot(page, "3-ack-dialog-zh")
            page.click("#ack-confirm")
            page.wait_for_selector(f'li.alert[data-alert-id="{alert_id}"][data-state="acknowledged"]', timeout=2_000)
            assert page.get_attribute("body", "data-alarm") == "off"
            assert page.evaluate("window.vigilAlarm.ringing") is False
            acked = stack.store.get(alert_id)
            assert acked.state.value == "acknowledged" and acked.acked_by == "operator"
            assert acked.note == "已派保安前往大门"
            assert "已派保安前往大门" in (item.text_content() or "")
            shot(page, "4-acknowledged-zh")

            # The server goes away: the page says so at once. Meanwhile the camera recovers.
            stack.server.stop()
            page.wait_for_selector('body[data-conn="reconnecting"], body[data-conn="stale"]', timeout=5_000)
            assert page.is_visible("#stale-banner")
            shot(page, "5-stale-zh")
            health(pub, site_id, "c2", "ok")
            assert wait_for(lambda: stack.store.get(alert_id).state.value == "resolved", 5)

            # Back: the page reconnects and resyncs (the alert gone, no red on the map).
            stack.server.start()
            page.wait_for_selector('#conn[data-state="live"]', timeout=15_000)
            page.wait_for_selector(f'li.alert[data-alert-id="{alert_id}"]', state="detached", timeout=5_000)
            page.wait_for_function("document.querySelector('#map').dataset.blind === '0'", timeout=5_000)
            page.wait_for_selector('.tile[data-camera="c2"][data-state="ok"]', timeout=5_000)
            shot(page, "6-resynced-zh")

            page.click("#lang")
            assert page.text_content("header h1") == "Perimeter security"
            shot(page, "7-resynced-en")
            assert errors == []
        finally:
            browser.close()
            pub.disconnect()
            pub.loop_stop()


def test_a_dead_coverage_monitor_shows_the_map_stale(stack: Stack, broker: Broker) -> None:
    """The monitor stops: the map is marked stale, a critical alert rings; a new monitor: current again."""
    password = broker.passwords["vigil-service"]
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        again: CoverageMonitor | None = None
        try:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{stack.base}/screen/login?key={KEYS[Role.OPERATOR]}")
            page.wait_for_selector('#conn[data-state="live"]', timeout=10_000)
            page.wait_for_selector('body[data-coverage="current"]', timeout=5_000)
            assert not page.is_visible("#coverage-stale")

            t0 = time.monotonic()
            stack.monitor.stop()  # says offline on its way out (a kill -9 makes the broker say it: its will)
            page.wait_for_selector('body[data-coverage="stale"]', timeout=2_000)
            assert time.monotonic() - t0 < 2.0
            assert page.is_visible("#coverage-stale")
            assert page.get_attribute("#coverage-stale", "data-reason") == "offline"
            assert "覆盖监测程序离线" in (page.text_content("#coverage-stale") or "")
            page.wait_for_selector('li.alert[data-kind="coverage_monitor_down"][data-state="open"]', timeout=3_000)
            assert page.get_attribute("body", "data-alarm") == "on"  # critical: a blind spot nobody can see
            assert "覆盖监测程序停止" in (page.text_content('li.alert[data-kind="coverage_monitor_down"]') or "")
            shot(page, "8-coverage-monitor-down-zh")

            again = CoverageMonitor(
                Coverage(stack.site), MonitorSettings(port=broker.port, password=password, client_id="cov2")
            )
            again.start()
            page.wait_for_selector('body[data-coverage="current"]', timeout=10_000)
            page.wait_for_selector('li.alert[data-kind="coverage_monitor_down"]', state="detached", timeout=5_000)
            assert errors == []
        finally:
            if again is not None:
                again.stop()
            browser.close()
