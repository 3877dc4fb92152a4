"""The alert service of one site: MQTT inputs and InfluxDB polls → rules → lifecycle → store → MQTT.

Threads: paho's network loop puts messages on a bounded queue (a full queue blocks it: backpressure, no
loss); one worker applies them and the hold timers; one poller reads InfluxDB (meter checks every
`check_interval_s`, energy rules every `energy_eval_interval_s`); one publisher drains the outbox.

`AlertService` is also the programmatic API (list, get, history, acknowledge, resolve). A process that
does not run the service (the web API) can do the same through an `AlertStore` on the same file: the
service publishes those changes too, from the outbox.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerts.coverage.codec import coverage_from_json
from alerts.coverage.liveness import LivenessTracker, Verdict
from alerts.engine.lifecycle import Clock, Lifecycle, wall_ms
from alerts.engine.metrics import AlertMetrics
from alerts.engine.model import Alert, AlertState, AuditEntry
from alerts.engine.publisher import AlertPublisher
from alerts.engine.rules import RuleOutput
from alerts.engine.rules.energy import energy_outputs
from alerts.engine.rules.gateways import GatewayRules
from alerts.engine.rules.liveness import GRACE_S, coverage_expected, coverage_monitor_rule
from alerts.engine.rules.perimeter import PerimeterRules
from alerts.engine.rules.quality import data_quality_rule, meter_status_rule
from alerts.engine.rules.windows import lookback_days, prepare
from alerts.engine.sources import RegisterSource
from alerts.engine.store import AlertStore
from core import topics
from core.backoff import Backoff
from core.config import SiteConfig
from core.errors import SinkUnavailable
from core.types import CoverageReport

logger = logging.getLogger(__name__)

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """How the alert service reaches the broker (account `vigil-service`: read/write `vigil/{site}/#`)."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str = "vigil-service"
    password: str = ""
    client_id: str = "vigil-alerts-1"
    keepalive_s: int = 30
    publish_timeout_s: float = 5.0


class AlertService:
    """Rules, lifecycle, store and publisher of one site, wired together."""

    def __init__(
        self,
        site: SiteConfig,
        store: AlertStore,
        *,
        source: RegisterSource | None = None,
        mqtt_settings: MqttSettings | None = None,
        clock: Clock = wall_ms,
        metrics: AlertMetrics | None = None,
        queue_size: int = 10_000,
        tick_s: float = 0.2,
    ) -> None:
        self.site = site
        self.site_id = site.site.id
        self.store = store
        self.source = source
        self.mqtt_settings = mqtt_settings
        self.clock = clock
        self.metrics = metrics or AlertMetrics(store, self.site_id)
        self.tick_s = tick_s
        self.lifecycle = Lifecycle(store, self.site_id, site.alerts, clock=clock, on_change=self.metrics.on_change)
        self.perimeter = PerimeterRules(site)
        self.gateways = GatewayRules(site, clock(), silence=source is not None)
        self.publisher = AlertPublisher(store, self.site_id, self._send, site.alerts.resolved_retain_s, clock)
        self.lifecycle.add_hook(self.publisher.notify)
        self._queue: queue.Queue[tuple[str, bytes, bool]] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._threads: list[threading.Thread] = []
        self._coverage: CoverageReport | None = None
        self.monitor_liveness = LivenessTracker()
        self._liveness_since_ms: int | None = None  # when the monitor's status was last (re)subscribed
        self._liveness_heard = False  # a live (not retained) status since then
        self._liveness_judged: tuple[bool, str | None, bool] | None = None
        self.client: mqtt.Client | None = None

    # -- operator API ----------------------------------------------------------------------------------

    def alerts(
        self,
        states: tuple[AlertState, ...] | None = None,
        kind: str | None = None,
        since_ms: int | None = None,
        limit: int = 200,
    ) -> list[Alert]:
        """Alerts of this site, newest first, filtered by state, kind and opening time."""
        return self.store.query(self.site_id, states, kind, since_ms, limit, newest_first=True)

    def active(self) -> list[Alert]:
        """Open and acknowledged alerts, oldest first."""
        return self.store.active(self.site_id)

    def get(self, alert_id: str) -> Alert:
        """One alert; raise UnknownAlert."""
        return self.store.get(alert_id)

    def history(self, alert_id: str) -> list[AuditEntry]:
        """The audit trail of one alert."""
        return self.store.audit(alert_id)

    def acknowledge(self, alert_id: str, who: str, note: str | None = None) -> Alert:
        """Acknowledge an open alert; raise UnknownAlert, InvalidTransition or ValueError."""
        return self.lifecycle.acknowledge(alert_id, who, note)

    def resolve(self, alert_id: str, who: str, note: str | None = None) -> Alert:
        """Resolve an alert by hand; raise UnknownAlert, InvalidTransition or ValueError."""
        return self.lifecycle.resolve(alert_id, who, note)

    # -- inputs ----------------------------------------------------------------------------------------

    def apply(self, outputs: Iterable[RuleOutput]) -> None:
        """Hand rule outputs to the lifecycle."""
        for out in outputs:
            self.lifecycle.reconcile(out.scope, out.conditions, out.unknown)

    def handle(self, topic: str, payload: bytes, retained: bool = False) -> None:
        """Apply one MQTT message (`retained`: delivered from the broker's store); a bad one is refused."""
        site = self.site_id
        if topic == topics.coverage(site):
            kind = "coverage"
        elif topic == topics.coverage_status(site):
            kind = "coverage_status"
        elif topic.startswith(f"{topics.ROOT}/{site}/cameras/"):
            kind = "camera_health"
        elif topic.startswith(f"{topics.ROOT}/{site}/gateways/"):
            kind = "gateway_status"
        else:
            return
        self.metrics.messages.labels(kind).inc()
        try:
            if kind == "coverage":
                self._on_coverage(payload)
            elif kind == "coverage_status":
                self.monitor_liveness.on_status(payload, retained, self.clock())
                self._liveness_heard = self._liveness_heard or (not retained and bool(payload))
                self.check_coverage_monitor()
            elif kind == "camera_health":
                self.apply(self.perimeter.on_health(topic, payload))
                self._blind_spots()  # camera states and snapshots in the blind-spot evidence
            else:
                self.gateways.on_status(topic, payload, self.clock())
                self.apply(self.gateways.evaluate(self.clock())[:1])
        except ValueError as exc:
            self.metrics.rejected.labels(kind).inc()
            logger.warning(
                "alerts %s: refused %s message on %s (%s): %r",
                site,
                kind,
                topic,
                exc,
                payload[:200],
                extra={"topic": topic},
            )

    def _on_coverage(self, payload: bytes) -> None:
        if not payload:
            return  # cleared retained report: nothing known, leave blind-spot alerts as they are
        self._coverage = coverage_from_json(payload)
        self._blind_spots()

    def _blind_spots(self) -> None:
        report = self._coverage
        if report is None:
            return
        with self.lifecycle.locked():
            self.apply([self.perimeter.blind_spots(report, self.lifecycle.tracked_evidence("blind_spot"))])

    def watch_coverage_monitor(self, now_ms: int | None = None) -> None:
        """Start (again) the grace period of the monitor's status: done on every (re)subscription to it."""
        self._liveness_since_ms = self.clock() if now_ms is None else now_ms
        self._liveness_heard = False

    def check_coverage_monitor(self, now_ms: int | None = None) -> Verdict:
        """Judge whether the coverage report is current; apply the rule when that changes."""
        now = self.clock() if now_ms is None else now_ms
        verdict = self.monitor_liveness.verdict(now)
        if self.mqtt_settings is not None and not self._connected.is_set():
            return verdict  # cut off from the broker ourselves: the monitor's silence tells nothing
        since = self._liveness_since_ms
        settled = self._liveness_heard or (since is not None and now - since >= GRACE_S * 1000)
        judged = (verdict.stale, verdict.reason, settled)
        if judged != self._liveness_judged:
            self._liveness_judged = judged
            self.apply([coverage_monitor_rule(self.site, verdict, self._coverage, settled)])
        return verdict

    def check_meters(self, now_ms: int | None = None) -> None:
        """Look at every meter's latest stored point: gateway silence, stale meters, status flags."""
        if self.source is None:
            return
        now = self.clock() if now_ms is None else now_ms
        since = now - (lookback_days(self.site.alerts) * DAY_MS)
        latest = self.source.latest(self.site_id, since)
        self.gateways.on_latest(latest, now)
        self.apply([*self.gateways.evaluate(now), meter_status_rule(self.site, latest)])

    def evaluate_energy(self, now_ms: int | None = None) -> list[RuleOutput]:
        """Run the energy and data-quality rules on the look-back of register data; return their outputs."""
        if self.source is None:
            return []
        now = self.clock() if now_ms is None else now_ms
        start = now - lookback_days(self.site.alerts) * DAY_MS
        data = prepare(self.site, self.source.series(self.site_id, start, now + 1))
        outputs = [*energy_outputs(self.site, data, now), data_quality_rule(self.site, data, now)]
        self.apply(outputs)
        return outputs

    # -- running ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect to the broker and start the worker, poller and publisher threads."""
        if self.mqtt_settings is not None:
            s = self.mqtt_settings
            self.client = self._make_client()
            self.client.connect_async(s.host, s.port, keepalive=s.keepalive_s, clean_start=True)
            self.client.loop_start()
            self._spawn("publisher", lambda: self.publisher.run(self._stop))
        self._spawn("worker", self._work)
        if self.source is not None:
            self._spawn("poller", self._poll)

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Wait until connected and subscribed."""
        return self._connected.wait(timeout)

    def stop(self) -> None:
        """Stop the threads and disconnect (the store stays open: the caller owns it)."""
        self._stop.set()
        self.publisher.notify()
        for thread in self._threads:
            thread.join(timeout=30)
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=f"alerts-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                topic, payload, retained = self._queue.get(timeout=self.tick_s)
            except queue.Empty:
                topic, payload, retained = "", b"", False
            try:
                if topic:
                    self.handle(topic, payload, retained)
                if self._liveness_since_ms is not None:
                    self.check_coverage_monitor()  # a silent monitor sends nothing: judge it on the clock
                self.lifecycle.tick()
            except Exception:
                logger.exception("alerts %s: handling %s failed", self.site_id, topic or "tick")

    def _poll(self) -> None:
        rules = self.site.alerts
        due = {"meters": 0.0, "energy": 0.0}
        every = {"meters": rules.check_interval_s, "energy": rules.energy_eval_interval_s}
        runs = {"meters": self.check_meters, "energy": self.evaluate_energy}
        failures = dict.fromkeys(due, 0)
        backoff = Backoff(base_s=1.0, cap_s=min(every.values()))
        while not self._stop.is_set():
            for name in due:
                if time.monotonic() < due[name]:
                    continue
                try:
                    runs[name]()
                    failures[name] = 0
                    due[name] = time.monotonic() + every[name]
                    self.metrics.evaluations.labels(name, "ok").inc()
                    self.metrics.last_evaluation.labels(name).set(time.time())
                except (SinkUnavailable, ValueError) as exc:
                    # InfluxDB down or answering oddly: judge nothing (alerts stay as they are), retry soon.
                    failures[name] += 1
                    due[name] = time.monotonic() + backoff.delay(failures[name] - 1)
                    self.metrics.evaluations.labels(name, "failed").inc()
                    logger.warning("alerts %s: %s rules skipped: %s", self.site_id, name, exc)
                except Exception:
                    failures[name] += 1
                    due[name] = time.monotonic() + backoff.delay(failures[name] - 1)
                    self.metrics.evaluations.labels(name, "failed").inc()
                    logger.exception("alerts %s: %s rules failed", self.site_id, name)
            self._stop.wait(min(max(0.05, min(due.values()) - time.monotonic()), 1.0))

    # -- MQTT ------------------------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        s = self.mqtt_settings
        assert s is not None
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=s.client_id, protocol=mqtt.MQTTv5
        )
        client.username_pw_set(s.username, s.password)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = lambda _c, _u, msg: self._queue.put((msg.topic, bytes(msg.payload), bool(msg.retain)))
        return client

    def _on_connect(self, client: mqtt.Client, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        s = self.mqtt_settings
        assert s is not None
        if reason.is_failure:
            logger.error("broker %s:%s refused alert service %s: %s", s.host, s.port, s.client_id, reason)
            return
        site = self.site_id
        filters = [topics.coverage(site), topics.all_camera_health(site), topics.all_gateway_status(site)]
        if coverage_expected(self.site):
            filters.append(topics.coverage_status(site))
        logger.info("alert service %s connected; subscribing %s", s.client_id, filters)
        client.subscribe([(f, 1) for f in filters])
        if coverage_expected(self.site):
            self.watch_coverage_monitor()
        self.publisher.resend_all()
        self._connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            logger.warning("alert service %s disconnected: %s; reconnecting", self.site_id, reason)

    def _send(self, topic: str, payload: bytes) -> bool:
        client, s = self.client, self.mqtt_settings
        if client is None or s is None or not self._connected.is_set():
            return False
        try:
            info = client.publish(topic, payload, qos=1, retain=True)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                return False
            info.wait_for_publish(timeout=s.publish_timeout_s)
            return info.is_published()
        except (RuntimeError, ValueError) as exc:
            logger.warning("alerts %s: publishing %s failed: %s", self.site_id, topic, exc)
            return False
