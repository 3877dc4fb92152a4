"""Alerts: list and filter (reader), one alert with its audit trail, acknowledge and resolve (operator).

The alert service's SQLite store is the source of truth; a transition made here is written through the
store, and the alert service publishes it on MQTT from the store's outbox (within about a second). The
live state is told at once too, so the alert screen does not wait for the round trip.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field

from alerts.engine.model import Alert, AlertState, AuditEntry, Severity, alert_to_dict
from alerts.engine.store import MAX_NOTE, InvalidTransition, UnknownAlert
from api.deps import AlertServices, Operator, Reader, alerting

router = APIRouter(prefix="/alerts", tags=["alerts"])
Alerting = Annotated[AlertServices, Depends(alerting)]
MAX_LIMIT = 1000


class AlertOut(BaseModel):
    """One alert as the MQTT message carries it."""

    id: str
    site: str
    key: str
    kind: str
    severity: Severity
    title: str
    state: AlertState
    evidence: dict[str, Any]
    opened_ms: int
    updated_ms: int
    acked_by: str | None
    acked_ms: int | None
    note: str | None
    resolved_ms: int | None
    resolved_by: str | None
    version: int

    @classmethod
    def of(cls, alert: Alert) -> AlertOut:
        return cls.model_validate(alert_to_dict(alert))


class AuditOut(BaseModel):
    """One entry of an alert's audit trail."""

    seq: int
    ts_ms: int
    action: str
    actor: str
    from_state: AlertState | None
    to_state: AlertState
    detail: dict[str, Any]

    @classmethod
    def of(cls, e: AuditEntry) -> AuditOut:
        return cls(
            seq=e.seq,
            ts_ms=e.ts_ms,
            action=e.action,
            actor=e.actor,
            from_state=e.from_state,
            to_state=e.to_state,
            detail=e.detail,
        )


class AlertDetailOut(AlertOut):
    """An alert with its audit trail."""

    audit: list[AuditOut]


class NoteIn(BaseModel):
    """An operator's note on a transition."""

    model_config = {"extra": "forbid"}
    note: str | None = Field(default=None, max_length=MAX_NOTE)


def sort_key(alert: Alert) -> tuple[int, int, int]:
    """Open before acknowledged before resolved, most severe first, newest first."""
    order = {AlertState.OPEN: 0, AlertState.ACKNOWLEDGED: 1, AlertState.RESOLVED: 2}
    return (order[alert.state], alert.severity.rank, -alert.opened_ms)


@router.get("", response_model=list[AlertOut])
def list_alerts(
    _: Reader,
    svc: Alerting,
    state: Annotated[list[AlertState] | None, Query(description="repeat for several; default every state")] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    severity: Annotated[list[Severity] | None, Query(description="repeat for several")] = None,
    since_ms: Annotated[int | None, Query(ge=0, description="opened at or after (UTC epoch ms)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 200,
) -> list[AlertOut]:
    """Alerts of this site, open first, then most severe, then newest."""
    site = svc.live.site_id
    # Severity is filtered here, so read enough rows that the limit still applies to the answer.
    rows = svc.store.query(site, tuple(state) if state else None, kind, since_ms, 1_000_000, newest_first=True)
    if severity:
        wanted = set(severity)
        rows = [a for a in rows if a.severity in wanted]
    rows.sort(key=sort_key)
    return [AlertOut.of(a) for a in rows[:limit]]


@router.get("/{alert_id}", response_model=AlertDetailOut)
def get_alert(alert_id: str, _: Reader, svc: Alerting) -> AlertDetailOut:
    """One alert and its audit trail (open, updates, acknowledge, resolve: who, when, note)."""
    alert = _get(svc, alert_id)
    return AlertDetailOut(**AlertOut.of(alert).model_dump(), audit=[AuditOut.of(e) for e in svc.store.audit(alert_id)])


@router.post("/{alert_id}/ack", response_model=AlertOut)
def acknowledge(alert_id: str, body: NoteIn, who: Operator, svc: Alerting) -> AlertOut:
    """Acknowledge an open alert as the key's name, with an optional note; 409 if it is not open."""
    _get(svc, alert_id)
    return _transition(svc, lambda: svc.store.acknowledge(alert_id, who.name, body.note, _now_ms()))


@router.post("/{alert_id}/resolve", response_model=AlertOut)
def resolve(alert_id: str, body: NoteIn, who: Operator, svc: Alerting) -> AlertOut:
    """Resolve an active alert by hand; it stays quiet until its condition clears; 409 if already resolved."""
    _get(svc, alert_id)
    return _transition(svc, lambda: svc.store.resolve(alert_id, who.name, _now_ms(), body.note))


def _get(svc: AlertServices, alert_id: str) -> Alert:
    try:
        alert = svc.store.get(alert_id)
    except UnknownAlert:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id!r}") from None
    if alert.site != svc.live.site_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id!r}")
    return alert


def _transition(svc: AlertServices, act: Any) -> AlertOut:
    try:
        alert: Alert = act()
    except UnknownAlert as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {exc}") from None
    except InvalidTransition as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from None
    svc.live.put_alert(alert)
    return AlertOut.of(alert)


def _now_ms() -> int:
    return int(time.time() * 1000)
