"""What the soak watches: alerts and camera health on MQTT, and each service process's memory and CPU."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from core import topics
from ops.servers import ServerProcess

DRIVER = "soak (publisher)"  # the soak script itself: the gateways, the alert watcher


@dataclass(frozen=True, slots=True)
class Seen:
    """One alert or camera-health message, with the wall time it arrived."""

    at: float
    key: str  # alert key, or camera id for health
    state: str
    opened_ms: int = 0
    names: frozenset[str] = frozenset()  # the devices an alert names (its key's device, a blind spot's cameras)


def named_devices(doc: dict[str, Any]) -> frozenset[str]:
    """The camera or gateway an alert is about, and the cameras whose failure caused a blind spot."""
    kind, _, device = str(doc.get("key", "")).partition(":")
    names = {device} if device and kind != "blind_spot" else set()
    evidence = doc.get("evidence")
    if isinstance(evidence, dict) and isinstance(evidence.get("cameras"), list):
        names.update(str(c) for c in evidence["cameras"])
    return frozenset(names)


class Watcher:
    """Subscribe to every alert and camera health of the site, as the alert screen does."""

    def __init__(self, site_id: str, host: str, port: int, password: str) -> None:
        self.site_id = site_id
        self.alerts: list[Seen] = []
        self.health: list[Seen] = []
        self._latest: dict[str, Seen] = {}
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id="soak-watcher", protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set("vigil-service", password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=4)
        self.client.on_connect = lambda c, *_a: c.subscribe(
            [(topics.all_alerts(site_id), 1), (topics.all_camera_health(site_id), 1)]
        )
        self.client.on_message = self._on_message
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        now = time.time()
        try:
            doc = orjson.loads(msg.payload) if msg.payload else {}
        except orjson.JSONDecodeError:
            return
        if not isinstance(doc, dict):
            return
        with self._lock:
            if msg.topic.endswith("/health"):
                camera = msg.topic.split("/")[-2]
                self.health.append(Seen(now, camera, str(doc.get("state"))))
            elif "key" in doc:
                opened = doc.get("opened_ms")
                opened_ms = opened if isinstance(opened, int) else 0
                seen = Seen(now, str(doc["key"]), str(doc.get("state")), opened_ms, named_devices(doc))
                self.alerts.append(seen)
                self._latest[seen.key] = seen

    def busy(self, device: str) -> bool:
        """Whether an open alert names `device`, or the camera `device` is not healthy now."""
        with self._lock:
            if any(s.state in ("open", "acknowledged") and device in s.names for s in self._latest.values()):
                return True
            health = [s.state for s in self.health if s.key == device]
        return bool(health) and health[-1] != "ok"

    def camera_states(self) -> dict[str, str]:
        """The latest health state of each camera heard from."""
        with self._lock:
            return {s.key: s.state for s in self.health}

    def first_alert(self, device: str, since: float, key: str | None = None) -> Seen | None:
        """The first open alert (or the alert `key`) naming `device` seen after `since`.

        An alert about the device itself must have opened after `since`; a blind spot may be an earlier
        one that the device's failure extended.
        """
        with self._lock:
            for s in self.alerts:
                if s.at < since or s.state != "open" or device not in s.names or (key and s.key != key):
                    continue
                if s.key.startswith("blind_spot") or s.opened_ms >= since * 1000 - 1000:
                    return s
        return None

    def opened_by_kind(self, since: float) -> dict[str, int]:
        """How many alerts opened after `since`, by kind."""
        with self._lock:
            opened = {(s.key, s.opened_ms) for s in self.alerts if s.state == "open" and s.opened_ms >= since * 1000}
        counts: dict[str, int] = {}
        for key, _ in opened:
            kind = key.partition(":")[0]
            counts[kind] = counts.get(kind, 0) + 1
        return dict(sorted(counts.items()))

    def first_unhealthy(self, camera: str, since: float) -> float | None:
        """Wall time the camera was first reported not ok after `since`."""
        with self._lock:
            for s in self.health:
                if s.key == camera and s.at >= since and s.state != "ok":
                    return s.at
        return None

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


@dataclass(slots=True)
class AlertEvent:
    """A failure made at a known time, and when the first alert naming the device appeared."""

    kind: str  # "camera" or "gateway"
    target: str
    detail: str
    at: float  # wall time the failure was made
    alert: Seen | None = None  # the first alert naming the device
    detected_at: float | None = None  # cameras: health not ok
    own_alert_at: float | None = None  # cameras: camera_stream_lost (held camera_unhealthy_hold_s)

    @property
    def latency(self) -> float | None:
        return None if self.alert is None else self.alert.at - self.at


# --- process memory and CPU ------------------------------------------------------------------------------


def rss_mb(pid: int) -> float | None:
    """Resident set size of a process in MiB, None if it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def machine_cpu() -> tuple[float, float, float]:
    """Seconds of (busy, iowait, total) CPU time of the whole machine since boot, all CPUs."""
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle, iowait = values[3], values[4]
    total = sum(values[:8])  # guest time is already counted in user
    return (total - idle - iowait) / tick, iowait / tick, total / tick


def cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Sample:
    """One look at a service process."""

    at: float  # seconds since the publishing started
    pid: int
    rss_mb: float
    cpu_s: float


@dataclass(slots=True)
class Memory:
    """RSS and CPU samples of every service, by name."""

    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def sample(self, services: list[ServerProcess], at: float) -> None:
        """Record each running service's RSS and CPU time, and this script's own."""
        pids = [(service.name, service.pid) for service in services]
        for name, pid in [*pids, (DRIVER, os.getpid())]:
            if pid is None:
                continue
            rss, cpu = rss_mb(pid), cpu_s(pid)
            if rss is not None and cpu is not None:
                self.samples.setdefault(name, []).append(Sample(at, pid, rss, cpu))

    def after(self, name: str, warmup_s: float) -> list[Sample]:
        """Samples of `name` taken after the warm-up."""
        return [s for s in self.samples.get(name, []) if s.at >= warmup_s]


def slope_mb_per_min(samples: list[Sample]) -> float:
    """Least-squares RSS trend of one process, MiB per minute."""
    if len(samples) < 3:
        return 0.0
    xs = [s.at / 60 for s in samples]
    ys = [s.rss_mb for s in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
