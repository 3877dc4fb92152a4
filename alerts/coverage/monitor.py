"""Live perimeter coverage: follow camera health on MQTT, publish the coverage report retained on every change.

A camera counts as healthy only while its last health message says "ok". A camera with no health
message yet, or whose retained health was cleared, is *not* healthy: assuming health at start-up would
report "no blind spots" for cameras nobody has checked. To avoid publishing a burst of false blind spots
while the broker is still delivering the retained health messages, the first report waits `settle_s`.

Liveness (`liveness.py`): a retained `online` status with a heartbeat every `heartbeat_s` from the worker,
and `offline` as the MQTT v5 Last Will and on a clean stop, so consumers can tell a current report from the
last words of a dead monitor.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerts.coverage.codec import coverage_to_json, parse_health_state
from alerts.coverage.liveness import MonitorStatus, status_to_json
from alerts.coverage.model import Coverage
from core import topics
from core.types import CameraState, CoverageReport

logger = logging.getLogger(__name__)

#: Called with every new report, on the monitor's worker thread; keep it quick (hand work off to a queue).
ReportHook = Callable[[CoverageReport], None]

_MAX_KEPT_REJECTIONS = 100
_MAX_UNKNOWN_LOGGED = 1000


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    """How the coverage monitor reaches the broker."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str = "vigil-service"
    password: str = ""
    client_id: str = "vigil-coverage-1"
    keepalive_s: int = 30
    settle_s: float = 1.0  # wait this long after start for retained health before the first report
    heartbeat_s: float = 10.0  # retained "online" status this often; consumers call it dead after 3 missed

    def __post_init__(self) -> None:
        if not 0 < self.heartbeat_s <= 3600:
            raise ValueError("MonitorSettings.heartbeat_s must be in (0, 3600] seconds")


@dataclass(frozen=True, slots=True)
class RejectedHealth:
    """A health message the monitor could not use, kept for inspection."""

    topic: str
    payload: bytes  # truncated
    reason: str
    received_ms: int


class CoverageMonitor:
    """Keep the set of healthy cameras from MQTT and publish the site's coverage whenever it changes."""

    def __init__(
        self,
        coverage: Coverage,
        settings: MonitorSettings,
        *,
        on_report: ReportHook | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.coverage = coverage
        self.settings = settings
        self.site_id = coverage.site.site.id
        self.topic = topics.coverage(self.site_id)
        self.status_topic = topics.coverage_status(self.site_id)
        self._last_beat = 0.0  # monotonic time of the last heartbeat
        self._hooks: list[ReportHook] = [on_report] if on_report else []
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[str, CameraState | None] = {}
        self._published_healthy: frozenset[str] | None = None
        self._latest: CoverageReport | None = None
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        self._unknown_logged: set[str] = set()
        self.rejections: deque[RejectedHealth] = deque(maxlen=_MAX_KEPT_REJECTIONS)
        self.counts = {"messages": 0, "rejected": 0, "unknown_camera": 0, "changes": 0, "reports": 0}
        self.client = self._make_client()

    def add_hook(self, hook: ReportHook) -> None:
        """Also call `hook` with every new report (for the alert engine running in the same process)."""
        self._hooks.append(hook)

    @property
    def latest(self) -> CoverageReport | None:
        """The last report computed, or None before the first."""
        with self._lock:
            return self._latest

    def healthy(self) -> frozenset[str]:
        """Cameras whose last health message said ok."""
        with self._lock:
            return frozenset(c for c, s in self._states.items() if s is CameraState.OK)

    def handle(self, topic: str, payload: bytes) -> bool:
        """Apply one health message; return True if it changed the healthy set (a report follows)."""
        with self._lock:
            self.counts["messages"] += 1
        try:
            camera, state = parse_health_state(self.site_id, topic, payload)
        except ValueError as exc:
            self._reject(topic, payload, str(exc))
            return False
        if camera not in self.coverage.views:
            with self._lock:
                self.counts["unknown_camera"] += 1
                first = camera not in self._unknown_logged and len(self._unknown_logged) < _MAX_UNKNOWN_LOGGED
                if first:
                    self._unknown_logged.add(camera)
            if first:
                logger.warning(
                    "coverage %s: health of camera %s, which is not in the site file",
                    self.site_id,
                    camera,
                    extra={"camera": camera},
                )
            return False
        with self._lock:
            was_ok = self._states.get(camera) is CameraState.OK
            self._states[camera] = state
            changed = was_ok != (state is CameraState.OK)
            if changed:
                self.counts["changes"] += 1
        if changed:
            logger.info(
                "coverage %s: camera %s is now %s", self.site_id, camera, state or "unknown", extra={"camera": camera}
            )
            self._dirty.set()
        return changed

    def _reject(self, topic: str, payload: bytes, reason: str) -> None:
        with self._lock:
            self.counts["rejected"] += 1
        self.rejections.append(RejectedHealth(topic, payload[:512], reason, int(self._clock() * 1000)))
        logger.warning(
            "coverage %s: bad health message on %s (%s): %r",
            self.site_id,
            topic,
            reason,
            payload[:200],
            extra={"topic": topic},
        )

    def recompute(self, force: bool = False) -> CoverageReport | None:
        """Compute, publish and hand out a report if the healthy set changed (or `force`); return it."""
        healthy = self.healthy()
        with self._lock:
            if not force and healthy == self._published_healthy:
                return None
        report = self.coverage.report(healthy, int(self._clock() * 1000))
        with self._lock:
            self._latest = report
            self._published_healthy = healthy
            self.counts["reports"] += 1
        self.client.publish(self.topic, coverage_to_json(report), qos=1, retain=True)
        logger.info(
            "coverage %s: %d/%d cameras healthy, %d blind stretches (%.1f m), %d single-covered",
            self.site_id,
            len(report.healthy),
            len(report.healthy) + len(report.unhealthy),
            len(report.blind),
            sum(s.length_m for s in report.blind),
            len(report.single),
        )
        for hook in list(self._hooks):
            try:
                hook(report)
            except Exception:
                logger.exception("coverage %s: report hook %r failed", self.site_id, hook)
        return report

    def start(self) -> None:
        """Connect (reconnecting for ever) and start the worker that recomputes on change."""
        s = self.settings
        self.client.connect_async(s.host, s.port, keepalive=s.keepalive_s, clean_start=True)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._work, name=f"coverage-{self.site_id}", daemon=True)
        self._thread.start()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Wait until connected and subscribed."""
        return self._connected.wait(timeout)

    def stop(self) -> None:
        """Stop the worker, say offline (a clean DISCONNECT does not fire the will), and disconnect."""
        self._stop.set()
        self._dirty.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._connected.is_set():
            info = self.client.publish(self.status_topic, self._status("offline", "stopped"), qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2.0)
            except (RuntimeError, ValueError) as exc:
                logger.warning("coverage %s: could not say offline: %s", self.site_id, exc)
        self.client.disconnect()
        self.client.loop_stop()

    def _status(self, state: str, reason: str | None = None) -> bytes:
        latest = self.latest
        return status_to_json(
            MonitorStatus(
                state=state,
                beat_ms=int(self._clock() * 1000),
                heartbeat_s=self.settings.heartbeat_s,
                reason=reason,
                report_ms=None if latest is None else latest.computed_ms,
            )
        )

    def beat(self) -> None:
        """Publish the retained online status now (the worker does it every `heartbeat_s`)."""
        self._last_beat = time.monotonic()
        if self._connected.is_set():
            self.client.publish(self.status_topic, self._status("online"), qos=1, retain=True)

    def _work(self) -> None:
        self._stop.wait(self.settings.settle_s)
        first = True
        while not self._stop.is_set():
            try:
                self.recompute(force=first)
                first = False
                if time.monotonic() - self._last_beat >= self.settings.heartbeat_s:
                    self.beat()
            except Exception:
                logger.exception("coverage %s: recomputing failed", self.site_id)
            self._dirty.wait(timeout=min(1.0, self.settings.heartbeat_s))
            self._dirty.clear()

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            protocol=mqtt.MQTTv5,
        )
        client.username_pw_set(s.username, s.password)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        # Written now, published by the broker if this connection ever drops without a clean DISCONNECT.
        will = status_to_json(MonitorStatus("offline", None, s.heartbeat_s, "connection lost"))
        client.will_set(self.status_topic, will, qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(self, client: mqtt.Client, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.error("broker %s:%s refused coverage monitor: %s", self.settings.host, self.settings.port, reason)
            return
        subscription = topics.all_camera_health(self.site_id)
        logger.info("coverage %s connected; subscribing %s", self.site_id, subscription)
        client.subscribe(subscription, qos=1)
        latest = self.latest
        if latest is not None:
            # The broker may have restarted without persistence: put the current report back.
            client.publish(self.topic, coverage_to_json(latest), qos=1, retain=True)
        self._connected.set()
        if latest is not None:
            self.beat()  # online again (before the first report, the worker says so after its settle time)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.handle(msg.topic, bytes(msg.payload))

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            logger.warning("coverage %s disconnected: %s; reconnecting", self.site_id, reason)
