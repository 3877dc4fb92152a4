"""Lifecycle: one active alert per condition, flap suppression, acknowledgement, audit trail, restart."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.engine.lifecycle import Lifecycle
from alerts.engine.model import ENGINE, Alert, AlertState, Condition, Severity
from alerts.engine.store import AlertStore, InvalidTransition, UnknownAlert
from core.config import AlertRules, FlapRules, Hold
from tests.alerts.engine.helpers import FakeClock

SITE = "s1"


def rules(open_s: float = 0.0, clear_s: float = 0.0, **kinds: Hold) -> AlertRules:
    return AlertRules(flap=FlapRules(default=Hold(open_hold_s=open_s, clear_hold_s=clear_s), by_kind=kinds))


def cond(key: str = "gateway_offline:gw-a", severity: Severity = Severity.MAJOR, **evidence: object) -> Condition:
    return Condition(key, key.split(":")[0], severity, f"{key} is true", evidence)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AlertStore]:
    s = AlertStore(tmp_path / "alerts.db")
    yield s
    s.close()


def make(store: AlertStore, clock: FakeClock, r: AlertRules | None = None) -> tuple[Lifecycle, list[Alert]]:
    seen: list[Alert] = []
    return Lifecycle(store, SITE, r or rules(), clock=clock, on_change=seen.append), seen


def test_one_active_alert_per_condition(store: AlertStore, clock: FakeClock) -> None:
    life, seen = make(store, clock)
    first = life.raise_or_update(cond(silence_s=10))
    again = life.raise_or_update(cond(silence_s=10))
    assert first is not None and again is not None and again.id == first.id
    assert [a.state for a in seen] == [AlertState.OPEN]  # unchanged evidence: no update
    updated = life.raise_or_update(cond(silence_s=20))
    assert updated is not None and updated.id == first.id and updated.evidence == {"silence_s": 20}
    assert updated.version == 2
    assert len(store.active(SITE)) == 1
    assert [e.action for e in store.audit(first.id)] == ["open"]  # evidence alone is not a transition


def test_partial_unique_index_refuses_a_second_active_row(store: AlertStore, clock: FakeClock) -> None:
    life, _ = make(store, clock)
    alert = life.raise_or_update(cond())
    assert alert is not None
    db = sqlite3.connect(store.path)
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO alerts (id, site, key, kind, severity, title, evidence, state, opened_ms, updated_ms) "
            "VALUES ('x', ?, ?, 'gateway_offline', 'major', 't', '{}', 'open', 0, 0)",
            (SITE, alert.key),
        )
    db.close()


def test_severity_change_is_audited(store: AlertStore, clock: FakeClock) -> None:
    life, _ = make(store, clock)
    alert = life.raise_or_update(cond())
    assert alert is not None
    clock.advance(5)
    life.raise_or_update(cond(severity=Severity.CRITICAL))
    trail = store.audit(alert.id)
    assert [e.action for e in trail] == ["open", "update"]
    assert trail[1].detail == {"severity": ["major", "critical"]}
    assert store.get(alert.id).severity is Severity.CRITICAL


def test_open_hold_suppresses_short_blips(store: AlertStore, clock: FakeClock) -> None:
    life, seen = make(store, clock, rules(open_s=10))
    assert life.raise_or_update(cond()) is None
    clock.advance(5)
    life.clear("gateway_offline:gw-a")  # gone after 5 s: never opens
    clock.advance(20)
    life.tick()
    assert seen == [] and store.active(SITE) == []
    assert life.raise_or_update(cond()) is None
    clock.advance(9)
    life.tick()
    assert store.active(SITE) == []
    clock.advance(1)
    life.tick()  # held for 10 s: opens without another report
    (alert,) = store.active(SITE)
    assert alert.opened_ms == clock.ms


def test_since_counts_towards_the_open_hold(store: AlertStore, clock: FakeClock) -> None:
    life, _ = make(store, clock, rules(open_s=30))
    c = Condition(
        "camera_unhealthy:c1", "camera_unhealthy", Severity.MINOR, "c1 frozen", {}, since_ms=clock.ms - 31_000
    )
    assert life.raise_or_update(c) is not None


def test_clear_hold_suppresses_flapping(store: AlertStore, clock: FakeClock) -> None:
    life, seen = make(store, clock, rules(clear_s=60))
    alert = life.raise_or_update(cond())
    assert alert is not None
    for _ in range(5):  # flaps every 20 s: stays one open alert
        clock.advance(20)
        life.clear(alert.key)
        clock.advance(20)
        life.tick()
        life.raise_or_update(cond())
    assert store.get(alert.id).state is AlertState.OPEN
    life.clear(alert.key)
    clock.advance(59)
    life.tick()
    assert store.get(alert.id).state is AlertState.OPEN
    clock.advance(1)
    life.tick()
    resolved = store.get(alert.id)
    assert resolved.state is AlertState.RESOLVED and resolved.resolved_by == ENGINE
    assert [a.state for a in seen] == [AlertState.OPEN, AlertState.RESOLVED]
    # it comes back: a new alert, a new id
    again = life.raise_or_update(cond())
    assert again is not None and again.id != alert.id


def test_per_kind_hold(store: AlertStore, clock: FakeClock) -> None:
    life, _ = make(store, clock, rules(open_s=100, blind_spot=Hold(open_hold_s=0, clear_hold_s=0)))
    assert life.raise_or_update(cond("blind_spot:1.0-5.0")) is not None
    assert life.raise_or_update(cond()) is None


def test_acknowledge_then_auto_resolve_with_audit_trail(store: AlertStore, clock: FakeClock) -> None:
    life, _ = make(store, clock)
    alert = life.raise_or_update(cond())
    assert alert is not None
    clock.advance(60)
    acked = life.acknowledge(alert.id, "alice", "sent an electrician")
    assert (acked.state, acked.acked_by, acked.acked_ms, acked.note) == (
        AlertState.ACKNOWLEDGED,
        "alice",
        clock.ms,
        "sent an electrician",
    )
    with pytest.raises(InvalidTransition):
        life.acknowledge(alert.id, "bob")
    life.raise_or_update(cond(extra=1))  # still true: stays acknowledged, evidence refreshed
    assert store.get(alert.id).state is AlertState.ACKNOWLEDGED
    clock.advance(60)
    life.clear(alert.key)
    done = store.get(alert.id)
    assert (done.state, done.resolved_by, done.resolved_ms) == (AlertState.RESOLVED, ENGINE, clock.ms)
    trail = store.audit(alert.id)
    assert [(e.action, e.actor, e.from_state, e.to_state) for e in trail] == [
        ("open", ENGINE, None, AlertState.OPEN),
        ("acknowledge", "alice", AlertState.OPEN, AlertState.ACKNOWLEDGED),
        ("resolve", ENGINE, AlertState.ACKNOWLEDGED, AlertState.RESOLVED),
    ]
    assert trail[1].detail == {"note": "sent an electrician"}
    with pytest.raises(InvalidTransition):
        life.resolve(alert.id, "bob")
    with pytest.raises(UnknownAlert):
        life.acknowledge("nope", "bob")
    with pytest.raises(ValueError):
        life.resolve(store.active(SITE)[0].id if store.active(SITE) else alert.id, "")


def test_manual_resolve_latches_until_the_condition_clears(store: AlertStore, clock: FakeClock) -> None:
    life, _ = make(store, clock)
    alert = life.raise_or_update(cond())
    assert alert is not None
    done = life.resolve(alert.id, "alice", "known, a planned outage")
    assert (done.state, done.resolved_by, done.note) == (AlertState.RESOLVED, "alice", "known, a planned outage")
    clock.advance(10)
    assert life.raise_or_update(cond()) is None  # still true, but resolved by hand: no new alert
    assert store.active(SITE) == []
    life.reconcile("gateway_offline", [])  # clears: the latch goes
    again = life.raise_or_update(cond())
    assert again is not None and again.id != alert.id


def test_reconcile_clears_what_is_not_reported_but_not_unknown_keys(store: AlertStore, clock: FakeClock) -> None:
    life, _ = make(store, clock)
    life.reconcile("gateway_offline", [cond("gateway_offline:a"), cond("gateway_offline:b")])
    life.raise_or_update(cond("meter_stale:m1"))
    life.reconcile("gateway_offline", [cond("gateway_offline:a")], unknown=["gateway_offline:b"])
    assert sorted(a.key for a in store.active(SITE)) == ["gateway_offline:a", "gateway_offline:b", "meter_stale:m1"]
    life.reconcile("gateway_offline", [])
    assert [a.key for a in store.active(SITE)] == ["meter_stale:m1"]
    with pytest.raises(ValueError):
        life.reconcile("gateway_offline", [cond("meter_stale:m2")])


def test_restart_continues_without_duplicates_or_losses(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "alerts.db"
    store = AlertStore(path)
    life, _ = make(store, clock, rules(clear_s=30))
    a = life.raise_or_update(cond("gateway_offline:a"))
    b = life.raise_or_update(cond("gateway_offline:b"))
    assert a is not None and b is not None
    life.acknowledge(b.id, "alice", "on it")
    life.clear("gateway_offline:a")  # clearing, not yet resolved when the service dies
    store.close()

    store = AlertStore(path)  # restart: a new store and lifecycle on the same file
    life, seen = make(store, clock, rules(clear_s=30))
    assert {x.id for x in store.active(SITE)} == {a.id, b.id}
    clock.advance(5)
    life.reconcile("gateway_offline", [cond("gateway_offline:b")])  # re-evaluated after the restart
    assert {x.id for x in store.active(SITE)} == {a.id, b.id}
    assert store.get(b.id).state is AlertState.ACKNOWLEDGED
    clock.advance(30)
    life.tick()
    assert store.get(a.id).state is AlertState.RESOLVED
    assert [x.id for x in store.active(SITE)] == [b.id]
    assert [x.id for x in seen] == [a.id]
    assert len(store.query(site=SITE, limit=100)) == 2
    store.close()


def test_condition_key_must_name_its_kind() -> None:
    with pytest.raises(ValueError):
        Condition("x:1", "leak", Severity.MAJOR, "t")
