"""Alerts, the conditions rules report, and the alert JSON published on MQTT."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson


class Severity(StrEnum):
    """How urgently an operator should act."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for critical … 3 for info: lower is more urgent."""
        return _RANK[self]


_RANK = {Severity.CRITICAL: 0, Severity.MAJOR: 1, Severity.MINOR: 2, Severity.INFO: 3}


def most_severe(severities: Any) -> Severity:
    """Return the most urgent of some severities (at least one)."""
    return min((Severity(s) for s in severities), key=lambda s: s.rank)


class AlertState(StrEnum):
    """Where an alert is in its lifecycle: open → acknowledged → resolved (or open → resolved)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


ACTIVE_STATES = (AlertState.OPEN, AlertState.ACKNOWLEDGED)
#: Who the engine acts as in the audit trail and in `resolved_by` for automatic resolution.
ENGINE = "engine"


def normal_evidence(evidence: Mapping[str, Any]) -> dict[str, Any]:
    """Return evidence as it reads back from JSON (tuples become lists), so equal evidence compares equal."""
    loaded: dict[str, Any] = orjson.loads(orjson.dumps(dict(evidence), option=orjson.OPT_NON_STR_KEYS))
    return loaded


@dataclass(frozen=True, slots=True)
class Condition:
    """Something a rule finds true now; `key` names the condition so it maps to at most one active alert."""

    key: str  # "<kind>:<what>", e.g. "gateway_offline:gw-a", "blind_spot:12.0-48.5"
    kind: str
    severity: Severity
    title: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    since_ms: int | None = None  # when it became true, if the source knows (counts towards the open hold)

    def __post_init__(self) -> None:
        if not self.key.startswith(f"{self.kind}:") or len(self.key) > 200:
            raise ValueError(f"condition key {self.key!r} must start with its kind {self.kind!r} (max 200 chars)")


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: a condition's occurrence from opening to resolution."""

    id: str
    site: str
    key: str
    kind: str
    severity: Severity
    title: str
    evidence: dict[str, Any]
    state: AlertState
    opened_ms: int
    updated_ms: int
    acked_by: str | None = None
    acked_ms: int | None = None
    note: str | None = None
    resolved_ms: int | None = None
    resolved_by: str | None = None  # "engine" when the condition cleared, else the operator
    version: int = 1  # bumped on every change; the MQTT message carries it

    @property
    def active(self) -> bool:
        """True while open or acknowledged."""
        return self.state is not AlertState.RESOLVED


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One transition or change of an alert, as kept in the audit trail."""

    seq: int
    alert_id: str
    ts_ms: int
    action: str  # open | update | acknowledge | resolve
    actor: str
    from_state: AlertState | None
    to_state: AlertState
    detail: dict[str, Any]


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    """Return an alert as JSON-ready data (the MQTT and API format)."""
    return {
        "id": alert.id,
        "site": alert.site,
        "key": alert.key,
        "kind": alert.kind,
        "severity": alert.severity.value,
        "title": alert.title,
        "state": alert.state.value,
        "evidence": alert.evidence,
        "opened_ms": alert.opened_ms,
        "updated_ms": alert.updated_ms,
        "acked_by": alert.acked_by,
        "acked_ms": alert.acked_ms,
        "note": alert.note,
        "resolved_ms": alert.resolved_ms,
        "resolved_by": alert.resolved_by,
        "version": alert.version,
    }


def alert_to_json(alert: Alert) -> bytes:
    """Encode an alert as the JSON published retained on `vigil/{site}/alerts/{id}`."""
    return orjson.dumps(alert_to_dict(alert), option=orjson.OPT_NON_STR_KEYS)


def alert_from_json(payload: bytes | str) -> Alert:
    """Decode an alert message; raise ValueError if it is not one."""
    try:
        d = orjson.loads(payload)
        return Alert(
            id=str(d["id"]),
            site=str(d["site"]),
            key=str(d["key"]),
            kind=str(d["kind"]),
            severity=Severity(d["severity"]),
            title=str(d["title"]),
            evidence=dict(d["evidence"]),
            state=AlertState(d["state"]),
            opened_ms=int(d["opened_ms"]),
            updated_ms=int(d["updated_ms"]),
            acked_by=d.get("acked_by"),
            acked_ms=d.get("acked_ms"),
            note=d.get("note"),
            resolved_ms=d.get("resolved_ms"),
            resolved_by=d.get("resolved_by"),
            version=int(d.get("version", 1)),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an alert message: {exc}") from exc
