"""Reading feeds: media-time sampling, holes in files, bounded queue with drops, reconnects."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from core.backoff import Backoff
from video.reader import FeedUnavailable, FeedWorker, Gap, Sample, Sampler, Silence, is_stream, iter_file, open_capture


def test_sampler_keeps_phase_in_media_time() -> None:
    sampler = Sampler(2.0)
    times = [i / 6 for i in range(13)]  # a 6 fps source for 2 s
    assert [round(t, 3) for t in times if sampler.due(t)] == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_sampler_restarts_after_a_jump() -> None:
    sampler = Sampler(2.0)
    picked = [t for t in (0.0, 0.25, 0.5, 7.3, 7.5, 7.8, 8.0) if sampler.due(t)]
    assert picked == [0.0, 0.5, 7.3, 7.8]


def test_sampler_refuses_bad_rates() -> None:
    with pytest.raises(ValueError):
        Sampler(0)


def test_is_stream() -> None:
    assert is_stream("rtsp://cam/1") and is_stream("HTTP://x/y.mjpg")
    assert not is_stream("/data/clip.avi") and not is_stream("clip.mp4")


def test_missing_file_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(FeedUnavailable):
        open_capture(str(tmp_path / "none.mp4"))


def test_file_samples_at_the_analysis_rate_in_media_time(synth_clip: Path) -> None:
    items = list(iter_file(str(synth_clip), 2.0))
    assert all(isinstance(i, Sample) for i in items)
    assert len(items) == 80
    assert [round(i.t, 2) for i in items[:4]] == [0.0, 0.5, 1.0, 1.5]
    assert items[-1].t == pytest.approx(39.5, abs=0.01)
    first = items[0]
    assert isinstance(first, Sample) and first.image.shape == (360, 640, 3)


def test_a_hole_in_a_file_gives_gaps(gap_clip: Path) -> None:
    items = list(iter_file(str(gap_clip), 2.0))
    gaps = [i.t for i in items if isinstance(i, Gap)]
    samples = [i.t for i in items if isinstance(i, Sample)]
    assert len(gaps) >= 10 and 10.0 <= gaps[0] <= 10.5 and gaps[-1] < 16.0
    assert samples[0] == 0.0 and any(t >= 16.0 for t in samples)


def test_silence_means_missing_frames() -> None:
    silence = Silence(stall_s=2.0)
    silence.observe(Sample(10.0, np.zeros((4, 4, 3), np.uint8), 0))
    assert not silence.missing(11.0) and silence.missing(12.0)
    silence.observe(Gap(11.0, 0, "stream ended"))
    assert silence.missing(11.0)


def test_silence_while_the_first_connection_opens_is_not_missing_frames() -> None:
    silence = Silence(stall_s=2.0, first_s=12.0)
    silence.observe(None)
    assert not silence.missing(5.0) and silence.missing(12.0)  # never heard of by the open timeout
    silence.observe(Sample(6.0, np.zeros((4, 4, 3), np.uint8), 0))
    assert not silence.missing(7.0) and silence.missing(8.0)  # from the first sample on: stall_s
    late = Silence(stall_s=2.0, first_s=12.0)
    late.observe(Gap(3.0, 0, "connection refused"))
    assert late.missing(3.0)  # a camera that cannot be reached is reported at its first failure


def _wait_for(worker: FeedWorker, kind: type, timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = worker.get(0.2)
        if isinstance(item, kind):
            return item
    raise AssertionError(f"no {kind.__name__} within {timeout} s")


def test_worker_reconnects_after_the_camera_drops(sim_server) -> None:  # type: ignore[no-untyped-def]
    worker = FeedWorker("cam1", sim_server.url("cam1"), 2.0, backoff=Backoff(0.2, 1.0), read_timeout_s=3.0)
    worker.start()
    try:
        _wait_for(worker, Sample, 15.0)
        sim_server.tamper("cam1", "disconnect", duration_s=3.0)
        gap = _wait_for(worker, Gap, 10.0)
        assert isinstance(gap, Gap)
        sample = _wait_for(worker, Sample, 20.0)
        assert isinstance(sample, Sample) and sample.image.shape == (180, 320, 3)
        assert worker.stats.reconnects >= 1 and worker.stats.connected
    finally:
        worker.stop(timeout=5.0)


def test_worker_drops_and_counts_when_analysis_lags(sim_server) -> None:  # type: ignore[no-untyped-def]
    worker = FeedWorker("cam1", sim_server.url("cam1"), 6.0, queue_size=2)
    worker.start()
    try:
        deadline = time.monotonic() + 20.0
        while worker.stats.dropped < 3 and time.monotonic() < deadline:
            time.sleep(0.2)  # nobody reads: the reader must keep going and drop the oldest
        assert worker.stats.dropped >= 3
        assert worker.queue.qsize() <= 2
        assert worker.stats.sampled >= worker.stats.dropped + 2
    finally:
        worker.stop(timeout=5.0)


def test_worker_log_lines_carry_the_camera(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A source that cannot be opened is logged with the camera as a field (the JSON log format shows it)."""
    import json
    import logging

    from core.logs import JsonFormatter

    worker = FeedWorker("cam-x", str(tmp_path / "missing.mp4"), 2.0, backoff=Backoff(base_s=0.05, cap_s=0.1))
    with caplog.at_level(logging.INFO, logger="video.reader"):
        worker.start()
        deadline = time.monotonic() + 5
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.02)
        worker.stop(timeout=5)
    record = caplog.records[0]
    assert getattr(record, "camera", None) == "cam-x"
    line = json.loads(JsonFormatter("video").format(record))
    assert line["camera"] == "cam-x" and line["service"] == "video" and "cam-x" in line["message"]
