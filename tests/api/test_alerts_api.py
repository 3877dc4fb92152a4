"""Alert, camera, perimeter and screen endpoints on a real alert store; the live state fed message by message."""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from alerts.coverage.codec import coverage_to_json
from alerts.coverage.model import Coverage
from alerts.engine.model import AlertState, Condition, Severity, alert_to_json
from alerts.engine.store import AlertStore
from api.app import ALERT_ROUTERS, SCREEN_PAGES, ApiSettings, create_app
from api.auth import KeyStore, Role
from api.deps import KEY_COOKIE, AlertServices
from api.live import LiveSettings, LiveState
from api.routes.screen import CJK_FONTS
from api.screen.font import first_face
from core import topics
from core.config import SiteConfig
from ingest.influx import InfluxClient, InfluxSettings
from tests.alerts.engine.helpers import perimeter_site
from tests.api.conftest import KEYS
from tests.conftest import Broker, InfluxTarget

with warnings.catch_warnings():  # as in conftest: starlette would rather have httpx2
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

RED = 'stroke="#e53935"'


@pytest.fixture
def test_site() -> SiteConfig:
    return perimeter_site(f"a{uuid.uuid4().hex[:8]}")


@dataclass
class AlertEnv:
    site: SiteConfig
    store: AlertStore
    live: LiveState
    client: TestClient

    def get(self, path: str, role: Role | None = Role.READER, **params: object) -> httpx.Response:
        headers = {"X-API-Key": KEYS[role]} if role is not None else {}
        r: httpx.Response = self.client.get(f"/api/v1/{path}", params=params, headers=headers)
        return r

    def post(self, path: str, body: object, role: Role = Role.OPERATOR) -> httpx.Response:
        r: httpx.Response = self.client.post(f"/api/v1/{path}", json=body, headers={"X-API-Key": KEYS[role]})
        return r

    def open(self, kind: str, what: str, severity: str, now_ms: int) -> str:
        cond = Condition(f"{kind}:{what}", kind, Severity(severity), f"{kind} {what}", {"what": what})
        return self.store.open(self.site.site.id, cond, now_ms).id

    def health(self, camera: str, state: str) -> None:
        payload = {"camera": camera, "state": state, "since_ms": 1_700_000_000_000, "snapshot": f"s/{camera}.jpg"}
        self.live.handle(topics.camera_health(self.site.site.id, camera), orjson.dumps(payload))


@pytest.fixture
def aenv(test_site: SiteConfig, influx_db: InfluxTarget, keys: KeyStore, tmp_path: Path) -> Iterator[AlertEnv]:
    influx = InfluxClient(InfluxSettings(url=influx_db.url, database=influx_db.database))
    store = AlertStore(tmp_path / "alerts.db")
    live = LiveState(test_site, LiveSettings())  # not started: the tests feed it messages
    alerting = AlertServices(store, live, Coverage(test_site))
    settings = ApiSettings(site=test_site, influx=influx.settings, background_rollup=False)
    app = create_app(
        settings, keys, client=influx, routers=ALERT_ROUTERS, pages=SCREEN_PAGES, state={"alerting": alerting}
    )
    try:
        with TestClient(app) as client:
            yield AlertEnv(test_site, store, live, client)
    finally:
        store.close()
        influx.close()


def test_list_and_filter(aenv: AlertEnv) -> None:
    t = 1_700_000_000_000
    minor = aenv.open("camera_unhealthy", "c1", "minor", t)
    crit = aenv.open("blind_spot", "40.0-60.0", "critical", t + 1)
    major = aenv.open("gateway_offline", "gw-a", "major", t + 2)
    aenv.store.acknowledge(major, "alice", None, t + 3)

    assert aenv.get("alerts", role=None).status_code == 401
    r = aenv.get("alerts")
    assert r.status_code == 200
    # open before acknowledged, then most severe first
    assert [a["id"] for a in r.json()] == [crit, minor, major]
    assert [a["id"] for a in aenv.get("alerts", state="open").json()] == [crit, minor]
    assert [a["id"] for a in aenv.get("alerts", kind="gateway_offline").json()] == [major]
    assert [a["id"] for a in aenv.get("alerts", severity=["critical", "major"]).json()] == [crit, major]
    assert [a["id"] for a in aenv.get("alerts", limit=1).json()] == [crit]
    assert aenv.get("alerts", state="bogus").status_code == 422
    assert aenv.get("alerts", limit=0).status_code == 422


def test_get_ack_resolve(aenv: AlertEnv) -> None:
    alert_id = aenv.open("blind_spot", "40.0-60.0", "critical", 1_700_000_000_000)
    assert aenv.get(f"alerts/{alert_id}").json()["audit"][0]["action"] == "open"
    assert aenv.get("alerts/nope").status_code == 404

    assert aenv.post(f"alerts/{alert_id}/ack", {"note": "x"}, role=Role.READER).status_code == 403
    assert aenv.post(f"alerts/{alert_id}/ack", {"note": "x", "extra": 1}).status_code == 422
    assert aenv.post(f"alerts/{alert_id}/ack", {"note": "x" * 2001}).status_code == 422
    r = aenv.post(f"alerts/{alert_id}/ack", {"note": "guard sent"})
    assert r.status_code == 200
    body = r.json()
    assert (body["state"], body["acked_by"], body["note"]) == ("acknowledged", "operator", "guard sent")
    assert aenv.live.snapshot()["alerts"][alert_id]["state"] == "acknowledged"  # the screen hears at once
    assert aenv.post(f"alerts/{alert_id}/ack", {}).status_code == 409

    r = aenv.post(f"alerts/{alert_id}/resolve", {"note": "camera cleaned"}, role=Role.ADMIN)
    assert r.status_code == 200 and r.json()["resolved_by"] == "admin"
    assert aenv.post(f"alerts/{alert_id}/resolve", {}).status_code == 409
    assert aenv.post("alerts/nope/resolve", {}).status_code == 404
    detail = aenv.get(f"alerts/{alert_id}").json()
    assert [(e["action"], e["actor"]) for e in detail["audit"]] == [
        ("open", "engine"),
        ("acknowledge", "operator"),
        ("resolve", "admin"),
    ]
    assert aenv.store.latched(aenv.site.site.id, "blind_spot:40.0-60.0")


def test_live_state_follows_alert_messages(aenv: AlertEnv) -> None:
    site = aenv.site.site.id
    alert_id = aenv.open("blind_spot", "40.0-60.0", "critical", 1_700_000_000_000)
    acked = aenv.store.acknowledge(alert_id, "bob", None, 1_700_000_000_500)
    opened = aenv.store.get(alert_id)
    aenv.live.handle(topics.alert(site, alert_id), alert_to_json(acked))
    aenv.live.handle(topics.alert(site, alert_id), alert_to_json(opened))  # older version: ignored
    assert aenv.live.snapshot()["alerts"][alert_id]["state"] == AlertState.ACKNOWLEDGED.value
    aenv.live.handle(topics.alert(site, alert_id), b"")  # cleared retained message
    assert aenv.live.snapshot()["alerts"] == {}
    before = aenv.live.rejected
    aenv.live.handle(topics.alert(site, "x"), b"{not json")
    aenv.live.handle(topics.gateway_status(site, "gw-a"), b"sideways")
    assert aenv.live.rejected == before + 2
    aenv.live.handle(topics.gateway_status(site, "gw-a"), b'{"status": "offline"}')
    assert aenv.get("screen/state").json()["gateways"]["gw-a"]["status"] == "offline"


def test_cameras_and_perimeter(aenv: AlertEnv) -> None:
    r = aenv.get("cameras")
    assert [(c["id"], c["state"]) for c in r.json()] == [("c1", None), ("c2", None), ("c3", None)]
    assert aenv.get("perimeter/coverage").status_code == 404
    static_svg = aenv.get("perimeter/map.svg")
    assert static_svg.headers["content-type"].startswith("image/svg+xml") and RED not in static_svg.text

    for cam, state in (("c1", "ok"), ("c2", "occluded"), ("c3", "ok")):
        aenv.health(cam, state)
    cams = {c["id"]: c for c in aenv.get("cameras").json()}
    assert cams["c2"]["state"] == "occluded" and cams["c2"]["snapshot"] == "s/c2.jpg"
    report = Coverage(aenv.site).report({"c1", "c3"}, int(time.time() * 1000))
    aenv.live.handle(topics.coverage(aenv.site.site.id), coverage_to_json(report))

    cov = aenv.get("perimeter/coverage").json()
    assert cov["unhealthy"] == ["c2"] and cov["blind"][0]["start_m"] == pytest.approx(40.0, abs=1.0)
    svg = aenv.get("perimeter/map.svg", width=1000, height=600)
    assert RED in svg.text
    width = float(svg.text.split('width="', 1)[1].split('"', 1)[0])
    assert width == pytest.approx(1000, abs=2)
    assert aenv.get("perimeter/map.svg", width=5).status_code == 422
    plan = aenv.get("perimeter/plan").json()
    assert plan["perimeter_length_m"] == pytest.approx(100.0)
    assert {c["camera"]: c["failure_gap_m"] for c in plan["cameras"]}["c2"] == pytest.approx(20.0, abs=1.0)


def test_screen_login_page_and_assets(aenv: AlertEnv) -> None:
    c = aenv.client
    assert c.get("/screen/login", params={"key": "wrong-key-0123456789abcdefgh"}).status_code == 401
    r = c.get("/screen/login", params={"key": KEYS[Role.OPERATOR]}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/screen"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{KEY_COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    # the cookie (kept by the client) is a key like any other
    state = c.get("/api/v1/screen/state")
    assert state.status_code == 200 and state.json()["site_info"]["gateways"] == ["gw-a", "gw-b"]
    assert c.get("/api/v1/whoami").json() == {"name": "operator", "role": "operator"}
    c.cookies.clear()
    assert c.get("/api/v1/screen/state").status_code == 401

    page = c.get("/screen")
    assert page.status_code == 200 and "/screen/assets/screen.js" in page.text
    assert "cdn" not in page.text.lower() and "http" not in page.text  # everything served locally
    assert c.get("/screen/assets/screen.js").headers["content-type"].startswith("text/javascript")
    assert c.get("/screen/assets/__init__.py").status_code == 404
    assert c.get("/screen/assets/..%2Fapp.py").status_code == 404
    if any(p.is_file() for p in CJK_FONTS):
        font = c.get("/screen/fonts/cjk")
        assert font.status_code == 200 and font.content[:4] == b"\x00\x01\x00\x00"

    energy = c.get("/api/v1/screen/energy", headers={"X-API-Key": KEYS[Role.READER]})
    assert energy.status_code == 200 and energy.json()["today"] is None and energy.json()["unit"] == "kWh"


def test_without_alert_services_the_endpoints_say_so(
    test_site: SiteConfig, influx_db: InfluxTarget, keys: KeyStore
) -> None:
    influx = InfluxClient(InfluxSettings(url=influx_db.url, database=influx_db.database))
    settings = ApiSettings(site=test_site, influx=influx.settings, background_rollup=False)
    try:
        with TestClient(create_app(settings, keys, client=influx, routers=ALERT_ROUTERS)) as client:
            r = client.get("/api/v1/alerts", headers={"X-API-Key": KEYS[Role.READER]})
            assert r.status_code == 503 and "without the alert services" in r.json()["detail"]
    finally:
        influx.close()


def test_first_face_aligns_tables() -> None:
    def table(tag: bytes, data: bytes, offset: int) -> bytes:
        return tag + b"\0\0\0\1" + offset.to_bytes(4, "big") + len(data).to_bytes(4, "big")

    # a one-font collection whose two tables (3 and 2 bytes) sit unaligned
    font_at = 16
    body_at = font_at + 12 + 32
    head = b"\x00\x01\x00\x00" + (2).to_bytes(2, "big") + b"\0" * 6
    directory = table(b"abcd", b"xyz", body_at) + table(b"efgh", b"uv", body_at + 3)
    ttc = b"ttcf" + b"\0\1\0\0" + (1).to_bytes(4, "big") + font_at.to_bytes(4, "big") + head + directory + b"xyzuv"
    out = first_face(ttc)
    assert out[:12] == head
    first, second = out[12:28], out[28:44]
    assert int.from_bytes(first[8:12], "big") == 44 and int.from_bytes(second[8:12], "big") == 48
    assert out[44:] == b"xyz\0uv\0\0"
    with pytest.raises(ValueError):
        first_face(b"nope" + b"\0" * 20)


def test_coverage_is_stale_while_its_monitor_is_offline(aenv: AlertEnv) -> None:
    from alerts.coverage.liveness import MonitorStatus, status_to_json

    site = aenv.site.site.id
    report = Coverage(aenv.site).report({"c1", "c2", "c3"}, int(time.time() * 1000))
    aenv.live.handle(topics.coverage(site), coverage_to_json(report))
    cov = aenv.get("perimeter/coverage").json()
    assert cov["stale"] is True and cov["monitor"]["reason"] == "no status"  # never heard of the monitor
    now = int(time.time() * 1000)
    aenv.live.handle(topics.coverage_status(site), status_to_json(MonitorStatus("online", now, 10.0)))
    cov = aenv.get("perimeter/coverage").json()
    assert cov["stale"] is False and cov["blind"] == [] and cov["monitor"]["stale_after_s"] == 30.0
    will = status_to_json(MonitorStatus("offline", None, 10.0, "connection lost"))
    aenv.live.handle(topics.coverage_status(site), will)
    cov = aenv.get("perimeter/coverage").json()
    assert cov["stale"] is True and cov["monitor"]["reason"] == "offline"
    state = aenv.get("screen/state").json()
    assert state["coverage_monitor"]["status"] == "offline" and state["coverage"]["blind"] == []


@pytest.mark.integration
def test_live_state_hears_the_monitor_die(test_site: SiteConfig, broker: Broker, tmp_path: Path) -> None:
    """A real monitor process on a real broker, killed with SIGKILL: its will makes the live report stale."""
    from tests.alerts.coverage.helpers import monitor_process
    from tests.collectors.helpers import wait_for
    from tests.e2e.harness import write_site_file

    site_file = write_site_file(test_site, tmp_path / "site.yaml")
    proc = monitor_process(site_file, broker, tmp_path / "coverage.log", heartbeat_s=0.5)
    live = LiveState(test_site, LiveSettings(port=broker.port, password=broker.passwords["vigil-service"]))
    live.start()
    try:
        assert live.wait_connected(10)
        assert wait_for(lambda: live.coverage is not None and not live.coverage_monitor().stale, 15), proc.log_tail()
        proc.kill()
        t0 = time.monotonic()
        assert wait_for(lambda: live.coverage_monitor().reason == "offline", 5, every=0.02)
        assert time.monotonic() - t0 < 2.0
        snap = live.snapshot()
        assert snap["coverage_monitor"]["stale"] is True and snap["coverage"] is not None
    finally:
        live.stop()
        proc.kill()
