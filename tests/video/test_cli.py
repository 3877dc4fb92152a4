"""`python -m video.analyze` (a contract with evaluation tooling) and `python -m video.evaluate`."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from core.types import CameraState
from video.analyze import analyze_stream
from video.evaluate import Clip, Event, main, score

ROOT = Path(__file__).resolve().parents[2]


def analyze(*args: str) -> tuple[int, list[dict[str, object]]]:
    proc = subprocess.run(
        [sys.executable, "-m", "video.analyze", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()]


def test_analyze_prints_each_change_as_one_json_line(sim_clips: Path) -> None:
    code, lines = analyze(str(sim_clips / "tamper_covered.avi"), "--camera", "cam0")
    assert code == 0
    assert lines[0] == {"camera": "cam0", "t": 0.0, "state": "ok"}
    assert all(set(line) == {"camera", "t", "state"} and isinstance(line["t"], float) for line in lines)
    occluded = [line for line in lines if line["state"] == "occluded"]
    assert occluded and 12.0 < occluded[0]["t"] <= 22.0  # type: ignore[operator]
    # The end of the file is what the end of a live stream would be: video loss, after the hold time.
    assert lines[-1]["state"] == "video_loss" and lines[-1]["t"] > 30.0  # type: ignore[operator]


def test_analyze_with_evidence_and_snapshots(sim_clips: Path, tmp_path: Path) -> None:
    code, lines = analyze(
        str(sim_clips / "tamper_frozen.avi"), "--camera", "cam1", "--evidence", "--snapshots", str(tmp_path)
    )
    assert code == 0
    frozen = next(line for line in lines if line["state"] == "frozen")
    assert frozen["previous"] == "ok" and frozen["features"]["still"] >= 0.85  # type: ignore[index]
    assert 12.0 < frozen["t"] <= 22.0  # type: ignore[operator]
    assert any(line["state"] == "ok" and line["t"] > 24.0 for line in lines)  # type: ignore[operator]
    assert len(list(tmp_path.glob("cam1_*_frozen.jpg"))) == 1


def test_analyze_reports_an_unreadable_source_as_video_loss(tmp_path: Path) -> None:
    code, lines = analyze(str(tmp_path / "missing.mp4"), "--camera", "x")
    assert code == 2
    assert lines == [{"camera": "x", "t": 0.0, "state": "video_loss"}]


def test_stream_that_disconnects_and_comes_back(sim_server) -> None:  # type: ignore[no-untyped-def]
    stop = threading.Event()
    seen: list[tuple[float, CameraState]] = []

    def consume() -> None:
        for change in analyze_stream(sim_server.url("cam1"), "cam1", 2.0, duration_s=40.0, stop=stop):
            seen.append((change.t, change.state))

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 20
        while not seen and time.monotonic() < deadline:
            time.sleep(0.2)
        assert seen and seen[0][1] is CameraState.OK
        time.sleep(3.0)
        sim_server.tamper("cam1", "disconnect", duration_s=8.0)
        deadline = time.monotonic() + 30
        while (len(seen) < 3 or seen[-1][1] is not CameraState.OK) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        reader.join(timeout=10)
    states = [s for _, s in seen]
    assert states[:3] == [CameraState.OK, CameraState.VIDEO_LOSS, CameraState.OK], seen


def test_evaluate_scores_the_clip_set(sim_clips: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main([str(sim_clips), "--jobs", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("RESULT recall=1.000 in_target=1.000 false_changes=0 clean_minutes=0.5")
    assert any(line.startswith("disconnect  video_loss") for line in out)


def test_score_counts_detections_false_changes_and_wrong_states() -> None:
    clip = Clip("c", Path("c.avi"), "cam", 100.0, 5.0, "s", (), (Event("covered", 30.0, 60.0, CameraState.OCCLUDED),))
    changes = [
        (0.0, CameraState.OK),
        (20.0, CameraState.MOVED),  # before the event: false
        (25.0, CameraState.OK),
        (33.0, CameraState.DEFOCUSED),  # inside, but not what the event causes: wrong
        (36.0, CameraState.OCCLUDED),  # detected, 6 s
        (63.0, CameraState.OK),
        (90.0, CameraState.FROZEN),  # long after: false
        (104.0, CameraState.VIDEO_LOSS),  # past the clip's end (the end of the file): ignored
    ]
    result = score(clip, changes)
    assert [(o.type, o.latency_s, o.first_state) for o in result.outcomes] == [("covered", 6.0, CameraState.DEFOCUSED)]
    assert result.false_changes == [(20.0, CameraState.MOVED), (90.0, CameraState.FROZEN)]
    assert result.wrong_states == [(33.0, CameraState.DEFOCUSED, "covered")]


def test_snapshot_links_use_the_public_url_else_a_reachable_address() -> None:
    from video.__main__ import _public_url, build_parser

    def url(*argv: str) -> str | None:
        return _public_url(build_parser().parse_args(["--site", "s.yaml", *argv]))

    assert url("--http-port", "9103") == "http://127.0.0.1:9103"
    assert url("--http-port", "9103", "--metrics-host", "0.0.0.0") == "http://127.0.0.1:9103"
    assert url("--http-port", "9103", "--http-host", "10.0.0.5") == "http://10.0.0.5:9103"
    assert url("--http-port", "9103", "--public-url", "https://nvr.example/video/") == "https://nvr.example/video"
    assert url("--http-port", "0") is None
