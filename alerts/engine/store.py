"""SQLite (WAL) persistence of alerts, their audit trail, and the MQTT outbox.

The store is the single source of truth: the engine keeps no copy of an alert in memory, so another
process (the API) may acknowledge or resolve alerts through its own `AlertStore` on the same file and the
engine's publisher picks the change up from the outbox columns (`version` > `published_version`).
At most one active (open or acknowledged) alert per (site, key) is enforced by a partial UNIQUE index.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from alerts.engine.model import ENGINE, Alert, AlertState, AuditEntry, Condition, Severity, normal_evidence
from core.sqlite import open_durable

MAX_WHO = 100
MAX_NOTE = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    evidence TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    opened_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    acked_by TEXT,
    acked_ms INTEGER,
    note TEXT,
    resolved_ms INTEGER,
    resolved_by TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    published_version INTEGER NOT NULL DEFAULT 0,
    cleared INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_one_active ON alerts (site, key) WHERE state != 'resolved';
CREATE INDEX IF NOT EXISTS alerts_by_state ON alerts (site, state, opened_ms);
CREATE INDEX IF NOT EXISTS alerts_outbox ON alerts (site, cleared) WHERE cleared = 0;
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL REFERENCES alerts (id),
    ts_ms INTEGER NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_alert ON audit (alert_id, seq);
CREATE TABLE IF NOT EXISTS latches (
    site TEXT NOT NULL,
    key TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    since_ms INTEGER NOT NULL,
    PRIMARY KEY (site, key)
);
"""

_COLUMNS = (
    "id, site, key, kind, severity, title, evidence, state, opened_ms, updated_ms, acked_by, acked_ms, note, "
    "resolved_ms, resolved_by, version"
)


class UnknownAlert(KeyError):
    """No alert has this id."""


class InvalidTransition(ValueError):
    """The alert's state does not allow this action (e.g. acknowledging a resolved alert)."""


class AlreadyActive(ValueError):
    """A condition already has an active alert (the partial unique index said no)."""


class AlertStore:
    """Alerts of one or more sites in one SQLite file; thread-safe, and safe to share between processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = open_durable(self.path)  # a transition acknowledged to a caller survives power loss
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- reading -------------------------------------------------------------------------------------

    def get(self, alert_id: str) -> Alert:
        """Return one alert; raise UnknownAlert."""
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        if row is None:
            raise UnknownAlert(alert_id)
        return _alert(row)

    def find_active(self, site: str, key: str) -> Alert | None:
        """Return the active alert of a condition, if any."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM alerts WHERE site = ? AND key = ? AND state != 'resolved'", (site, key)
            ).fetchone()
        return None if row is None else _alert(row)

    def active(self, site: str | None = None) -> list[Alert]:
        """Open and acknowledged alerts, oldest first."""
        return self.query(site=site, states=(AlertState.OPEN, AlertState.ACKNOWLEDGED), limit=1_000_000)

    def query(
        self,
        site: str | None = None,
        states: tuple[AlertState, ...] | None = None,
        kind: str | None = None,
        since_ms: int | None = None,
        limit: int = 200,
        newest_first: bool = False,
    ) -> list[Alert]:
        """Alerts matching every filter given (since_ms: opened at or after), up to `limit`."""
        if limit < 1:
            raise ValueError("limit must be >= 1")
        where: list[str] = ["1 = 1"]
        args: list[str | int] = []
        if site is not None:
            where.append("site = ?")
            args.append(site)
        if states is not None:
            where.append(f"state IN ({', '.join('?' * len(states))})")
            args.extend(AlertState(s).value for s in states)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if since_ms is not None:
            where.append("opened_ms >= ?")
            args.append(since_ms)
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT {_COLUMNS} FROM alerts WHERE {' AND '.join(where)} ORDER BY opened_ms {order}, id LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*args, limit)).fetchall()
        return [_alert(r) for r in rows]

    def audit(self, alert_id: str) -> list[AuditEntry]:
        """The audit trail of one alert, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, alert_id, ts_ms, action, actor, from_state, to_state, detail FROM audit "
                "WHERE alert_id = ? ORDER BY seq",
                (alert_id,),
            ).fetchall()
        return [
            AuditEntry(
                seq=r[0],
                alert_id=r[1],
                ts_ms=r[2],
                action=r[3],
                actor=r[4],
                from_state=None if r[5] is None else AlertState(r[5]),
                to_state=AlertState(r[6]),
                detail=orjson.loads(r[7]),
            )
            for r in rows
        ]

    def counts(self, site: str | None = None) -> dict[tuple[str, str, str], int]:
        """Active alerts counted by (kind, severity, state)."""
        sql = "SELECT kind, severity, state, COUNT(*) FROM alerts WHERE state != 'resolved'"
        args: tuple[str, ...] = ()
        if site is not None:
            sql += " AND site = ?"
            args = (site,)
        with self._lock:
            rows = self._db.execute(sql + " GROUP BY kind, severity, state", args).fetchall()
        return {(r[0], r[1], r[2]): r[3] for r in rows}

    # -- transitions -----------------------------------------------------------------------------------

    def open(self, site: str, condition: Condition, now_ms: int, actor: str = ENGINE) -> Alert:
        """Open an alert for a condition; raise AlreadyActive if it has one."""
        alert = Alert(
            id=uuid.uuid4().hex[:16],
            site=site,
            key=condition.key,
            kind=condition.kind,
            severity=Severity(condition.severity),
            title=condition.title,
            evidence=normal_evidence(condition.evidence),
            state=AlertState.OPEN,
            opened_ms=now_ms,
            updated_ms=now_ms,
        )
        try:
            with self._tx() as db:
                db.execute(
                    f"INSERT INTO alerts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, "
                    "NULL, 1)",
                    (
                        alert.id,
                        site,
                        alert.key,
                        alert.kind,
                        alert.severity.value,
                        alert.title,
                        _dumps(alert.evidence),
                        alert.state.value,
                        now_ms,
                        now_ms,
                    ),
                )
                detail = {"severity": alert.severity.value, "title": alert.title, "evidence": alert.evidence}
                _audit(db, alert.id, now_ms, "open", actor, None, AlertState.OPEN, detail)
        except sqlite3.IntegrityError as exc:
            raise AlreadyActive(f"{site}/{condition.key} already has an active alert") from exc
        return alert

    def update(self, alert_id: str, condition: Condition, now_ms: int) -> Alert:
        """Refresh an active alert's severity, title and evidence from its condition."""
        evidence = normal_evidence(condition.evidence)
        with self._tx() as db:
            old = self._get_active(db, alert_id, "update")
            changes: dict[str, Any] = {}
            if old.severity != condition.severity:
                changes["severity"] = [old.severity.value, Severity(condition.severity).value]
            if old.title != condition.title:
                changes["title"] = [old.title, condition.title]
            db.execute(
                "UPDATE alerts SET severity = ?, title = ?, evidence = ?, updated_ms = ?, version = version + 1 "
                "WHERE id = ?",
                (Severity(condition.severity).value, condition.title, _dumps(evidence), now_ms, alert_id),
            )
            if changes:  # evidence alone changes often (new numbers); the trail keeps what an operator sees change
                _audit(db, alert_id, now_ms, "update", ENGINE, old.state, old.state, changes)
        return self.get(alert_id)

    def acknowledge(self, alert_id: str, who: str, note: str | None, now_ms: int) -> Alert:
        """Acknowledge an open alert (who, when, note); raise UnknownAlert or InvalidTransition."""
        who, note = _who(who), _note(note)
        with self._tx() as db:
            old = self._get_active(db, alert_id, "acknowledge")
            if old.state is not AlertState.OPEN:
                raise InvalidTransition(f"alert {alert_id} is {old.state.value}, not open")
            db.execute(
                "UPDATE alerts SET state = 'acknowledged', acked_by = ?, acked_ms = ?, note = ?, updated_ms = ?, "
                "version = version + 1 WHERE id = ?",
                (who, now_ms, note, now_ms, alert_id),
            )
            _audit(db, alert_id, now_ms, "acknowledge", who, old.state, AlertState.ACKNOWLEDGED, {"note": note})
        return self.get(alert_id)

    def resolve(
        self, alert_id: str, who: str, now_ms: int, note: str | None = None, *, latch: bool | None = None
    ) -> Alert:
        """Resolve an active alert; by hand (who != engine) it latches its key until the condition clears."""
        who, note = _who(who), _note(note)
        latch = who != ENGINE if latch is None else latch
        with self._tx() as db:
            old = self._get_active(db, alert_id, "resolve")
            db.execute(
                "UPDATE alerts SET state = 'resolved', resolved_ms = ?, resolved_by = ?, updated_ms = ?, "
                "note = COALESCE(?, note), version = version + 1 WHERE id = ?",
                (now_ms, who, now_ms, note, alert_id),
            )
            if latch:
                db.execute(
                    "INSERT OR REPLACE INTO latches (site, key, alert_id, since_ms) VALUES (?, ?, ?, ?)",
                    (old.site, old.key, alert_id, now_ms),
                )
            _audit(db, alert_id, now_ms, "resolve", who, old.state, AlertState.RESOLVED, {"note": note})
        return self.get(alert_id)

    def _get_active(self, db: sqlite3.Connection, alert_id: str, action: str) -> Alert:
        row = db.execute(f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        if row is None:
            raise UnknownAlert(alert_id)
        alert = _alert(row)
        if not alert.active:
            raise InvalidTransition(f"cannot {action} alert {alert_id}: it is resolved")
        return alert

    # -- latches: a condition resolved by hand stays quiet until it clears -----------------------------

    def latched(self, site: str, key: str) -> bool:
        """True if the condition was resolved by hand and has not cleared since."""
        with self._lock:
            return (
                self._db.execute("SELECT 1 FROM latches WHERE site = ? AND key = ?", (site, key)).fetchone() is not None
            )

    def latched_keys(self, site: str) -> list[str]:
        """Keys of every latched condition of a site."""
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT key FROM latches WHERE site = ?", (site,))]

    def unlatch(self, site: str, key: str) -> None:
        """Forget a latch (its condition has cleared)."""
        with self._tx() as db:
            db.execute("DELETE FROM latches WHERE site = ? AND key = ?", (site, key))

    # -- outbox ----------------------------------------------------------------------------------------

    def unpublished(self, site: str) -> list[Alert]:
        """Alerts whose latest version has not been published yet."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM alerts WHERE site = ? AND cleared = 0 AND published_version < version "
                "ORDER BY updated_ms",
                (site,),
            ).fetchall()
        return [_alert(r) for r in rows]

    def retained(self, site: str) -> list[Alert]:
        """Alerts whose retained message is (or should be) on the broker."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM alerts WHERE site = ? AND cleared = 0 ORDER BY updated_ms", (site,)
            ).fetchall()
        return [_alert(r) for r in rows]

    def mark_published(self, alert_id: str, version: int) -> None:
        """Record that `version` of an alert reached the broker."""
        with self._tx() as db:
            db.execute(
                "UPDATE alerts SET published_version = MAX(published_version, ?) WHERE id = ?", (version, alert_id)
            )

    def due_for_clearing(self, site: str, resolved_before_ms: int) -> list[Alert]:
        """Resolved alerts, resolution published, resolved before the given time, retained message not cleared."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM alerts WHERE site = ? AND cleared = 0 AND state = 'resolved' "
                "AND published_version >= version AND resolved_ms <= ?",
                (site, resolved_before_ms),
            ).fetchall()
        return [_alert(r) for r in rows]

    def mark_cleared(self, alert_id: str) -> None:
        """Record that the alert's retained message was cleared from the broker."""
        with self._tx() as db:
            db.execute("UPDATE alerts SET cleared = 1 WHERE id = ?", (alert_id,))


def _dumps(data: Mapping[str, Any]) -> str:
    return orjson.dumps(dict(data), option=orjson.OPT_NON_STR_KEYS).decode()


def _audit(
    db: sqlite3.Connection,
    alert_id: str,
    ts_ms: int,
    action: str,
    actor: str,
    from_state: AlertState | None,
    to_state: AlertState,
    detail: Mapping[str, Any],
) -> None:
    db.execute(
        "INSERT INTO audit (alert_id, ts_ms, action, actor, from_state, to_state, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            alert_id,
            ts_ms,
            action,
            actor,
            None if from_state is None else from_state.value,
            to_state.value,
            _dumps(detail),
        ),
    )


def _alert(row: tuple[Any, ...]) -> Alert:
    return Alert(
        id=row[0],
        site=row[1],
        key=row[2],
        kind=row[3],
        severity=Severity(row[4]),
        title=row[5],
        evidence=orjson.loads(row[6]),
        state=AlertState(row[7]),
        opened_ms=row[8],
        updated_ms=row[9],
        acked_by=row[10],
        acked_ms=row[11],
        note=row[12],
        resolved_ms=row[13],
        resolved_by=row[14],
        version=row[15],
    )


def _who(who: str) -> str:
    who = who.strip()
    if not who or len(who) > MAX_WHO:
        raise ValueError(f"who must be 1..{MAX_WHO} characters")
    return who


def _note(note: str | None) -> str | None:
    if note is not None and len(note) > MAX_NOTE:
        raise ValueError(f"note must be at most {MAX_NOTE} characters")
    return note or None
