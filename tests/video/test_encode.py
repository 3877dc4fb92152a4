"""The health message and the camera_health line: exact outputs, round trip, hostile values."""

from __future__ import annotations

import orjson
import pytest

from core.types import CameraHealth, CameraState
from ingest.lineprotocol import UnencodableValue
from video.encode import FeedCounters, health_line, health_payload, parse_health

HEALTH = CameraHealth(
    camera="cam-01",
    state=CameraState.OCCLUDED,
    since_ms=1_795_000_000_123,
    features=(("blank", 0.8125), ("sharpness", 1.02)),
    snapshot="http://127.0.0.1:9103/snapshots/cam-01/20261118T083320123Z-occluded.jpg",
)
COUNTERS = FeedCounters(frames=1500, analysed=120, dropped=3, reconnects=1, fps=2.0, lag_s=0.05, relearned=2)


def test_health_payload_exact() -> None:
    assert orjson.loads(health_payload(HEALTH)) == {
        "camera": "cam-01",
        "state": "occluded",
        "since_ms": 1_795_000_000_123,
        "since": "2026-11-18T11:06:40.123Z",
        "features": {"blank": 0.8125, "sharpness": 1.02},
        "snapshot": "http://127.0.0.1:9103/snapshots/cam-01/20261118T083320123Z-occluded.jpg",
    }


def test_health_round_trip() -> None:
    assert parse_health(health_payload(HEALTH)) == HEALTH
    plain = CameraHealth("c", CameraState.OK, 5)
    assert parse_health(health_payload(plain)) == plain


@pytest.mark.parametrize(
    "payload",
    [b"", b"[1]", b'{"camera": "c"}', b'{"camera": "c", "state": "broken", "since_ms": 1}', b"\xff"],
)
def test_parse_health_rejects(payload: bytes) -> None:
    with pytest.raises(ValueError):
        parse_health(payload)


def test_health_line_exact() -> None:
    line = health_line("demo", "cam-01", CameraState.OK, COUNTERS, {"overlap": 0.9, "blank": 0.0, "other": 5.0}, 1000)
    assert line == (
        'camera_health,camera=cam-01,site=demo state="ok",state_code=0i,healthy=1i,frames=1500i,analysed=120i,'
        "dropped=3i,reconnects=1i,fps=2.0,lag_s=0.05,relearned=2i,f_overlap=0.9,f_blank=0.0 1000"
    )


def test_health_line_escapes_and_refuses() -> None:
    line = health_line("my site", "cam,1", CameraState.MOVED, COUNTERS, {}, 1)
    assert line.startswith(r"camera_health,camera=cam\,1,site=my\ site state=")
    with pytest.raises(UnencodableValue):
        health_line("s", "bad\ncam", CameraState.OK, COUNTERS, {}, 1)
    with pytest.raises(UnencodableValue):
        health_line("s", "c", CameraState.OK, COUNTERS, {"sharpness": float("nan")}, 1)
