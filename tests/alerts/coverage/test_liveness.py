"""Liveness of the coverage monitor: its status codec and how a consumer judges the report's freshness."""

from __future__ import annotations

import orjson
import pytest

from alerts.coverage.liveness import LivenessTracker, MonitorStatus, status_from_json, status_to_json


def online(beat_ms: int, heartbeat_s: float = 10.0) -> bytes:
    return status_to_json(MonitorStatus("online", beat_ms, heartbeat_s, None, beat_ms - 500))


WILL = status_to_json(MonitorStatus("offline", None, 10.0, "connection lost"))


def test_status_round_trip_and_refusals() -> None:
    status = MonitorStatus("online", 1_700_000_000_000, 2.5, None, 1_699_999_999_000)
    assert status_from_json(status_to_json(status)) == status
    assert status_from_json(WILL) == MonitorStatus("offline", None, 10.0, "connection lost", None)
    for bad in (
        b"{",
        b"[]",
        b'{"status": "sleeping"}',
        b'{"status": "online", "heartbeat_s": 0}',
        b'{"status": "online", "heartbeat_s": true}',
        b'{"status": "online", "beat_ms": "soon"}',
    ):
        with pytest.raises(ValueError):
            status_from_json(bad)


def test_fresh_while_beating_silent_after_three_missed_beats() -> None:
    t = LivenessTracker()
    assert t.verdict(0).reason == "no status" and t.verdict(0).stale
    t.on_status(online(999_000, heartbeat_s=2.0), retained=False, now_ms=1_000_000)
    assert not t.verdict(1_006_000).stale  # 3 beats of 2 s: 6 s
    silent = t.verdict(1_006_001)
    assert silent.stale and silent.reason == "silent" and silent.last_beat_ms == 1_000_000
    t.on_status(online(1_007_000, heartbeat_s=2.0), retained=False, now_ms=1_007_000)
    assert not t.verdict(1_007_000).stale


def test_a_retained_beat_counts_from_when_it_was_sent() -> None:
    """A status delivered on subscription may be hours old: its own beat_ms says when the monitor was alive."""
    t = LivenessTracker()
    t.on_status(online(1_000_000), retained=True, now_ms=9_000_000)
    v = t.verdict(9_000_000)
    assert v.stale and v.reason == "silent" and v.last_beat_ms == 1_000_000
    # ... while a live message counts from its arrival (the two hosts' clocks need not agree)
    t.on_status(online(1_000_000), retained=False, now_ms=9_000_000)
    assert not t.verdict(9_000_000).stale


def test_offline_will_and_clean_stop() -> None:
    t = LivenessTracker()
    t.on_status(online(1_000), retained=False, now_ms=1_000)
    t.on_status(WILL, retained=False, now_ms=5_000)
    v = t.verdict(5_001)
    assert v.stale and v.reason == "offline" and v.offline_since_ms == 5_000 and v.last_beat_ms == 1_000
    t.on_status(WILL, retained=False, now_ms=8_000)  # repeated: still offline since the first
    assert t.verdict(8_000).offline_since_ms == 5_000
    t.on_status(online(9_000), retained=False, now_ms=9_000)
    assert not t.verdict(9_000).stale and t.verdict(9_000).offline_since_ms is None
    stopped = orjson.loads(status_to_json(MonitorStatus("offline", 10_000, 10.0, "stopped")))
    t.on_status(orjson.dumps(stopped), retained=True, now_ms=20_000)
    assert t.verdict(20_000).offline_since_ms == 10_000  # retained: from the monitor's own clock
    t.on_status(b"", retained=True, now_ms=21_000)  # cleared by hand: nothing known
    assert t.verdict(21_000).reason == "no status"
