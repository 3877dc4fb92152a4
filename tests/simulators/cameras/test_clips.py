"""Clip files: readable by OpenCV's FFmpeg backend with the right frames and rate; the evaluation set plan."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from simulators.cameras import TAMPER_TYPES, ClipSpec, Nuisances, SceneSpec, TamperEvent, load_truth, plan_clip_set
from simulators.cameras.__main__ import main
from simulators.cameras.clips import AFTER_SWITCH_TYPES, WARMUP_S, frames_in, write_clip


def _read(path: Path) -> tuple[list[np.ndarray], float, float]:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    assert cap.isOpened(), path
    fps, count = cap.get(cv2.CAP_PROP_FPS), cap.get(cv2.CAP_PROP_FRAME_COUNT)
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    return frames, fps, count


def _spec(*events: TamperEvent, fps: float = 5.0, duration: float = 6.0) -> ClipSpec:
    nz = Nuisances(traffic=1.5, clouds=1.0, wind=1.0, osd=True)
    return ClipSpec(
        "c1", "cam9", SceneSpec("gate_parking", 9, 240, 136, "day", True, nz, "cam9"), duration, fps, events
    )


def test_clip_is_readable_with_the_right_frames_and_rate(tmp_path: Path) -> None:
    spec = _spec(TamperEvent(3.0, "frozen", 5.0, 1), fps=8.0)
    r = write_clip(spec, tmp_path)
    frames, fps, count = _read(tmp_path / r.video)
    assert r.frames == len(frames) == count == 48
    assert fps == pytest.approx(8.0)
    assert frames[0].shape == (136, 240, 3)
    # Frozen from 3.0 s (frame 24) to 5.0 s: frames 23..39 decode identically (same JPEG), then it moves again.
    assert all(np.array_equal(frames[23], f) for f in frames[24:40])
    assert not np.array_equal(frames[22], frames[23])
    assert not np.array_equal(frames[39], frames[40])
    truth = load_truth(tmp_path / r.truth)
    assert (truth.fps, truth.duration_s, truth.width, truth.height) == (8.0, 6.0, 240, 136)
    assert truth.events[0].type == "frozen" and truth.events[0].expected_state.value == "frozen"


def test_disconnected_clip_ends_where_the_stream_dropped(tmp_path: Path) -> None:
    spec = _spec(TamperEvent(2.5, "disconnect", None, 1))
    assert frames_in(spec) == 13  # frames at 0.0 .. 2.4 s
    r = write_clip(spec, tmp_path)
    frames, _, _ = _read(tmp_path / r.video)
    assert len(frames) == 13
    truth = load_truth(tmp_path / r.truth)
    assert truth.duration_s == 6.0 and truth.events[0].end_s is None


def test_tamper_shows_in_the_file(tmp_path: Path) -> None:
    r = write_clip(_spec(TamperEvent(3.0, "black", None, 1)), tmp_path)
    frames, _, _ = _read(tmp_path / r.video)
    assert frames[10].mean() > 40 and frames[20].mean() < 10


def test_evaluation_set_plan() -> None:
    specs = plan_clip_set(seed=3, count=3)
    tamper = [s for s in specs if s.group == "tamper"]
    clean = [s for s in specs if s.group == "clean"]
    per_type = Counter(s.events[0].type for s in tamper)
    assert per_type == {t: 3 + (t in AFTER_SWITCH_TYPES) for t in TAMPER_TYPES}
    # The scene tampers also come once soon after a day/night switch, at dawn and at dusk.
    switched = [s for s in tamper if s.scene.nuisances.ir_switch_s is not None]
    assert sorted(s.events[0].type for s in switched) == sorted(AFTER_SWITCH_TYPES)
    assert {s.scene.lighting for s in switched} == {"dawn", "dusk"}
    for s in switched:
        assert s.scene.nuisances.ir_switch_s is not None
        assert 0 < s.events[0].start_s - s.scene.nuisances.ir_switch_s <= 40
    for typ in TAMPER_TYPES:
        of_type = [s for s in tamper if s.events[0].type == typ]
        assert len({s.scene.kind for s in of_type}) >= 3, typ
        assert {"day", "night"} <= {s.scene.lighting for s in of_type} | {"day"}, typ
    assert {s.scene.lighting for s in tamper} >= {"day", "night"}
    for s in tamper:
        e = s.events[0]
        assert e.start_s >= WARMUP_S and 60 <= s.duration_s <= 120 and 5 <= s.fps <= 10
        assert e.end_s is None or e.end_s < s.duration_s
    assert all(not s.events for s in clean)
    assert sum(s.duration_s for s in clean) >= 30 * 60
    names = set()
    for s in clean:
        names |= set(s.scene.nuisances.names(s.scene.lighting, s.scene.ir_night))
    for needed in ("ir_switch", "headlights", "trucks", "rain", "cloud_shadows", "swaying_trees", "night_ir", "dusk"):
        assert needed in names, needed
    assert len({s.name for s in specs}) == len(specs)
    assert plan_clip_set(seed=3, count=3) == specs  # deterministic


def test_quick_set_from_the_cli(tmp_path: Path) -> None:
    assert (
        main(["--log-level", "WARNING", "clips", "--out", str(tmp_path), "--seed", "2", "--quick", "--workers", "2"])
        == 0
    )
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["totals"]["tamper_clips"] == len(TAMPER_TYPES) and index["totals"]["clean_clips"] == 2
    assert index["generation"]["frames_per_s"] > 0
    for clip in index["clips"]:
        truth = load_truth(tmp_path / clip["truth"])
        frames, fps, _ = _read(tmp_path / clip["video"])
        assert len(frames) == clip["frames"] and fps == pytest.approx(truth.fps)
        assert [e.type for e in truth.events] == clip["events"]


def test_single_clip_from_the_cli(tmp_path: Path) -> None:
    args = ["--log-level", "WARNING", "clip", "--out", str(tmp_path), "--name", "x", "--scene", "yard_trees",
            "--lighting", "night", "--size", "192x108", "--fps", "5", "--duration", "4",
            "--event", "covered:1.5:3", "--event", "disconnect:3.5"]  # fmt: skip
    assert main(args) == 0
    truth = load_truth(tmp_path / "x.json")
    assert truth.scene == "yard_trees_night" and "night_ir" in truth.nuisances
    assert [(e.type, e.start_s, e.end_s) for e in truth.events] == [("covered", 1.5, 3.0), ("disconnect", 3.5, None)]
    frames, _, _ = _read(tmp_path / "x.avi")
    assert len(frames) == 18 and frames[0].shape == (108, 192, 3)
