"""The ground-truth JSON: exact shape, strict reader, and what a camera reports about itself."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from core.types import CameraState
from simulators.cameras import Camera, SceneSpec, TamperEvent, from_dict, load_truth
from simulators.cameras.truth import KEYS, dump_truth

GOOD = {
    "camera": "cam07",
    "scene": "wall_road_night",
    "seed": 42,
    "fps": 6.0,
    "duration_s": 75.0,
    "width": 480,
    "height": 270,
    "nuisances": ["sensor_noise", "headlights"],
    "events": [
        {"type": "covered", "start_s": 35.5, "end_s": 50.0, "expected_state": "occluded"},
        {"type": "disconnect", "start_s": 60.0, "end_s": None, "expected_state": "video_loss"},
    ],
}


def test_round_trip_is_exact() -> None:
    truth = from_dict(GOOD)
    assert truth.to_dict() == GOOD
    assert list(truth.to_dict()) == list(KEYS)
    assert truth.state_at(10.0) is CameraState.OK
    assert truth.state_at(40.0) is CameraState.OCCLUDED
    assert truth.state_at(55.0) is CameraState.OK
    assert truth.state_at(70.0) is CameraState.VIDEO_LOSS


def _bad(path: str, value: object) -> dict:
    doc = copy.deepcopy(GOOD)
    node: dict = doc
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node[k]  # type: ignore[index]
    if value is KeyError:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        ("camera", "", "camera"),
        ("seed", 1.5, "seed"),
        ("fps", "6", "fps"),
        ("fps", 0, "positive"),
        ("width", True, "width"),
        ("nuisances", "rain", "nuisances"),
        ("extra", 1, "keys"),
        ("events.0.type", "melted", "unknown tamper"),
        ("events.0.expected_state", "frozen", "occluded"),
        ("events.0.end_s", 30.0, "end_s"),
        ("events.0.start_s", float("inf"), "finite"),
        ("events.1.end_s", KeyError, "keys"),
    ],
)
def test_reader_names_the_bad_field(path: str, value: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        from_dict(_bad(path, value))


def test_camera_truth_lists_events_and_nuisances(busy_spec: SceneSpec, tmp_path: Path) -> None:
    cam = Camera("cam-busy", busy_spec, [TamperEvent(40.0, "frozen", 55.0, 1), TamperEvent(70.0, "spray", None, 2)], 6)
    truth = cam.truth(80.0)
    path = tmp_path / "t.json"
    dump_truth(truth, path)
    doc = json.loads(path.read_text())
    assert doc["scene"] == "wall_road_day" and doc["camera"] == "cam-busy" and doc["fps"] == 6.0
    assert doc["events"] == [
        {"type": "frozen", "start_s": 40.0, "end_s": 55.0, "expected_state": "frozen"},
        {"type": "spray", "start_s": 70.0, "end_s": None, "expected_state": "occluded"},
    ]
    for name in ("sensor_noise", "cloud_shadows", "people", "vehicles", "trucks", "rain", "swaying_trees", "osd"):
        assert name in doc["nuisances"]
    assert load_truth(path) == truth
    assert cam.truth(60.0).events == truth.events[:1]  # only events that started within the duration
