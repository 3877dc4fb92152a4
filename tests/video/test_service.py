"""The analyzer service against a real broker, a real InfluxDB and the simulator's MJPEG cameras."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from prometheus_client import CollectorRegistry

from core import topics
from core.config import parse_site
from core.types import CameraHealth, CameraState
from ingest.influx import InfluxClient, InfluxSettings
from ops.servers import free_port
from tests.conftest import Broker, InfluxTarget
from video.encode import parse_health
from video.service import (
    BrokerSettings,
    CameraRunner,
    InfluxHealthWriter,
    MetricsSettings,
    MqttHealthPublisher,
    SnapshotStore,
    VideoService,
)
from video.web import VideoCollector, make_server, serve_in_thread

pytestmark = pytest.mark.integration


class HealthWatcher:
    """Subscribe to every camera's retained health as the service account."""

    def __init__(self, broker: Broker, site_id: str) -> None:
        self.latest: dict[str, CameraHealth] = {}
        self.history: list[CameraHealth] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.username_pw_set("vigil-service", broker.passwords["vigil-service"])
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe(topics.all_camera_health(site_id), qos=1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        health = parse_health(message.payload)
        with self._lock:
            self.latest[health.camera] = health
            self.history.append(health)

    def wait(self, what: Callable[[dict[str, CameraHealth]], bool], timeout: float) -> dict[str, CameraHealth]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if what(self.latest):
                    return dict(self.latest)
            time.sleep(0.2)
        raise AssertionError(f"timed out; latest health: {self.latest}")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def state_of(camera: str, state: CameraState) -> Callable[[dict[str, CameraHealth]], bool]:
    return lambda latest: camera in latest and latest[camera].state is state


def test_service_reports_health_evidence_and_metrics(  # type: ignore[no-untyped-def]
    broker: Broker, influx_db: InfluxTarget, sim_server, tmp_path: Path
) -> None:
    site_doc = broker.site.model_dump(mode="json")
    site_doc["cameras"] = [
        {"id": "cam1", "url": sim_server.url("cam1"), "range_m": 30, "analysis_fps": 2},
        {"id": "cam2", "url": f"http://127.0.0.1:{free_port()}/cam/none.mjpg", "range_m": 30},
    ]
    site = parse_site(site_doc)
    site_id = site.site.id
    http_port = free_port()
    base_url = f"http://127.0.0.1:{http_port}"
    publisher = MqttHealthPublisher(
        BrokerSettings(port=broker.port, password=broker.passwords["vigil-service"], client_id="video-test"), site_id
    )
    snapshots = SnapshotStore(tmp_path / "snapshots", base_url=base_url)
    influx = InfluxHealthWriter(
        InfluxClient(InfluxSettings(url=influx_db.url, database=influx_db.database)), site_id, MetricsSettings(1.0)
    )
    runners = {c.id: CameraRunner(c, publisher, snapshots, reference_dir=tmp_path / "ref") for c in site.cameras}
    service = VideoService(site_id, runners, publisher, influx, refresh_s=2.0)
    registry = CollectorRegistry()
    registry.register(VideoCollector(service))
    server = make_server("127.0.0.1", http_port, service, snapshots, registry)
    watcher = HealthWatcher(broker, site_id)
    service.start()
    serve_in_thread(server)
    try:
        latest = watcher.wait(
            lambda h: state_of("cam1", CameraState.OK)(h) and state_of("cam2", CameraState.VIDEO_LOSS)(h), 30
        )
        assert latest["cam1"].snapshot is not None and latest["cam1"].snapshot.startswith(base_url)
        time.sleep(6.0)  # the reference view is learned in the first seconds
        sim_server.tamper("cam1", "covered", seed=3)
        covered = watcher.wait(state_of("cam1", CameraState.OCCLUDED), 30)["cam1"]
        features = dict(covered.features)
        assert features["lost"] >= 0.375 and covered.snapshot is not None
        jpeg = httpx.get(covered.snapshot, timeout=5)
        assert jpeg.status_code == 200 and jpeg.headers["content-type"] == "image/jpeg"
        assert jpeg.content[:2] == b"\xff\xd8"
        evidence = httpx.get(covered.snapshot.replace(".jpg", ".json"), timeout=5).json()
        assert evidence["state"] == "occluded" and evidence["previous"] == "ok"

        assert httpx.post(f"{base_url}/cameras/cam1/rebaseline", timeout=5).status_code == 202
        assert httpx.post(f"{base_url}/cameras/nope/rebaseline", timeout=5).status_code == 404
        watcher.wait(state_of("cam1", CameraState.OK), 20)

        status = httpx.get(f"{base_url}/health", timeout=5).json()
        assert status["cam1"]["frames"] > 0 and status["cam2"]["connected"] is False
        metrics = httpx.get(f"{base_url}/metrics", timeout=5).text
        assert 'vigil_video_frames_received_total{camera="cam1"}' in metrics
        assert 'vigil_video_references_relearned_total{camera="cam1"} 0.0' in metrics
        assert 'vigil_video_camera_state{camera="cam2",state="video_loss"} 1.0' in metrics
        assert httpx.get(f"{base_url}/snapshots/cam1/..%2Fsecrets.json", timeout=5).status_code == 404

        deadline = time.monotonic() + 15
        series: list[dict[str, object]] = []
        with InfluxClient(InfluxSettings(url=influx_db.url, database=influx_db.database)) as client:
            while time.monotonic() < deadline and len(series) < 2:
                series = client.query('SELECT last("state"), last("frames") FROM "camera_health" GROUP BY "camera"')
                time.sleep(0.5)
        by_camera = {s["tags"]["camera"]: s["values"][0] for s in series}  # type: ignore[index]
        assert by_camera["cam2"][1] == "video_loss"
        assert by_camera["cam1"][2] > 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the re-baselined view is learned afresh
            reference = runners["cam1"].analyzer.reference
            if reference is not None and reference.ready:
                break
            time.sleep(0.2)
    finally:
        server.shutdown()
        server.server_close()
        service.stop()
        watcher.close()
    assert (tmp_path / "ref" / "cam1.npz").is_file()  # the healthy view is kept for the next start
