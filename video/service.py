"""The analyzer service: one feed worker and one analyzer thread per camera of the site.

Each state change is published retained on `vigil/{site}/cameras/{camera}/health` with its evidence (the
features and a JPEG snapshot kept under the state dir); per-camera health metrics go to InfluxDB
(`camera_health`) every few seconds. The learned reference view of each camera is saved, so a restart does
not learn a tampered view as the scene.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from core import topics
from core.config import Camera
from core.errors import SinkRejected, SinkUnavailable
from core.types import CameraHealth, CameraState
from ingest.influx import InfluxClient
from video.analyzer import CameraAnalyzer, Change
from video.encode import FeedCounters, health_line, health_payload
from video.reader import FeedWorker, Sample, Silence
from video.reference import Reference
from video.state import Rules

logger = logging.getLogger(__name__)


class HealthSink(Protocol):
    """Where camera health goes (MQTT in production, a list in tests)."""

    def publish(self, health: CameraHealth) -> None: ...


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """How the service reaches the MQTT broker."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str = "vigil-service"
    password: str = ""
    client_id: str = "vigil-video-1"
    keepalive_s: int = 30
    expiry_s: int = 300  # retained health lapses this long after the last refresh (a dead analyzer)


class MqttHealthPublisher:
    """Publish each camera's latest health retained (QoS 1, MQTT v5 message expiry); replay it on reconnect."""

    def __init__(self, settings: BrokerSettings, site_id: str) -> None:
        self.settings = settings
        self.site_id = site_id
        self._latest: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=mqtt.MQTTv5,
        )
        self.client.username_pw_set(settings.username, settings.password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.max_queued_messages_set(1000)  # latest-value data: never grow without bound
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect

    def start(self) -> None:
        """Connect in the background."""
        self.client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect after flushing what is in flight."""
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, health: CameraHealth) -> None:
        """Publish (or, while disconnected, keep for the reconnect) one camera's health."""
        payload = health_payload(health)
        with self._lock:
            self._latest[health.camera] = payload
        if self.connected.is_set():
            self._send(health.camera, payload)

    def refresh(self) -> None:
        """Re-publish every camera's latest health, renewing its expiry."""
        if not self.connected.is_set():
            return
        with self._lock:
            latest = list(self._latest.items())
        for camera, payload in latest:
            self._send(camera, payload)

    def _send(self, camera: str, payload: bytes) -> None:
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.MessageExpiryInterval = self.settings.expiry_s
        info = self.client.publish(
            topics.camera_health(self.site_id, camera), payload, qos=1, retain=True, properties=props
        )
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            logger.warning(
                "camera %s: health publish failed (rc %s), kept for the reconnect",
                camera,
                info.rc,
                extra={"camera": camera},
            )

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            logger.error("MQTT %s:%s refused the analyzer: %s", self.settings.host, self.settings.port, reason)
            return
        logger.info("MQTT connected to %s:%s", self.settings.host, self.settings.port)
        self.connected.set()
        self.refresh()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        self.connected.clear()
        logger.warning("MQTT disconnected from %s:%s (%s)", self.settings.host, self.settings.port, reason)


class SnapshotStore:
    """JPEG evidence of state changes, `root/{camera}/{time}-{state}.jpg` plus its features as JSON."""

    def __init__(self, root: Path, keep: int = 100, base_url: str | None = None, quality: int = 85) -> None:
        if keep < 1:
            raise ValueError("keep must be >= 1")
        self.root = root
        self.keep = keep
        self.base_url = base_url.rstrip("/") if base_url else None
        self.quality = quality

    def save(self, change: Change, wall_ms: int) -> str | None:
        """Store the change's frame and evidence; return its reference (URL or path), None without a frame."""
        if change.image is None:
            return None
        folder = self.root / change.camera
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.fromtimestamp(wall_ms / 1000, tz=UTC).strftime("%Y%m%dT%H%M%S%f")[:-3]
        name = f"{stamp}Z-{change.state.value}.jpg"
        ok, jpeg = cv2.imencode(".jpg", change.image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            logger.warning("camera %s: cannot encode snapshot", change.camera, extra={"camera": change.camera})
            return None
        _atomic_write(folder / name, jpeg.tobytes())
        evidence = {
            "camera": change.camera,
            "state": change.state.value,
            "previous": change.transition.previous.value if change.transition.previous else None,
            "reason": change.transition.reason,
            "media_t": change.t,
            "wall_ms": wall_ms,
            "features": dict(change.transition.features.pairs()) if change.transition.features else None,
        }
        _atomic_write(folder / name.replace(".jpg", ".json"), orjson.dumps(evidence, option=orjson.OPT_INDENT_2))
        self._prune(folder)
        return f"{self.base_url}/snapshots/{change.camera}/{name}" if self.base_url else str(folder / name)

    def resolve(self, camera: str, name: str) -> Path | None:
        """Return the stored file for a snapshot request, or None (never a path outside the store)."""
        if "/" in camera or "/" in name or camera.startswith(".") or name.startswith("."):
            return None
        path = self.root / camera / name
        return path if path.suffix in (".jpg", ".json") and path.is_file() else None

    def _prune(self, folder: Path) -> None:
        jpegs = sorted(folder.glob("*.jpg"))
        for old in jpegs[: max(0, len(jpegs) - self.keep)]:
            old.unlink(missing_ok=True)
            old.with_suffix(".json").unlink(missing_ok=True)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    """Per-camera loop settings."""

    stall_s: float = 2.0  # no sample for this long: count a missing frame (feed stalled silently)
    save_reference_s: float = 300.0
    queue_size: int = 4


@dataclass
class CameraRunner:
    """Read one camera, analyse its samples, and report every change."""

    camera: Camera
    sink: HealthSink
    snapshots: SnapshotStore
    reference_dir: Path | None = None
    rules: Rules = field(default_factory=Rules)
    settings: RunnerSettings = field(default_factory=RunnerSettings)
    worker_factory: Callable[[Camera, int], FeedWorker] | None = None

    def __post_init__(self) -> None:
        factory = self.worker_factory or _default_worker
        self.worker = factory(self.camera, self.settings.queue_size)
        self.analyzer = CameraAnalyzer(self.camera.id, self.rules)
        self.health: CameraHealth | None = None
        self.analysed = 0
        self.lag_s = 0.0
        self._stop = threading.Event()
        self._rebaseline = threading.Event()
        self._thread: threading.Thread | None = None
        self._fps_window: deque[float] = deque(maxlen=64)
        self._load_reference()

    @property
    def fps(self) -> float:
        """Frames analysed per second over the recent window."""
        window = list(self._fps_window)
        if len(window) < 2 or window[-1] <= window[0]:
            return 0.0
        return (len(window) - 1) / (window[-1] - window[0])

    def counters(self) -> FeedCounters:
        """The camera's counters now."""
        s = self.worker.stats
        return FeedCounters(
            s.received, self.analysed, s.dropped, s.reconnects, self.fps, self.lag_s, self.analyzer.relearned
        )

    def start(self) -> None:
        """Start reading and analysing."""
        self.worker.start()
        self._thread = threading.Thread(target=self._loop, name=f"analyze-{self.camera.id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop both threads and save the reference."""
        self._stop.set()
        self.worker.stop(timeout=2.0)
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self._save_reference()

    def rebaseline(self) -> None:
        """Ask the analyzer to learn the current view as the camera's scene (handled on its thread)."""
        self._rebaseline.set()

    def _loop(self) -> None:
        period = 1.0 / self.camera.analysis_fps
        silence = Silence(self.settings.stall_s, first_s=self.worker.open_timeout_s + self.settings.stall_s)
        last_saved = time.monotonic()
        while not self._stop.is_set():
            try:
                item = self.worker.get(timeout=period)
                now = self.worker.media_time()
                silence.observe(item)
                change: Change | None = None
                wall_ms = int(time.time() * 1000)
                if self._rebaseline.is_set():
                    self._rebaseline.clear()
                    change = self.analyzer.rebaseline(now)
                    self._delete_reference()
                    logger.info("camera %s: re-baselined by operator", self.camera.id, extra={"camera": self.camera.id})
                elif isinstance(item, Sample):
                    change = self.analyzer.frame(item.t, item.image)
                    self.analysed += 1
                    self._fps_window.append(time.monotonic())
                    self.lag_s = max(0.0, time.time() - item.wall_ms / 1000)
                    wall_ms = item.wall_ms
                elif silence.missing(now):
                    change = self.analyzer.no_frame(now)
                if change is not None:
                    self._report(change, wall_ms)
                if time.monotonic() - last_saved >= self.settings.save_reference_s:
                    last_saved = time.monotonic()
                    self._save_reference()
            except Exception:  # one camera's failure must not end its loop
                logger.exception("camera %s: analysis failed", self.camera.id, extra={"camera": self.camera.id})
                self._stop.wait(1.0)

    def _report(self, change: Change, wall_ms: int) -> None:
        snapshot = self.snapshots.save(change, wall_ms)
        features = change.transition.features
        self.health = CameraHealth(
            camera=self.camera.id,
            state=change.state,
            since_ms=wall_ms,
            features=features.pairs() if features else (),
            snapshot=snapshot,
        )
        log = logger.info if change.state is CameraState.OK else logger.warning
        log(
            "camera %s: %s (%s)",
            self.camera.id,
            change.state.value,
            change.transition.reason,
            extra={"camera": self.camera.id},
        )
        self.sink.publish(self.health)

    def _reference_path(self) -> Path | None:
        return self.reference_dir / f"{self.camera.id}.npz" if self.reference_dir else None

    def _save_reference(self) -> None:
        path = self._reference_path()
        if path is None or self.analyzer.state is not CameraState.OK:
            return  # only a healthy view is worth keeping
        arrays = {
            f"{mode}.{name}": value
            for mode, ref in self.analyzer.references.items()
            if ref.ready
            for name, value in ref.to_arrays().items()
        }
        if not arrays:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp.npz")
            np.savez_compressed(tmp, allow_pickle=False, **arrays)
            os.replace(tmp, path)
        except OSError as exc:
            logger.warning(
                "camera %s: cannot save reference view: %s", self.camera.id, exc, extra={"camera": self.camera.id}
            )

    def _load_reference(self) -> None:
        path = self._reference_path()
        if path is None or not path.is_file():
            return
        learn = self.analyzer.settings.learn_frames
        try:
            with np.load(path) as data:
                modes: dict[str, dict[str, np.ndarray]] = {}
                for key in data.files:
                    mode, _, name = key.partition(".")
                    modes.setdefault(mode, {})[name] = data[key]
            for mode, arrays in modes.items():
                self.analyzer.references[mode] = Reference.from_arrays(arrays, learn)
            logger.info(
                "camera %s: reference views %s loaded from %s",
                self.camera.id,
                sorted(modes),
                path,
                extra={"camera": self.camera.id},
            )
        except (OSError, ValueError) as exc:
            self.analyzer.references.clear()
            logger.warning(
                "camera %s: ignoring saved reference %s: %s",
                self.camera.id,
                path,
                exc,
                extra={"camera": self.camera.id},
            )

    def _delete_reference(self) -> None:
        path = self._reference_path()
        if path is not None:
            path.unlink(missing_ok=True)


def _default_worker(camera: Camera, queue_size: int) -> FeedWorker:
    return FeedWorker(camera.id, camera.url, camera.analysis_fps, queue_size=queue_size)


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """How often health metrics go to InfluxDB, and how much is kept while it is down."""

    every_s: float = 10.0
    max_backlog: int = 50_000  # lines; the oldest are dropped beyond this


class InfluxHealthWriter:
    """Write every camera's `camera_health` point periodically; keep a bounded backlog while InfluxDB is down."""

    def __init__(self, client: InfluxClient, site_id: str, settings: MetricsSettings | None = None) -> None:
        self.client = client
        self.site_id = site_id
        self.settings = settings or MetricsSettings()
        self.backlog: deque[str] = deque(maxlen=self.settings.max_backlog)
        self.written = 0
        self.failed = 0

    def collect(self, runners: Iterable[CameraRunner], ts_ms: int) -> None:
        """Add one point per camera that has a state."""
        for runner in runners:
            health = runner.health
            if health is None:
                continue
            features = runner.analyzer.features
            values = dict(features.pairs()) if features is not None else {}
            self.backlog.append(
                health_line(self.site_id, runner.camera.id, health.state, runner.counters(), values, ts_ms)
            )

    def flush(self) -> bool:
        """Write the backlog; return True if it is empty afterwards."""
        while self.backlog:
            batch = [self.backlog[i] for i in range(min(5000, len(self.backlog)))]
            try:
                self.client.write_lines(batch)
            except SinkRejected as exc:
                logger.error("InfluxDB refused %d camera_health lines, dropped: %s", len(batch), exc)
                self.failed += len(batch)
            except SinkUnavailable as exc:
                logger.warning("InfluxDB unavailable, %d camera_health lines kept: %s", len(self.backlog), exc)
                return False
            else:
                self.written += len(batch)
            for _ in batch:
                self.backlog.popleft()
        return True


@dataclass
class VideoService:
    """All cameras of a site: runners, health publishing, metrics, and a periodic refresh."""

    site_id: str
    runners: dict[str, CameraRunner]
    publisher: MqttHealthPublisher | None = None
    influx: InfluxHealthWriter | None = None
    refresh_s: float = 60.0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start every camera and the periodic metrics/refresh thread."""
        if self.publisher is not None:
            self.publisher.start()
        for runner in self.runners.values():
            runner.start()
        self._thread = threading.Thread(target=self._periodic, name="video-periodic", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop cameras, flush metrics, disconnect."""
        self._stop.set()
        for runner in self.runners.values():
            runner.stop()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
        if self.influx is not None:
            self.influx.collect(self.runners.values(), int(time.time() * 1000))
            self.influx.flush()
            self.influx.client.close()
        if self.publisher is not None:
            self.publisher.stop()

    def rebaseline(self, camera: str) -> bool:
        """Re-baseline one camera; return False if it is unknown."""
        runner = self.runners.get(camera)
        if runner is None:
            return False
        runner.rebaseline()
        return True

    def status(self) -> dict[str, dict[str, object]]:
        """Every camera's health and counters, for the HTTP status page."""
        out: dict[str, dict[str, object]] = {}
        for camera, runner in self.runners.items():
            health = runner.health
            c = runner.counters()
            out[camera] = {
                "state": health.state.value if health else None,
                "since_ms": health.since_ms if health else None,
                "snapshot": health.snapshot if health else None,
                "features": dict(health.features) if health else {},
                "frames": c.frames,
                "analysed": c.analysed,
                "dropped": c.dropped,
                "reconnects": c.reconnects,
                "fps": round(c.fps, 2),
                "lag_s": round(c.lag_s, 3),
                "connected": runner.worker.stats.connected,
            }
        return out

    def _periodic(self) -> None:
        every = self.influx.settings.every_s if self.influx else self.refresh_s
        last_refresh = time.monotonic()
        while not self._stop.wait(every):
            try:
                if self.influx is not None:
                    self.influx.collect(self.runners.values(), int(time.time() * 1000))
                    self.influx.flush()
                if self.publisher is not None and time.monotonic() - last_refresh >= self.refresh_s:
                    last_refresh = time.monotonic()
                    self.publisher.refresh()
            except Exception:
                logger.exception("periodic metrics/refresh failed")
