"""Is the coverage monitor alive? Its retained status topic, and how a consumer judges the report's freshness.

The coverage report is retained: if the monitor dies, the last report stays on the broker and looks
current, and a blind spot opened afterwards is never reported — the worst case, a blind spot nobody can
see. So the monitor also keeps a retained status on `vigil/{site}/perimeter/coverage/status`:

* `online` when it connects, then again every `heartbeat_s` from its worker (the thread that computes the
  reports), so a monitor whose worker hangs while its connection stays up falls silent too;
* `offline` as its MQTT v5 Last Will, which the broker publishes when the connection drops without a clean
  DISCONNECT (`kill -9`, a crash, a lost network after 1.5 × keepalive), and explicitly on a clean stop.

A consumer (`LivenessTracker`) calls the report stale when the status says offline, when no heartbeat came
for `STALE_BEATS` × `heartbeat_s`, or when no status was ever received. The time of a heartbeat is its
arrival time on the consumer's clock for a live message, and the monitor's own `beat_ms` for a retained one
delivered on subscription (it may be hours old).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import orjson

#: A monitor is silent after this many missed heartbeats.
STALE_BEATS = 3
_STATES = ("online", "offline")


@dataclass(frozen=True, slots=True)
class MonitorStatus:
    """What the coverage monitor says of itself."""

    state: str  # "online" | "offline"
    beat_ms: int | None  # the monitor's clock when sent; None in the Last Will (written at connect time)
    heartbeat_s: float | None  # how often it beats while online
    reason: str | None = None  # why offline: "connection lost" (the will) or "stopped"
    report_ms: int | None = None  # computed_ms of its latest report


def status_to_json(status: MonitorStatus) -> bytes:
    """Encode a status for `vigil/{site}/perimeter/coverage/status`."""
    return orjson.dumps(
        {
            "status": status.state,
            "beat_ms": status.beat_ms,
            "heartbeat_s": status.heartbeat_s,
            "reason": status.reason,
            "report_ms": status.report_ms,
        }
    )


def status_from_json(payload: bytes) -> MonitorStatus:
    """Decode a status; raise ValueError saying what is wrong."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"monitor status is not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("status") not in _STATES:
        raise ValueError("monitor status: expected an object with status online|offline")
    heartbeat = data.get("heartbeat_s")
    if heartbeat is not None and (not _number(heartbeat) or not 0 < heartbeat <= 3600):
        raise ValueError("monitor status: heartbeat_s must be a number in (0, 3600]")
    reason = data.get("reason")
    return MonitorStatus(
        state=data["status"],
        beat_ms=_int_or_none(data, "beat_ms"),
        heartbeat_s=None if heartbeat is None else float(heartbeat),
        reason=reason[:100] if isinstance(reason, str) else None,
        report_ms=_int_or_none(data, "report_ms"),
    )


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _int_or_none(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"monitor status: {key} must be an integer")
    return value


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether the coverage report can be trusted now, and why not."""

    stale: bool
    reason: str | None  # "offline", "silent", "no status"; None when fresh
    state: str | None  # last status received, None if none
    last_beat_ms: int | None  # when the monitor was last heard alive (see the module)
    offline_since_ms: int | None
    stale_after_s: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "stale": self.stale,
            "reason": self.reason,
            "status": self.state,
            "last_beat_ms": self.last_beat_ms,
            "offline_since_ms": self.offline_since_ms,
            "stale_after_s": self.stale_after_s,
        }


class LivenessTracker:
    """Follow the monitor's status messages; judge freshness at any time. Thread-safe."""

    def __init__(self, default_heartbeat_s: float = 10.0) -> None:
        self.default_heartbeat_s = default_heartbeat_s
        self._lock = threading.Lock()
        self._status: MonitorStatus | None = None
        self._beat_ms: int | None = None
        self._offline_ms: int | None = None

    def on_status(self, payload: bytes, retained: bool, now_ms: int) -> None:
        """Record a status message (retained: delivered from the broker's store); raise ValueError if bad."""
        if not payload:  # cleared by hand: nothing known
            with self._lock:
                self._status, self._beat_ms, self._offline_ms = None, None, None
            return
        status = status_from_json(payload)
        sent = status.beat_ms if retained and status.beat_ms is not None else now_ms
        with self._lock:
            self._status = status
            if status.state == "online":
                self._beat_ms, self._offline_ms = sent, None
            elif self._offline_ms is None:
                self._offline_ms = sent

    def verdict(self, now_ms: int) -> Verdict:
        """Fresh, or stale and why."""
        with self._lock:
            status, beat, offline = self._status, self._beat_ms, self._offline_ms
        if status is None:
            return Verdict(True, "no status", None, None, None, None)
        heartbeat = status.heartbeat_s or self.default_heartbeat_s
        stale_after = STALE_BEATS * heartbeat
        if status.state == "offline":
            return Verdict(True, "offline", "offline", beat, offline, stale_after)
        if beat is None or now_ms - beat > stale_after * 1000:
            return Verdict(True, "silent", "online", beat, None, stale_after)
        return Verdict(False, None, "online", beat, None, stale_after)
