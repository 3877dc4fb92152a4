"""Live state for the alert screen: follow retained MQTT topics, keep the latest of each, fan changes out.

One paho (MQTT v5) client subscribes to camera health, the perimeter coverage report and its monitor's status
(liveness: a report whose monitor is offline or silent is stale), every alert and every gateway status.
The latest value of each is kept in memory with a sequence number bumped on every change. Server-sent-event
clients subscribe with `listen()`: each gets an asyncio queue of deltas (`Change`); a client that falls behind
is dropped (its stream ends) and resyncs from `snapshot()` when its browser reconnects, so memory stays
bounded and nothing is silently skipped.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerts.coverage.codec import coverage_from_json, parse_health_state, report_to_dict
from alerts.coverage.liveness import LivenessTracker, Verdict
from alerts.engine.model import Alert, alert_from_json, alert_to_dict
from core import topics
from core.config import SiteConfig
from core.types import CoverageReport

logger = logging.getLogger(__name__)

MAX_SNAPSHOT_REF = 500
QUEUE_SIZE = 1000
_STATUSES = ("online", "offline")


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """How the live state reaches the broker."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str = "vigil-service"
    password: str = ""
    client_id: str = "vigil-api-live-1"
    keepalive_s: int = 30


@dataclass(frozen=True, slots=True)
class Change:
    """A change of the live state: `kind` camera|coverage|coverage_monitor|alert|gateway|mqtt|reset, `key`, value."""

    seq: int
    kind: str
    key: str
    value: Any


@dataclass(frozen=True, slots=True)
class CameraLive:
    """What the screen shows of a camera's last health message."""

    camera: str
    state: str | None  # None: retained health cleared
    since_ms: int | None
    snapshot: str | None
    received_ms: int


@dataclass
class _Listener:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Change | None]
    dropped: bool = False


@dataclass
class _State:
    cameras: dict[str, CameraLive] = field(default_factory=dict)
    coverage: CoverageReport | None = None
    monitor: LivenessTracker = field(default_factory=LivenessTracker)
    alerts: dict[str, Alert] = field(default_factory=dict)
    gateways: dict[str, tuple[str | None, int]] = field(default_factory=dict)


class LiveState:
    """The latest retained state of one site, from MQTT, with change fan-out."""

    def __init__(self, site: SiteConfig, settings: LiveSettings, clock: Callable[[], float] = time.time) -> None:
        self.site = site
        self.site_id = site.site.id
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._state = _State()
        self._seq = 0
        self._listeners: list[_Listener] = []
        self._connected = threading.Event()
        self.rejected = 0
        self.client: mqtt.Client | None = None

    # -- reading ---------------------------------------------------------------------------------------

    @property
    def seq(self) -> int:
        """The sequence number of the latest change."""
        with self._lock:
            return self._seq

    @property
    def connected(self) -> bool:
        """True while connected to the broker."""
        return self._connected.is_set()

    @property
    def coverage(self) -> CoverageReport | None:
        """The latest coverage report, None before the first."""
        with self._lock:
            return self._state.coverage

    def coverage_monitor(self) -> Verdict:
        """Whether the coverage report is current: its monitor online and beating (see alerts.coverage.liveness)."""
        with self._lock:
            monitor = self._state.monitor
        return monitor.verdict(int(self._clock() * 1000))

    def cameras(self) -> dict[str, CameraLive]:
        """Latest health of each camera heard of."""
        with self._lock:
            return dict(self._state.cameras)

    def snapshot(self) -> dict[str, Any]:
        """Everything known now, JSON-ready, with the sequence number it is current to."""
        with self._lock:
            s = self._state
            now = int(self._clock() * 1000)
            return {
                "seq": self._seq,
                "site": self.site_id,
                "mqtt": self._connected.is_set(),
                "server_ms": now,
                "cameras": {k: camera_to_dict(v) for k, v in s.cameras.items()},
                "coverage": report_to_dict(s.coverage) if s.coverage else None,
                "coverage_monitor": s.monitor.verdict(now).to_dict(),
                "alerts": {k: alert_to_dict(v) for k, v in s.alerts.items()},
                "gateways": {k: {"status": v[0], "received_ms": v[1]} for k, v in s.gateways.items()},
            }

    # -- listeners -------------------------------------------------------------------------------------

    def listen(self) -> asyncio.Queue[Change | None]:
        """Subscribe the running event loop's caller to changes; None in the queue means: resync and reconnect."""
        listener = _Listener(asyncio.get_running_loop(), asyncio.Queue(QUEUE_SIZE))
        with self._lock:
            self._listeners.append(listener)
        return listener.queue

    def unlisten(self, queue: asyncio.Queue[Change | None]) -> None:
        """Unsubscribe a queue from `listen()`."""
        with self._lock:
            self._listeners = [x for x in self._listeners if x.queue is not queue]

    def drop_listeners(self) -> None:
        """End every listener's stream (their browsers reconnect and resync)."""
        with self._lock:
            listeners, self._listeners = self._listeners, []
        for x in listeners:
            x.loop.call_soon_threadsafe(_offer, x, None)

    @property
    def listener_count(self) -> int:
        """How many streams are following the state."""
        with self._lock:
            return len(self._listeners)

    def _emit(self, kind: str, key: str, value: Any) -> None:
        """Record a change under the lock held by the caller, and hand it to every listener."""
        self._seq += 1
        change = Change(self._seq, kind, key, value)
        for x in self._listeners:
            try:
                x.loop.call_soon_threadsafe(_offer, x, change)
            except RuntimeError:  # its loop is closed: the listener is gone
                x.dropped = True
        self._listeners = [x for x in self._listeners if not x.dropped]

    # -- updates ---------------------------------------------------------------------------------------

    def put_alert(self, alert: Alert) -> bool:
        """Record an alert unless a newer version is known; return True if it changed the state."""
        if alert.site != self.site_id:
            return False
        with self._lock:
            old = self._state.alerts.get(alert.id)
            if old is not None and old.version >= alert.version:
                return False
            self._state.alerts[alert.id] = alert
            self._emit("alert", alert.id, alert_to_dict(alert))
        return True

    def handle(self, topic: str, payload: bytes, retained: bool = False) -> None:
        """Apply one MQTT message (`retained`: from the broker's store); a bad one is refused, never raised."""
        try:
            self._handle(topic, payload, retained)
        except ValueError as exc:
            self.rejected += 1
            logger.warning("live %s: refused message on %s (%s): %r", self.site_id, topic, exc, payload[:200])

    def _handle(self, topic: str, payload: bytes, retained: bool) -> None:
        site = self.site_id
        now = int(self._clock() * 1000)
        if topic == topics.coverage_status(site):
            with self._lock:
                self._state.monitor.on_status(payload, retained, now)
                self._emit("coverage_monitor", "", self._state.monitor.verdict(now).to_dict())
        elif topic == topics.coverage(site):
            report = coverage_from_json(payload) if payload else None
            with self._lock:
                self._state.coverage = report
                self._emit("coverage", "", report_to_dict(report) if report else None)
        elif topic.startswith(f"{topics.ROOT}/{site}/cameras/"):
            self._on_health(topic, payload, now)
        elif topic.startswith(f"{topics.ROOT}/{site}/gateways/"):
            self._on_gateway(topic, payload, now)
        elif topic.startswith(f"{topics.ROOT}/{site}/alerts/"):
            alert_id = topic.rsplit("/", 1)[1]
            if payload:
                alert = alert_from_json(payload)
                if alert.id != alert_id:
                    raise ValueError(f"payload names alert {alert.id!r}")
                self.put_alert(alert)
            else:
                with self._lock:
                    if self._state.alerts.pop(alert_id, None) is not None:
                        self._emit("alert", alert_id, None)

    def _on_health(self, topic: str, payload: bytes, now: int) -> None:
        camera, state = parse_health_state(self.site_id, topic, payload)
        since = snapshot = None
        if payload:
            data = orjson.loads(payload)
            raw_since, raw_snap = data.get("since_ms"), data.get("snapshot")
            since = raw_since if isinstance(raw_since, int) and not isinstance(raw_since, bool) else None
            snapshot = raw_snap if isinstance(raw_snap, str) and len(raw_snap) <= MAX_SNAPSHOT_REF else None
        live = CameraLive(camera, state.value if state else None, since, snapshot, now)
        with self._lock:
            self._state.cameras[camera] = live
            self._emit("camera", camera, camera_to_dict(live))

    def _on_gateway(self, topic: str, payload: bytes, now: int) -> None:
        gateway = topics.gateway_of(topic)
        if gateway is None or topic != topics.gateway_status(self.site_id, gateway):
            return  # readings and frames share the tree; only status matters here
        text = payload.decode("utf-8", errors="replace").strip()
        if text.startswith("{"):
            try:
                data = orjson.loads(payload)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"status is not JSON: {exc}") from exc
            text = str(data.get("status", "")) if isinstance(data, dict) else ""
        status = text.lower() or None
        if status is not None and status not in _STATUSES:
            raise ValueError(f"unknown gateway status {text[:40]!r}")
        with self._lock:
            self._state.gateways[gateway] = (status, now)
            self._emit("gateway", gateway, {"status": status, "received_ms": now})

    # -- running ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect (asynchronously; paho reconnects by itself) and start the network loop."""
        s = self.settings
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=s.client_id, protocol=mqtt.MQTTv5
        )
        client.username_pw_set(s.username, s.password)
        client.reconnect_delay_set(1, 30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = lambda _c, _u, msg: self.handle(msg.topic, bytes(msg.payload), bool(msg.retain))
        self.client = client
        client.connect_async(s.host, s.port, keepalive=s.keepalive_s)
        client.loop_start()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Wait until connected and subscribed."""
        return self._connected.wait(timeout)

    def stop(self) -> None:
        """Disconnect and end every stream."""
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None
        self._connected.clear()
        self.drop_listeners()

    def _on_connect(self, client: mqtt.Client, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.warning("live %s: broker refused the connection: %s", self.site_id, reason)
            return
        site = self.site_id
        filters = [topics.all_camera_health(site), topics.coverage(site), topics.all_alerts(site)]
        filters += [topics.all_gateway_status(site), topics.coverage_status(site)]
        with self._lock:
            # A new session: the broker delivers every retained message again, and what was cleared while
            # we were away (alerts resolved and dropped) must not linger, so start from nothing.
            self._state = _State()
            self._emit("reset", "", None)
            self._emit("mqtt", "", True)
        client.subscribe([(f, 1) for f in filters])
        self._connected.set()
        logger.info("live %s: connected to %s:%d", site, self.settings.host, self.settings.port)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        with self._lock:
            self._emit("mqtt", "", False)
        logger.warning("live %s: disconnected from the broker (%s)", self.site_id, reason)


def camera_to_dict(c: CameraLive) -> dict[str, Any]:
    """A camera's live health as JSON-ready data."""
    return {
        "camera": c.camera,
        "state": c.state,
        "since_ms": c.since_ms,
        "snapshot": c.snapshot,
        "received_ms": c.received_ms,
    }


def _offer(listener: _Listener, change: Change | None) -> None:
    """Put a change on a listener's queue (on its loop); a full queue ends its stream instead."""
    if listener.dropped:
        return
    try:
        listener.queue.put_nowait(change)
    except asyncio.QueueFull:
        listener.dropped = True
        while not listener.queue.empty():
            listener.queue.get_nowait()
        listener.queue.put_nowait(None)
