"""The analyzer's small HTTP interface (loopback by default): metrics, status, snapshots, re-baseline.

GET  /metrics                        Prometheus metrics
GET  /health                         every camera's state, counters and last snapshot (JSON)
GET  /snapshots/{camera}/{file}      a stored JPEG snapshot (or its .json evidence)
POST /cameras/{camera}/rebaseline    accept the camera's current view as its scene
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from core.types import CameraState
from video.service import SnapshotStore, VideoService

logger = logging.getLogger(__name__)


class VideoCollector(Collector):
    """Prometheus metrics read from the runners at scrape time (no double bookkeeping)."""

    def __init__(self, service: VideoService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        """Yield the current metric families."""
        received = CounterMetricFamily("vigil_video_frames_received", "Frames decoded", labels=["camera"])
        analysed = CounterMetricFamily("vigil_video_frames_analysed", "Frames analysed", labels=["camera"])
        dropped = CounterMetricFamily(
            "vigil_video_frames_dropped", "Samples dropped because analysis lagged", labels=["camera"]
        )
        reconnects = CounterMetricFamily("vigil_video_reconnects", "Feed reconnect attempts", labels=["camera"])
        relearned = CounterMetricFamily(
            "vigil_video_references_relearned",
            "References replaced by a recent view after a gradual change of light",
            labels=["camera"],
        )
        lag = GaugeMetricFamily("vigil_video_analyzer_lag_seconds", "Age of a frame when analysed", labels=["camera"])
        fps = GaugeMetricFamily("vigil_video_analysis_fps", "Frames analysed per second", labels=["camera"])
        connected = GaugeMetricFamily("vigil_video_feed_connected", "1 while the feed delivers", labels=["camera"])
        state = GaugeMetricFamily(
            "vigil_video_camera_state", "1 for the camera's current state", labels=["camera", "state"]
        )
        for camera, runner in self.service.runners.items():
            c = runner.counters()
            received.add_metric([camera], c.frames)
            analysed.add_metric([camera], c.analysed)
            dropped.add_metric([camera], c.dropped)
            reconnects.add_metric([camera], c.reconnects)
            relearned.add_metric([camera], c.relearned)
            lag.add_metric([camera], c.lag_s)
            fps.add_metric([camera], c.fps)
            connected.add_metric([camera], 1.0 if runner.worker.stats.connected else 0.0)
            current = runner.health.state if runner.health else None
            for s in CameraState:
                state.add_metric([camera, s.value], 1.0 if s is current else 0.0)
        yield from (received, analysed, dropped, reconnects, relearned, lag, fps, connected, state)


def make_server(
    host: str, port: int, service: VideoService, snapshots: SnapshotStore, registry: CollectorRegistry
) -> ThreadingHTTPServer:
    """Build (not start) the HTTP server."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "vigil-video"

        def log_message(self, fmt: str, *args: object) -> None:
            logger.debug("http %s " + fmt, self.client_address[0], *args)

        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = [p for p in self.path.split("?", 1)[0].split("/") if p]
            if parts == ["metrics"]:
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif parts == ["health"]:
                self._send(200, orjson.dumps(service.status()))
            elif len(parts) == 3 and parts[0] == "snapshots":
                path = snapshots.resolve(parts[1], parts[2])
                if path is None:
                    self._send(404, b'{"error": "no such snapshot"}')
                else:
                    kind = "image/jpeg" if path.suffix == ".jpg" else "application/json"
                    self._send(200, path.read_bytes(), kind)
            else:
                self._send(404, b'{"error": "not found"}')

        def do_POST(self) -> None:
            parts = [p for p in self.path.split("?", 1)[0].split("/") if p]
            if len(parts) == 3 and parts[0] == "cameras" and parts[2] == "rebaseline":
                if service.rebaseline(parts[1]):
                    self._send(202, orjson.dumps({"camera": parts[1], "rebaseline": "requested"}))
                else:
                    self._send(404, b'{"error": "unknown camera"}')
            else:
                self._send(404, b'{"error": "not found"}')

    return ThreadingHTTPServer((host, port), Handler)


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    """Run the server in a daemon thread."""
    thread = threading.Thread(target=server.serve_forever, name="video-http", daemon=True)
    thread.start()
    return thread
