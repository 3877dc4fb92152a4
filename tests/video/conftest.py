"""Fixtures for the video tests: synthetic clips, simulator clips, and a simulated MJPEG camera server."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.video.synth import Scene, Tamper, write_clip
from video.reader import quiet_backend_logs

ROOT = Path(__file__).resolve().parents[2]
quiet_backend_logs()


@pytest.fixture(scope="session")
def synth_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40 s H.264 clip of a synthetic scene at 4 fps: clean, then covered from 20 s to the end."""
    path = tmp_path_factory.mktemp("synth") / "covered.mp4"
    scene = Scene(seed=3, fps=4.0, nuisances=("people", "clouds"), tampers=(Tamper("cover", 20.0),))
    return write_clip(path, scene, 40.0)


@pytest.fixture(scope="session")
def gap_clip(tmp_path_factory: pytest.TempPathFactory, synth_clip: Path) -> Path:
    """The synthetic clip re-timed with a 6 s hole after 10 s (a recording with missing frames)."""
    path = tmp_path_factory.mktemp("gap") / "gap.mkv"
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(synth_clip),
            "-t",
            "20",
            "-vf",
            "setpts='if(gte(N,40),PTS+6/TB,PTS)'",
            "-fps_mode",
            "passthrough",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(path),
        ],
        check=True,
        timeout=120,
    )
    return path


@pytest.fixture(scope="session")
def sim_clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small clip set from the camera simulator: covered, frozen, disconnect, and a clean clip (30 s each)."""
    clips = pytest.importorskip("simulators.cameras.clips")
    scene_mod = pytest.importorskip("simulators.cameras.scene")
    tamper_mod = pytest.importorskip("simulators.cameras.tamper")
    out = tmp_path_factory.mktemp("simclips")
    specs = []
    for i, (kind, start, end) in enumerate(
        [("covered", 12.0, None), ("frozen", 12.0, 24.0), ("disconnect", 20.0, None)]
    ):
        scene = scene_mod.SceneSpec(
            ("fence_grass", "wall_road", "yard_trees")[i], 100 + i, 320, 180, "day", name=f"cam{i}"
        )
        event = tamper_mod.TamperEvent(start, kind, end, seed=7 + i)
        specs.append(clips.ClipSpec(f"tamper_{kind}", f"cam{i}", scene, 30.0, 5.0, (event,), group="tamper"))
    clean = scene_mod.SceneSpec("gate_parking", 200, 320, 180, "dusk", name="cam9")
    specs.append(clips.ClipSpec("clean_dusk", "cam9", clean, 30.0, 5.0))
    clips.write_clip_set(out, specs, workers=2, seed=1)
    return out


@pytest.fixture
def sim_server() -> Iterator[object]:
    """The camera simulator's MJPEG server with one small camera `cam1` (day, light nuisances)."""
    camera_mod = pytest.importorskip("simulators.cameras.camera")
    scene_mod = pytest.importorskip("simulators.cameras.scene")
    server_mod = pytest.importorskip("simulators.cameras.server")
    spec = scene_mod.SceneSpec("fence_grass", 11, 320, 180, "day", name="cam1")
    camera = camera_mod.Camera("cam1", spec, fps=6.0)
    with server_mod.MjpegServer([camera]) as server:
        yield server
