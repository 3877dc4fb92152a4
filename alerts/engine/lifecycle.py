"""Conditions in, alerts out: one active alert per condition key, with flap suppression.

Rules report what is true *now*, either one condition at a time (`raise_or_update`, `clear`) or, better,
the complete truth of a scope (`reconcile`): every key of the scope not reported is clear. Keys whose
truth a rule cannot tell right now (its data is missing) are passed as `unknown` and left as they are,
so a data outage never resolves, and never opens, an alert.

Flap suppression: a condition must hold `open_hold_s` (counted from its `since_ms` when the source knows
it) before its alert opens, and stay clear `clear_hold_s` before the alert auto-resolves; `tick()` applies
the holds as time passes. An alert resolved by hand latches its key: the condition opens no new alert
until it has been seen clear once.

What is kept in memory is only which conditions are pending and which alerts are clearing; after a
restart both timers start again, from the alerts persisted in the store, so nothing is lost or doubled.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from alerts.engine.model import ENGINE, Alert, Condition, normal_evidence
from alerts.engine.store import AlertStore, AlreadyActive
from core.config import AlertRules, Hold

logger = logging.getLogger(__name__)

Clock = Callable[[], int]
ChangeHook = Callable[[Alert], None]

#: Kinds whose open hold is the rules' `camera_unhealthy_hold_s` unless flap.by_kind names them.
_CAMERA_KINDS = ("camera_unhealthy", "camera_stream_lost")


def wall_ms() -> int:
    """Now, UTC epoch milliseconds."""
    return int(time.time() * 1000)


def in_scope(key: str, scope: str) -> bool:
    """True if `key` belongs to `scope` ("kind" or "kind:part...")."""
    return key == scope or key.startswith(scope + ":")


@dataclass(frozen=True, slots=True)
class _Pending:
    first_ms: int
    condition: Condition


class Lifecycle:
    """Turn the conditions rules report into persisted alert transitions for one site."""

    def __init__(
        self,
        store: AlertStore,
        site: str,
        rules: AlertRules | None = None,
        *,
        clock: Clock = wall_ms,
        on_change: ChangeHook | None = None,
    ) -> None:
        self.store = store
        self.site = site
        self.rules = rules or AlertRules()
        self.clock = clock
        self._hooks: list[ChangeHook] = [on_change] if on_change else []
        self._lock = threading.RLock()
        self._pending: dict[str, _Pending] = {}
        self._clearing: dict[str, int] = {}

    def add_hook(self, hook: ChangeHook) -> None:
        """Also call `hook` with every alert after it changed."""
        self._hooks.append(hook)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the lifecycle's lock (to read tracked state and reconcile on it atomically)."""
        with self._lock:
            yield

    def hold(self, kind: str) -> Hold:
        """Hold times of a kind of alert."""
        flap = self.rules.flap
        if kind in flap.by_kind:
            return flap.by_kind[kind]
        if kind in _CAMERA_KINDS:
            return Hold(open_hold_s=self.rules.camera_unhealthy_hold_s, clear_hold_s=flap.default.clear_hold_s)
        return flap.default

    # -- what rules call -------------------------------------------------------------------------------

    def raise_or_update(self, condition: Condition) -> Alert | None:
        """Report a condition true now; return its active alert (None while held back or latched)."""
        with self._lock:
            now = self.clock()
            if self.store.latched(self.site, condition.key):
                self._pending.pop(condition.key, None)
                return None
            active = self.store.find_active(self.site, condition.key)
            if active is not None:
                self._clearing.pop(condition.key, None)
                if _differs(active, condition):
                    active = self.store.update(active.id, condition, now)
                    self._changed(active)
                return active
            pending = self._pending.get(condition.key)
            if pending is None:
                since = condition.since_ms if condition.since_ms is not None else now
                pending = _Pending(min(since, now), condition)
            else:
                pending = _Pending(pending.first_ms, condition)
            self._pending[condition.key] = pending
            return self._maybe_open(pending, now)

    def clear(self, key: str) -> None:
        """Report a condition clear now; its alert resolves once clear for the hold time."""
        with self._lock:
            now = self.clock()
            self._pending.pop(key, None)
            if self.store.latched(self.site, key):
                self.store.unlatch(self.site, key)
            active = self.store.find_active(self.site, key)
            if active is None:
                self._clearing.pop(key, None)
                return
            since = self._clearing.setdefault(key, now)
            if now - since >= self.hold(active.kind).clear_hold_s * 1000:
                self._auto_resolve(active, now)

    def reconcile(self, scope: str, conditions: Iterable[Condition], unknown: Iterable[str] = ()) -> None:
        """Report the whole truth of a scope: these conditions are true, every other key in it is clear."""
        with self._lock:
            seen: set[str] = set()
            for condition in conditions:
                if not in_scope(condition.key, scope):
                    raise ValueError(f"condition {condition.key!r} is outside scope {scope!r}")
                if condition.key in seen:
                    raise ValueError(f"condition {condition.key!r} reported twice")
                seen.add(condition.key)
                self.raise_or_update(condition)
            skip = seen | set(unknown)
            for key in self.tracked_keys(scope):
                if key not in skip:
                    self.clear(key)

    def tick(self) -> None:
        """Apply the hold times as time passes: open held conditions, resolve alerts clear long enough."""
        with self._lock:
            now = self.clock()
            for pending in list(self._pending.values()):
                self._maybe_open(pending, now)
            for key, since in list(self._clearing.items()):
                active = self.store.find_active(self.site, key)
                if active is None:
                    del self._clearing[key]
                elif now - since >= self.hold(active.kind).clear_hold_s * 1000:
                    self._auto_resolve(active, now)

    # -- what operators call ---------------------------------------------------------------------------

    def acknowledge(self, alert_id: str, who: str, note: str | None = None) -> Alert:
        """Acknowledge an open alert."""
        with self._lock:
            alert = self.store.acknowledge(alert_id, who, note, self.clock())
            self._changed(alert)
            return alert

    def resolve(self, alert_id: str, who: str, note: str | None = None) -> Alert:
        """Resolve an alert by hand; its condition raises no new alert until it has cleared."""
        with self._lock:
            alert = self.store.resolve(alert_id, who, self.clock(), note)
            self._clearing.pop(alert.key, None)
            self._pending.pop(alert.key, None)
            self._changed(alert)
            return alert

    # -- state -----------------------------------------------------------------------------------------

    def tracked_keys(self, scope: str) -> set[str]:
        """Keys in a scope with an active alert, a pending condition or a latch."""
        with self._lock:
            keys = {a.key for a in self.store.active(self.site)}
            keys |= set(self._pending) | set(self.store.latched_keys(self.site))
            return {k for k in keys if in_scope(k, scope)}

    def tracked_evidence(self, scope: str) -> dict[str, Mapping[str, Any]]:
        """Evidence of every active alert and pending condition in a scope (what rules match new findings to)."""
        with self._lock:
            out: dict[str, Mapping[str, Any]] = {
                k: p.condition.evidence for k, p in self._pending.items() if in_scope(k, scope)
            }
            for alert in self.store.active(self.site):
                if in_scope(alert.key, scope):
                    out[alert.key] = alert.evidence
            return out

    def pending_keys(self) -> list[str]:
        """Conditions seen but still inside their open hold."""
        with self._lock:
            return sorted(self._pending)

    # -- internals -------------------------------------------------------------------------------------

    def _maybe_open(self, pending: _Pending, now: int) -> Alert | None:
        condition = pending.condition
        if now - pending.first_ms < self.hold(condition.kind).open_hold_s * 1000:
            return None
        del self._pending[condition.key]
        try:
            alert = self.store.open(self.site, condition, now)
        except AlreadyActive:  # another writer (or a restart race) got there first: update that one
            existing = self.store.find_active(self.site, condition.key)
            if existing is None:
                raise
            return self.raise_or_update(condition)
        logger.info("alert %s opened: %s [%s] %s", alert.id, alert.key, alert.severity.value, alert.title)
        self._changed(alert)
        return alert

    def _auto_resolve(self, alert: Alert, now: int) -> None:
        self._clearing.pop(alert.key, None)
        resolved = self.store.resolve(alert.id, ENGINE, now, latch=False)
        logger.info("alert %s resolved (condition %s cleared)", alert.id, alert.key)
        self._changed(resolved)

    def _changed(self, alert: Alert) -> None:
        for hook in list(self._hooks):
            try:
                hook(alert)
            except Exception:
                logger.exception("alert %s: change hook %r failed", alert.id, hook)


def _differs(alert: Alert, condition: Condition) -> bool:
    return (
        alert.severity != condition.severity
        or alert.title != condition.title
        or alert.evidence != normal_evidence(condition.evidence)
    )
