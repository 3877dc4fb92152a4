"""Pure rule tests: perimeter (blind spots, camera health), gateways and meters, status flags, publisher."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from alerts.engine.lifecycle import Lifecycle
from alerts.engine.model import AlertState, Severity, alert_from_json
from alerts.engine.publisher import AlertPublisher
from alerts.engine.rules.gateways import GatewayRules, parse_status
from alerts.engine.rules.perimeter import PerimeterRules, overlap_m
from alerts.engine.rules.quality import meter_status_rule
from alerts.engine.sources import LatestPoint, parse_flags
from alerts.engine.store import AlertStore
from core import topics
from core.types import CoverageReport, Stretch
from tests.alerts.engine.helpers import FakeClock, perimeter_site

SITE = perimeter_site("pu1", alerts={"camera_unhealthy_hold_s": 0})
S = SITE.site.id


def stretch(a: float, b: float, cams: tuple[str, ...] = ("c2",), zones: tuple[str, ...] = ("gate",)) -> Stretch:
    return Stretch(a, b, (a, 0.0), (b, 0.0), zones, cams)


def report(*blind: Stretch) -> CoverageReport:
    return CoverageReport(1000, 100.0, ("c1", "c3"), ("c2",), tuple(blind), ())


def health(camera: str, state: str, **extra: object) -> tuple[str, bytes]:
    return topics.camera_health(S, camera), orjson.dumps({"camera": camera, "state": state, **extra})


# -- perimeter --------------------------------------------------------------------------------------------


def test_blind_spot_condition_names_cameras_zone_and_severity() -> None:
    rules = PerimeterRules(SITE)
    rules.on_health(*health("c2", "video_loss", since_ms=5, snapshot="snap/c2/5.jpg"))
    out = rules.blind_spots(report(stretch(40.0, 60.0)), {})
    (c,) = out.conditions
    assert out.scope == "blind_spot"
    assert c.key == "blind_spot:40.0-60.0"
    assert c.severity is Severity.CRITICAL  # the gate is priority 1
    assert c.evidence["cameras"] == ["c2"] and c.evidence["zones"] == ["gate"]
    assert (c.evidence["start_m"], c.evidence["end_m"], c.evidence["length_m"]) == (40.0, 60.0, 20.0)
    assert c.evidence["camera_states"] == {"c2": "video_loss"}
    assert c.evidence["snapshots"] == {"c2": "snap/c2/5.jpg"}
    assert "Main gate" in c.title and "c2" in c.title


def test_blind_spot_severity_by_priority_and_length() -> None:
    rules = PerimeterRules(SITE)
    east_short = rules.blind_spots(report(stretch(70, 75, zones=("east",))), {}).conditions[0]
    assert east_short.severity is Severity.MINOR  # priority 4: the default
    west = rules.blind_spots(report(stretch(10, 15, zones=("west",))), {}).conditions[0]
    assert west.severity is Severity.MAJOR  # priority 3
    assert rules.blind_spots(report(stretch(10, 11.5, zones=("west",))), {}).conditions == ()  # under 2 m


def test_blind_spot_key_is_kept_while_the_stretch_overlaps() -> None:
    rules = PerimeterRules(SITE)
    tracked = {"blind_spot:40.0-60.0": {"start_m": 40.0, "end_m": 60.0}}
    (c,) = rules.blind_spots(report(stretch(38.5, 61.0)), tracked).conditions
    assert c.key == "blind_spot:40.0-60.0" and c.evidence["start_m"] == 38.5
    # split in two: the bigger overlap keeps the key, the other is new
    a, b = rules.blind_spots(report(stretch(40, 45), stretch(47, 60)), tracked).conditions
    assert (a.key, b.key) == ("blind_spot:40.0-45.0", "blind_spot:40.0-60.0")
    # elsewhere: a new key
    (d,) = rules.blind_spots(report(stretch(80, 90, zones=("east",))), tracked).conditions
    assert d.key == "blind_spot:80.0-90.0"


def test_overlap_on_a_ring() -> None:
    assert overlap_m((90.0, 110.0), (0.0, 5.0), 100.0) == 5.0  # runs past the start point
    assert overlap_m((10.0, 20.0), (15.0, 30.0), 100.0) == 5.0
    assert overlap_m((10.0, 20.0), (20.0, 30.0), 100.0) == 0.0


def test_camera_health_conditions() -> None:
    rules = PerimeterRules(SITE)
    unhealthy, lost = rules.on_health(*health("c1", "frozen", since_ms=7, features={"motion": 0.0}))
    assert [c.key for c in unhealthy.conditions] == ["camera_unhealthy:c1"] and lost.conditions == ()
    assert unhealthy.conditions[0].since_ms == 7
    assert unhealthy.conditions[0].evidence["features"] == {"motion": 0.0}
    unhealthy, lost = rules.on_health(*health("c1", "video_loss", since_ms=9))
    assert unhealthy.conditions == () and [c.key for c in lost.conditions] == ["camera_stream_lost:c1"]
    unhealthy, lost = rules.on_health(*health("c1", "ok", since_ms=10))
    assert unhealthy.conditions == () == lost.conditions
    assert rules.on_health(topics.camera_health(S, "c1"), b"")[0].conditions == ()


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        (topics.camera_health(S, "c9"), b'{"state": "ok"}'),  # not in the site file
        (topics.camera_health(S, "c1"), b'{"state": "melted"}'),
        (topics.camera_health(S, "c1"), b"not json"),
        (topics.camera_health(S, "c1"), b'{"camera": "c2", "state": "ok"}'),
        (topics.camera_health("other", "c1"), b'{"state": "ok"}'),
    ],
)
def test_bad_health_is_refused(topic: str, payload: bytes) -> None:
    with pytest.raises(ValueError):
        PerimeterRules(SITE).on_health(topic, payload)


# -- gateways and meters ------------------------------------------------------------------------------------


def test_parse_status() -> None:
    t = topics.gateway_status(S, "gw-a")
    assert parse_status(S, t, b"offline") == ("gw-a", "offline")
    assert parse_status(S, t, b' {"status": "Online"} ') == ("gw-a", "online")
    assert parse_status(S, t, b"") == ("gw-a", None)
    for bad in (b"maybe", b"{", b"[1]"):
        with pytest.raises(ValueError):
            parse_status(S, t, bad)
    with pytest.raises(ValueError):
        parse_status(S, topics.gateway_readings(S, "gw-a"), b"online")


def latest(ts: int, meters: list[str] | None = None) -> dict[str, LatestPoint]:
    return {m.id: LatestPoint(m.id, ts, 1.0) for m in SITE.meters if meters is None or m.id in meters}


def test_gateway_offline_by_status_and_by_silence() -> None:
    now = 10_000_000
    g = GatewayRules(SITE, started_ms=now - 1000)
    offline, stale = g.evaluate(now)
    assert offline.conditions == () and set(offline.unknown) == {"gateway_offline:gw-a", "gateway_offline:gw-b"}
    assert len(stale.unknown) == len(SITE.meters)  # not looked at the data yet
    g.on_status(topics.gateway_status(S, "gw-a"), b"offline", now)
    offline, _ = g.evaluate(now)
    assert [c.key for c in offline.conditions] == ["gateway_offline:gw-a"]
    assert offline.conditions[0].evidence["reasons"] == ["status offline"]
    g.on_status(topics.gateway_status(S, "gw-a"), b"online", now)
    gw_b_meters = [m for g_ in SITE.gateways if g_.id == "gw-b" for m in g_.meters]
    # gw-b's data is an hour old at the first look: it may be arriving late (a back-fill): not judged yet
    g.on_latest(latest(now - 60_000) | latest(now - 3_600_000, gw_b_meters), now)
    offline, stale = g.evaluate(now)
    assert offline.conditions == () and offline.unknown == ("gateway_offline:gw-b",)
    # half an hour later nothing more has arrived from gw-b: silent
    now += 1_800_000
    g.on_latest(latest(now - 60_000) | latest(now - 5_400_000, gw_b_meters), now)
    offline, stale = g.evaluate(now)
    assert [c.key for c in offline.conditions] == ["gateway_offline:gw-b"]
    assert offline.conditions[0].evidence["last_data_ms"] == now - 5_400_000
    assert offline.conditions[0].evidence["last_arrival_ms"] == now - 5_400_000
    assert offline.unknown == ()
    # gw-b's meters are left to the gateway alert; gw-a's are fresh
    assert stale.conditions == () and set(stale.unknown) == {f"meter_stale:{m}" for m in gw_b_meters}


def test_meter_stale_after_n_intervals() -> None:
    now = 10_000_000
    g = GatewayRules(SITE, started_ms=now - 10_000_000)
    points = latest(now - 60_000)
    points["B1-W-MAIN"] = LatestPoint("B1-W-MAIN", now - 4 * 900_000 - 1, 1.0)  # 4 intervals and a bit
    g.on_latest(points, now - 4 * 900_000)  # watched as long as the limit
    g.on_latest(points, now)
    _, stale = g.evaluate(now)
    assert [c.key for c in stale.conditions] == ["meter_stale:B1-W-MAIN"]
    del points["B1-W-MAIN"]  # no data at all, service up long enough
    g.on_latest(points, now)
    assert [c.key for c in g.evaluate(now)[1].conditions] == ["meter_stale:B1-W-MAIN"]


def test_a_gateway_delivering_old_data_is_not_silent() -> None:
    """A replay or back-fill: old timestamps that keep advancing arrive now; a lagging clock is no silence."""
    now = 10_000_000_000
    g = GatewayRules(SITE, started_ms=now)
    behind = 6 * 3_600_000  # the data is six hours behind the wall clock all along
    for step in range(40):  # 40 looks a minute apart; the data moves 5 simulated minutes each (300×)
        t = now + step * 60_000
        g.on_latest(latest(t - behind + step * 300_000), t)
        offline, stale = g.evaluate(t)
        assert offline.conditions == () and stale.conditions == ()
    # then it stops: silent once nothing has arrived for gateway_silence_s
    for step in range(40, 72):
        t = now + step * 60_000
        g.on_latest(latest(now - behind + 39 * 300_000), t)
    offline, _ = g.evaluate(now + 71 * 60_000)
    assert sorted(c.key for c in offline.conditions) == ["gateway_offline:gw-a", "gateway_offline:gw-b"]
    assert offline.conditions[0].evidence["last_arrival_ms"] == now + 39 * 60_000
    assert offline.conditions[0].since_ms == now + 39 * 60_000 + 1_800_000


def test_unknown_gateway_status_is_refused() -> None:
    with pytest.raises(ValueError):
        GatewayRules(SITE, 0).on_status(topics.gateway_status(S, "gw-z"), b"offline", 0)


def test_status_flags() -> None:
    assert parse_flags("valve_closed, battery_low,,battery_low") == ("battery_low", "valve_closed")
    assert parse_flags(None) == () and parse_flags("") == ()
    points = {
        "B1-W-MAIN": LatestPoint("B1-W-MAIN", 1, 1.0, ("battery_low", "valve_closed")),
        "B2-W-MAIN": LatestPoint("B2-W-MAIN", 1, 1.0, ("something_else",)),
        "B1-E-LGT": LatestPoint("B1-E-LGT", 1, 1.0),
    }
    out = meter_status_rule(SITE, points)
    (c,) = out.conditions
    assert c.key == "meter_status:B1-W-MAIN" and c.severity is Severity.MAJOR
    assert c.evidence["flags"] == ["battery_low", "valve_closed"]
    assert "meter_status:B1-E-MAIN" in out.unknown and "meter_status:B2-W-MAIN" not in out.unknown
    assert set(meter_status_rule(SITE, None).unknown) == {f"meter_status:{m.id}" for m in SITE.meters}


# -- publisher ----------------------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AlertStore]:
    s = AlertStore(tmp_path / "a.db")
    yield s
    s.close()


def test_publisher_outbox_retains_then_clears(store: AlertStore) -> None:
    clock = FakeClock()
    sent: list[tuple[str, bytes]] = []
    up = {"ok": True}

    def send(topic: str, payload: bytes) -> bool:
        if up["ok"]:
            sent.append((topic, payload))
        return up["ok"]

    life = Lifecycle(store, S, SITE.alerts, clock=clock)
    pub = AlertPublisher(store, S, send, resolved_retain_s=60, clock=clock)
    rules = GatewayRules(SITE, 0)
    rules.on_status(topics.gateway_status(S, "gw-a"), b"offline", clock())
    out = rules.evaluate(clock())[0]
    life.reconcile(out.scope, out.conditions, out.unknown)
    assert not store.active(S)  # held 30 s by default: a broker restart's Last Wills must not open alerts
    clock.advance(30)
    out = rules.evaluate(clock())[0]
    life.reconcile(out.scope, out.conditions, out.unknown)
    (alert,) = store.active(S)
    assert pub.flush() and pub.flush()  # the second flush has nothing to send
    assert [t for t, _ in sent] == [topics.alert(S, alert.id)]
    assert alert_from_json(sent[0][1]) == alert
    up["ok"] = False
    life.acknowledge(alert.id, "alice", "on it")
    assert not pub.flush()  # broker away: kept in the outbox
    up["ok"] = True
    assert pub.flush()
    assert alert_from_json(sent[-1][1]).state is AlertState.ACKNOWLEDGED
    life.resolve(alert.id, "alice")
    pub.flush()
    assert alert_from_json(sent[-1][1]).state is AlertState.RESOLVED
    clock.advance(59)
    pub.flush()
    assert sent[-1][1] != b""
    clock.advance(1)
    pub.flush()
    assert sent[-1] == (topics.alert(S, alert.id), b"")  # retained message cleared
    n = len(sent)
    pub.resend_all()
    pub.flush()
    assert len(sent) == n  # a cleared alert is not sent again


# -- configuration ------------------------------------------------------------------------------------------


def test_alert_rules_are_validated_with_their_path() -> None:
    from core.config import parse_site
    from tests.conftest import build_test_site

    base = build_test_site("cfg").model_dump(mode="json")
    for bad, where in [
        ({"blind_spot_min_n": 3}, "blind_spot_min_n"),
        ({"leak": {"factor": 0.5}}, "leak.factor"),
        ({"flap": {"by_kind": {"blindspot": {"open_hold_s": 1}}}}, "flap.by_kind"),
        ({"calendar": {"country": "XX"}}, "calendar.country"),
        ({"leak": {"night_start": "05:00", "night_end": "02:00"}}, "night_end"),
        ({"data_quality": {"severity": {"gap": "loud"}}}, "data_quality.severity"),
        ({"base_load": {"exempt_uses": ["mine"]}}, "base_load.exempt_uses"),
    ]:
        with pytest.raises(ValueError, match=where.replace(".", r"\.")):
            parse_site({**base, "alerts": bad})
    ok = parse_site({**base, "alerts": {"daily": {"mad_k": 5}, "data_quality": {"severity": {"gap": "off"}}}})
    assert ok.alerts.daily.mad_k == 5
    assert ok.alerts.data_quality.severity["gap"] == "off"
    assert ok.alerts.data_quality.severity["replacement"] == "minor"  # the kinds not named keep their default


# -- common-mode (peer) correction ------------------------------------------------------------------------


def test_peers_are_the_same_sub_item_in_the_same_use_first() -> None:
    from alerts.engine.rules.peers import Change, peer_factor
    from tests.alerts.engine.helpers import campus_site

    site = campus_site("peer")
    m = site.meter_by_id
    changes = {
        "O3-E-HVAC": Change(300.0, 100.0, 9.0),
        "O4-E-HVAC": Change(250.0, 100.0, 8.0),  # office HVAC, moved up
        "C1-E-HVAC": Change(110.0, 100.0, 1.0),  # canteen HVAC, did not move
        "O3-E-LGT": Change(500.0, 100.0, 20.0),  # another sub-item: never a peer of HVAC
    }
    office = peer_factor(
        site, m["O3-E-HVAC"], changes, direction=1.0, mad_k=3.5, min_relative=0.5, min_peers=1, min_usual=5.0
    )
    assert office.group == "electricity/01B/office" and office.peers == {"O4-E-HVAC": 2.5}
    assert office.factor == 2.5 and office.moved == ("O4-E-HVAC",)
    # no canteen peer with a usual day: the same sub-item in any use, where most did move
    canteen = peer_factor(
        site, m["C1-E-HVAC"], changes, direction=1.0, mad_k=3.5, min_relative=0.5, min_peers=1, min_usual=5.0
    )
    assert canteen.group == "electricity/01B" and canteen.factor == pytest.approx(2.75)
    # peers that moved the other way, or not beyond mad_k, do not explain a deviation
    assert (
        peer_factor(
            site, m["O3-E-HVAC"], changes, direction=-1.0, mad_k=3.5, min_relative=0.5, min_peers=1, min_usual=5.0
        ).factor
        is None
    )
    assert (
        peer_factor(
            site, m["O3-E-HVAC"], changes, direction=1.0, mad_k=10, min_relative=2.0, min_peers=1, min_usual=5.0
        ).factor
        is None
    )
    # too few peers, or peers too small to say anything
    assert (
        peer_factor(
            site, m["O3-E-HVAC"], changes, direction=1.0, mad_k=3.5, min_relative=0.5, min_peers=3, min_usual=5.0
        ).factor
        is None
    )
    small = peer_factor(
        site, m["O3-E-HVAC"], changes, direction=1.0, mad_k=3.5, min_relative=0.5, min_peers=1, min_usual=200.0
    )
    assert small.factor is None and small.peers == {}
    assert office.evidence()["peers"] == {"O4-E-HVAC": 2.5}


def test_a_peer_that_did_not_move_explains_nothing() -> None:
    from alerts.engine.rules.peers import Change, peer_factor
    from tests.alerts.engine.helpers import campus_site

    site = campus_site("peer2")
    changes = {
        "O1-E-MAIN": Change(100.0, 100.0, 0.0),
        "O2-E-MAIN": Change(200.0, 100.0, 12.0),
        "C1-E-KIT": Change(100.0, 100.0, 0.0),
    }
    main = peer_factor(
        site,
        site.meter_by_id["O1-E-MAIN"],
        changes,
        direction=1.0,
        mad_k=3.5,
        min_relative=0.5,
        min_peers=1,
        min_usual=1,
    )
    assert main.factor == 2.0  # its one peer moved
    both = {**changes, "O1-E-MAIN": Change(100.0, 100.0, 0.0)}
    # O2's peers: O1 only (same use), which did not move
    o2 = peer_factor(
        site, site.meter_by_id["O2-E-MAIN"], both, direction=1.0, mad_k=3.5, min_relative=0.5, min_peers=1, min_usual=1
    )
    assert o2.factor is None and o2.moved == ()


# -- coverage monitor liveness ----------------------------------------------------------------------------


def test_coverage_monitor_down_is_raised_and_cleared(tmp_path: Path) -> None:
    from alerts.coverage.liveness import MonitorStatus, status_to_json
    from alerts.engine.service import AlertService

    site = perimeter_site("live1", alerts={"flap": {"default": {"clear_hold_s": 0}, "by_kind": {}}})
    clock = FakeClock(1_700_000_000_000)
    store = AlertStore(tmp_path / "a.db")
    service = AlertService(site, store, clock=clock)
    status = topics.coverage_status(site.site.id)

    def beat() -> bytes:
        return status_to_json(MonitorStatus("online", clock.ms, 2.0, None, None))

    def down() -> list[tuple[str, str]]:
        return [(a.key, a.severity.value) for a in store.active(site.site.id)]

    service.watch_coverage_monitor()
    service.check_coverage_monitor()
    clock.advance(59)
    service.check_coverage_monitor()
    assert down() == []  # the retained status may still be on its way
    clock.advance(2)
    service.check_coverage_monitor()
    assert down() == [("coverage_monitor_down:live1", "critical")]
    assert "no status" in store.active("live1")[0].evidence["reason"]

    service.handle(status, beat())
    service.lifecycle.tick()
    assert down() == []
    clock.advance(5)
    service.handle(status, beat())
    clock.advance(6.001)  # three beats of 2 s missed: a hung monitor
    service.check_coverage_monitor()
    (alert,) = store.active("live1")
    assert alert.evidence["reason"] == "silent" and alert.evidence["last_beat_ms"] == clock.ms - 6001
    assert "no heartbeat since" in alert.title

    service.handle(status, beat())
    service.lifecycle.tick()
    assert down() == []
    service.handle(status, status_to_json(MonitorStatus("offline", None, 2.0, "connection lost")))
    (alert,) = store.active("live1")
    assert alert.evidence["reason"] == "offline" and alert.evidence["offline_since_ms"] == clock.ms
    assert alert.title.startswith("Coverage monitor down (offline since")
    service.handle(status, b"{nonsense")  # refused, counted: changes nothing
    assert service.metrics.rejected.labels("coverage_status")._value.get() == 1
    assert len(store.active("live1")) == 1
    store.close()


def test_a_retained_offline_found_on_subscribing_waits_for_the_monitor(tmp_path: Path) -> None:
    """The previous run's clean stop (or a broker restart's will) is retained: no alert while the monitor
    comes back within the grace; one if it does not."""
    from alerts.coverage.liveness import MonitorStatus, status_to_json
    from alerts.engine.service import AlertService

    site = perimeter_site("live3", alerts={"flap": {"default": {"clear_hold_s": 0}, "by_kind": {}}})
    clock = FakeClock(1_700_000_000_000)
    store = AlertStore(tmp_path / "a.db")
    service = AlertService(site, store, clock=clock)
    status = topics.coverage_status(site.site.id)
    old = status_to_json(MonitorStatus("offline", None, 2.0, "stopped"))
    service.watch_coverage_monitor()
    service.handle(status, old, retained=True)
    service.check_coverage_monitor()
    assert store.active("live3") == []
    clock.advance(5)
    service.handle(status, status_to_json(MonitorStatus("online", clock.ms, 2.0, None, None)))
    service.check_coverage_monitor()
    assert store.active("live3") == []

    service.watch_coverage_monitor()  # a reconnection finds it offline again, and it stays away
    service.handle(status, old, retained=True)
    clock.advance(59)
    service.check_coverage_monitor()
    assert store.active("live3") == []
    clock.advance(2)
    service.check_coverage_monitor()
    assert [a.evidence["reason"] for a in store.active("live3")] == ["offline"]
    store.close()


def test_no_monitor_is_expected_without_cameras(tmp_path: Path) -> None:
    from alerts.engine.service import AlertService
    from tests.conftest import build_test_site

    site = build_test_site("live2")  # no perimeter, no cameras
    clock = FakeClock()
    store = AlertStore(tmp_path / "a.db")
    service = AlertService(site, store, clock=clock)
    service.watch_coverage_monitor()
    clock.advance(3600)
    service.check_coverage_monitor()
    assert store.active("live2") == []
    store.close()
