"""Serve simulated cameras the way IP cameras do: an MJPEG stream per camera, in real time, on loopback.

    GET  /cam/{id}.mjpg      multipart/x-mixed-replace; boundary=frame  (503 while disconnected)
    GET  /cam/{id}.jpg       one snapshot
    GET  /cams               the cameras, their URLs and expected state now
    GET  /cam/{id}/truth     ground truth so far (the clip JSON format, duration_s = now)
    POST /cam/{id}/tamper    {"type": "covered", "duration_s": 20 | null, "seed": 7}: starts now
    POST /cam/{id}/clear     ends every tamper of that camera now

Media time is seconds since the server started; scripted events use it too. `disconnect` closes that
camera's open streams and answers new ones with 503 until it ends.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from simulators.cameras.camera import Camera
from simulators.cameras.tamper import EXPECTED_STATE, TAMPER_TYPES, TamperEvent

logger = logging.getLogger(__name__)

BOUNDARY = "frame"
MAX_BODY = 4096
_PATH = re.compile(r"^/cam/(?P<id>[A-Za-z0-9][A-Za-z0-9_.-]{0,63})(?P<rest>\.mjpg|\.jpg|/tamper|/clear|/truth)$")


class _Feed:
    """The latest JPEG of one camera, produced in real time while anyone watches."""

    def __init__(self, camera: Camera) -> None:
        self.camera = camera
        self.cond = threading.Condition()
        self.seq = 0
        self.jpeg: bytes | None = None
        self.epoch = 0  # bumped when the camera disconnects: open streams close
        self.clients = 0
        self.connected = True


class MjpegServer:
    """Several simulated cameras behind one loopback HTTP server, with a control endpoint for tampers."""

    def __init__(self, cameras: Sequence[Camera], host: str = "127.0.0.1", port: int = 0, seed: int = 0) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"MJPEG simulator binds to loopback only, not {host}")
        ids = [c.id for c in cameras]
        if len(set(ids)) != len(ids) or not ids:
            raise ValueError(f"need at least one camera and unique ids, got {ids}")
        self.feeds = {c.id: _Feed(c) for c in cameras}
        self.host, self._port = host, port
        self.seed = seed
        self._t0 = time.monotonic()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._count = 0
        self._count_lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> MjpegServer:
        """Bind, start serving and producing frames; returns self."""
        handler = type("Handler", (_Handler,), {"sim": self})
        self._httpd = ThreadingHTTPServer((self.host, self._port), handler)
        self._httpd.daemon_threads = True
        self._t0 = time.monotonic()
        serve = threading.Thread(target=self._httpd.serve_forever, name="mjpeg-http", daemon=True)
        serve.start()
        self._threads.append(serve)
        for feed in self.feeds.values():
            th = threading.Thread(target=self._produce, args=(feed,), name=f"mjpeg-{feed.camera.id}", daemon=True)
            th.start()
            self._threads.append(th)
        logger.info("MJPEG simulator on http://%s:%d/ with cameras %s", self.host, self.port, ", ".join(self.feeds))
        return self

    def stop(self) -> None:
        """Close every stream and stop the server."""
        self._stop.set()
        for feed in self.feeds.values():
            with feed.cond:
                feed.cond.notify_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        for th in self._threads:
            th.join(timeout=5)
        self._threads.clear()

    def __enter__(self) -> MjpegServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    def url(self, camera_id: str) -> str:
        """Stream URL of a camera."""
        return f"http://{self.host}:{self.port}/cam/{camera_id}.mjpg"

    def media_time(self) -> float:
        """Seconds since the server started."""
        return time.monotonic() - self._t0

    # -- control --------------------------------------------------------------------------------------

    def _feed(self, camera_id: str) -> _Feed:
        if camera_id not in self.feeds:
            raise ValueError(f"unknown camera {camera_id!r}; known: {', '.join(self.feeds)}")
        return self.feeds[camera_id]

    def tamper(
        self, camera_id: str, kind: str, duration_s: float | None = None, seed: int | None = None
    ) -> TamperEvent:
        """Start a tamper on a camera now, for duration_s (None: until cleared)."""
        feed = self._feed(camera_id)
        if duration_s is not None and not (math.isfinite(duration_s) and 0 < duration_s <= 86_400):
            raise ValueError(f"duration_s must be in (0, 86400], got {duration_s}")
        if seed is None:
            with self._count_lock:
                self._count += 1
                seed = self.seed * 1000 + self._count
        now = self.media_time()
        event = TamperEvent(now, kind, None if duration_s is None else now + duration_s, seed)
        with feed.cond:
            feed.camera.events = (*feed.camera.events, event)
        self._check_connection(feed, now)
        logger.info("camera %s: tamper %s from %.1f s for %s s", camera_id, kind, now, duration_s)
        return event

    def clear(self, camera_id: str) -> int:
        """End every tamper of a camera now (future ones are dropped); returns how many changed."""
        feed = self._feed(camera_id)
        now = self.media_time()
        changed = 0
        with feed.cond:
            kept = []
            for e in feed.camera.events:
                if e.start_s >= now:
                    changed += 1
                elif e.end_s is None or e.end_s > now:
                    kept.append(replace(e, end_s=now))
                    changed += 1
                else:
                    kept.append(e)
            feed.camera.events = kept
        self._check_connection(feed, now)
        logger.info("camera %s: %d tamper(s) cleared at %.1f s", camera_id, changed, now)
        return changed

    def schedule(self, camera_id: str, events: Iterable[TamperEvent]) -> None:
        """Add scripted events (media times since start) to a camera."""
        feed = self._feed(camera_id)
        with feed.cond:
            feed.camera.events = (*feed.camera.events, *events)

    # -- production -----------------------------------------------------------------------------------

    def _check_connection(self, feed: _Feed, t: float) -> bool:
        up = feed.camera.connected(t)
        with feed.cond:
            if feed.connected and not up:
                feed.epoch += 1
                feed.jpeg = None
                feed.cond.notify_all()
            feed.connected = up
        return up

    def _produce(self, feed: _Feed) -> None:
        cam = feed.camera
        period = 1.0 / cam.fps
        k = 0
        while not self._stop.is_set():
            try:
                now = self.media_time()
                due = k * period
                if due > now:
                    self._stop.wait(due - now)
                    continue
                if now - due > 2 * period:  # fell behind: skip, as a live camera drops frames
                    k = math.floor(now / period)
                    due = k * period
                k += 1
                if not self._check_connection(feed, due) or feed.clients == 0:
                    continue
                data = cam.jpeg(due)
                with feed.cond:
                    if data is not None:
                        feed.jpeg = data
                        feed.seq += 1
                        feed.cond.notify_all()
            except Exception:
                logger.exception("camera %s: frame production failed", cam.id)
                self._stop.wait(period)


def _news(feed: _Feed, seq: int, epoch: int, stop: threading.Event) -> bool:
    return feed.seq != seq or feed.epoch != epoch or stop.is_set()


class _Handler(BaseHTTPRequestHandler):
    sim: MjpegServer
    protocol_version = "HTTP/1.0"
    server_version = "VigilCamSim/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def _json(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> tuple[_Feed, str] | None:
        m = _PATH.match(self.path.split("?", 1)[0])
        if m is None or m["id"] not in self.sim.feeds:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such resource {self.path}"})
            return None
        return self.sim.feeds[m["id"]], m["rest"]

    def do_GET(self) -> None:
        if self.path in ("/cams", "/"):
            self._cams()
            return
        route = self._route()
        if route is None:
            return
        feed, rest = route
        if rest == ".mjpg":
            self._stream(feed)
        elif rest == ".jpg":
            self._snapshot(feed)
        elif rest == "/truth":
            self._json(HTTPStatus.OK, feed.camera.truth(max(self.sim.media_time(), 1e-3)).to_dict())
        else:
            self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"use POST for {rest}"})

    def do_POST(self) -> None:
        route = self._route()
        if route is None:
            return
        feed, rest = route
        cam = feed.camera.id
        if rest == "/clear":
            self._json(HTTPStatus.OK, {"camera": cam, "ended": self.sim.clear(cam)})
            return
        if rest != "/tamper":
            self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"use GET for {rest}"})
            return
        try:
            body = self._body()
            event = self.sim.tamper(cam, body["type"], body.get("duration_s"), body.get("seed"))
        except (ValueError, TypeError, KeyError) as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc), "types": list(TAMPER_TYPES)})
            return
        self._json(
            HTTPStatus.OK,
            {
                "camera": cam,
                "event": {
                    "type": event.type,
                    "start_s": event.start_s,
                    "end_s": event.end_s,
                    "expected_state": EXPECTED_STATE[event.type].value,
                },
            },
        )

    def _body(self) -> dict[str, Any]:
        n = int(self.headers.get("Content-Length") or 0)
        if not 0 < n <= MAX_BODY:
            raise ValueError(f"need a JSON body of 1..{MAX_BODY} bytes")
        body = json.loads(self.rfile.read(n))
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            raise ValueError('body must be a JSON object with a "type"')
        if set(body) - {"type", "duration_s", "seed"}:
            raise ValueError(f"unknown fields {sorted(set(body) - {'type', 'duration_s', 'seed'})}")
        d, s = body.get("duration_s"), body.get("seed")
        if d is not None and (isinstance(d, bool) or not isinstance(d, int | float)):
            raise ValueError("duration_s must be a number or null")
        if s is not None and (isinstance(s, bool) or not isinstance(s, int)):
            raise ValueError("seed must be an integer")
        return body

    def _cams(self) -> None:
        now = self.sim.media_time()
        cams = []
        for cid, feed in self.sim.feeds.items():
            c = feed.camera
            cams.append(
                {
                    "id": cid,
                    "url": self.sim.url(cid),
                    "scene": c.spec.label,
                    "fps": c.fps,
                    "width": c.spec.width,
                    "height": c.spec.height,
                    "expected_state": c.truth(now + 1e-3).state_at(now).value,
                }
            )
        self._json(HTTPStatus.OK, {"media_time_s": now, "cameras": cams})

    def _unavailable(self, feed: _Feed) -> None:
        self.send_response(HTTPStatus.SERVICE_UNAVAILABLE)
        self.send_header("Retry-After", "5")
        self.send_header("Content-Length", "0")
        self.end_headers()
        logger.info("camera %s: refused a client while disconnected", feed.camera.id)

    def _snapshot(self, feed: _Feed) -> None:
        t = self.sim.media_time()
        data = feed.camera.jpeg(t)
        if data is None:
            self._unavailable(feed)
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, feed: _Feed) -> None:
        if not self.sim._check_connection(feed, self.sim.media_time()):
            self._unavailable(feed)
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-cache, no-store")
        self.send_header("Pragma", "no-cache")
        self.end_headers()
        stop = self.sim._stop
        with feed.cond:
            feed.clients += 1
            epoch, last = feed.epoch, feed.seq
        try:
            while not stop.is_set():
                with feed.cond:
                    feed.cond.wait_for(partial(_news, feed, last, epoch, stop), timeout=1.0)
                    if feed.epoch != epoch or stop.is_set():
                        break
                    if feed.seq == last or feed.jpeg is None:
                        continue
                    data, last = feed.jpeg, feed.seq
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                self.wfile.write(head + data + b"\r\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            pass
        finally:
            with feed.cond:
                feed.clients -= 1
            self.close_connection = True
