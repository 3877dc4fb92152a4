"""The MJPEG server: streams OpenCV can read, tampers and clears on demand, disconnects that refuse clients."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from simulators.cameras import Camera, MjpegServer, Nuisances, SceneSpec

FPS = 10.0


@pytest.fixture(scope="module")
def server() -> Iterator[MjpegServer]:
    nz = Nuisances(traffic=1.0, wind=0.5)
    cams = [
        Camera(f"cam{i}", SceneSpec(kind, 30 + i, 240, 136, "day", True, nz, f"cam{i}"), fps=FPS)
        for i, kind in enumerate(("fence_grass", "wall_road"), start=1)
    ]
    with MjpegServer(cams, port=0, seed=4) as srv:
        yield srv


def _open(url: str) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    assert cap.isOpened(), url
    return cap


def _read_until(cap: cv2.VideoCapture, good, timeout: float = 8.0) -> np.ndarray:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ok, img = cap.read()
        assert ok, "stream ended"
        if good(img):
            return img
    raise AssertionError("no matching frame in time")


def test_stream_is_readable_by_opencv_ffmpeg(server: MjpegServer) -> None:
    cap = _open(server.url("cam1"))
    try:
        t0 = time.monotonic()
        frames = [cap.read() for _ in range(10)]
        dt = time.monotonic() - t0
    finally:
        cap.release()
    assert all(ok for ok, _ in frames)
    assert frames[0][1].shape == (136, 240, 3)
    assert dt < 3.0  # about real time (10 frames at 10 fps; the first arrives at once)
    assert not np.array_equal(frames[0][1], frames[-1][1])


def test_listing_and_snapshot(server: MjpegServer) -> None:
    base = f"http://127.0.0.1:{server.port}"
    cams = httpx.get(f"{base}/cams").json()["cameras"]
    assert [c["id"] for c in cams] == ["cam1", "cam2"]
    assert cams[1]["scene"] == "wall_road_day" and cams[1]["url"] == server.url("cam2")
    snap = httpx.get(f"{base}/cam/cam2.jpg")
    assert snap.headers["content-type"] == "image/jpeg"
    img = cv2.imdecode(np.frombuffer(snap.content, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (136, 240, 3)
    assert httpx.get(f"{base}/cam/nope.mjpg").status_code == 404


def test_tamper_and_clear_over_http(server: MjpegServer) -> None:
    base = f"http://127.0.0.1:{server.port}"
    cap = _open(server.url("cam2"))
    try:
        _read_until(cap, lambda im: im.mean() > 40)
        r = httpx.post(f"{base}/cam/cam2/tamper", json={"type": "black", "duration_s": None})
        assert r.status_code == 200
        assert r.json()["event"]["expected_state"] == "video_loss" and r.json()["event"]["end_s"] is None
        _read_until(cap, lambda im: im.mean() < 10)
        states = {c["id"]: c["expected_state"] for c in httpx.get(f"{base}/cams").json()["cameras"]}
        assert states == {"cam1": "ok", "cam2": "video_loss"}
        assert httpx.post(f"{base}/cam/cam2/clear").json()["ended"] == 1
        _read_until(cap, lambda im: im.mean() > 40)
    finally:
        cap.release()
    truth = httpx.get(f"{base}/cam/cam2/truth").json()
    assert [e["type"] for e in truth["events"]] == ["black"] and truth["events"][0]["end_s"] is not None


@pytest.mark.parametrize(
    "body",
    [{"type": "melted"}, {"type": "black", "duration_s": -1}, {"kind": "black"}, {"type": "black", "x": 1}],
)
def test_bad_tamper_requests_get_400(server: MjpegServer, body: dict) -> None:
    r = httpx.post(f"http://127.0.0.1:{server.port}/cam/cam1/tamper", json=body)
    assert r.status_code == 400 and "error" in r.json()


def test_disconnect_drops_streams_and_refuses_clients(server: MjpegServer) -> None:
    base = f"http://127.0.0.1:{server.port}"
    with httpx.stream("GET", server.url("cam1"), timeout=5) as stream:
        it = stream.iter_bytes()
        assert next(it)
        assert httpx.post(f"{base}/cam/cam1/tamper", json={"type": "disconnect", "duration_s": 2.0}).status_code == 200
        t0 = time.monotonic()
        for _ in it:  # drains what was sent, then the server closes the stream
            assert time.monotonic() - t0 < 3
    assert httpx.get(server.url("cam1")).status_code == 503
    assert not cv2.VideoCapture(server.url("cam1"), cv2.CAP_FFMPEG).isOpened()
    time.sleep(2.2)
    cap = _open(server.url("cam1"))
    try:
        assert cap.read()[0]
    finally:
        cap.release()


def test_only_loopback() -> None:
    cam = Camera("c", SceneSpec("fence_grass", 1, 160, 90), fps=5)
    with pytest.raises(ValueError, match="loopback"):
        MjpegServer([cam], host="0.0.0.0")


def test_scripted_events_and_python_control(server: MjpegServer, tmp_path: Path) -> None:
    from simulators.cameras.__main__ import _script

    now = server.media_time()
    path = tmp_path / "script.json"
    path.write_text(f'{{"cam1": [{{"type": "blue", "start_s": {now + 0.3}, "end_s": {now + 60}}}]}}')
    for cam, events in _script(path).items():
        server.schedule(cam, events)
    cap = _open(server.url("cam1"))
    try:
        _read_until(cap, lambda im: im[..., 0].mean() > 120 and im[..., 2].mean() < 60)
        server.clear("cam1")
        _read_until(cap, lambda im: im[..., 0].mean() < 120 or im[..., 2].mean() > 60)
    finally:
        cap.release()
    with pytest.raises(ValueError, match="unknown camera"):
        server.tamper("cam9", "black")
    path.write_text('{"cam1": [{"type": "melted", "start_s": 1}]}')
    with pytest.raises(ValueError, match="bad event"):
        _script(path)
