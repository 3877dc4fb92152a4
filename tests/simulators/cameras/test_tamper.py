"""Every tamper is visibly applied, on the ground-truth timeline, and recovers when it ends."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from core.types import CameraState
from simulators.cameras import EXPECTED_STATE, TAMPER_TYPES, Camera, SceneSpec, TamperEvent
from tests.simulators.cameras.conftest import QUIET, flat_share, sharpness


def _cam(spec: SceneSpec, *events: TamperEvent, fps: float = 5.0) -> Camera:
    return Camera("cam-test", spec, events, fps=fps)


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


def test_expected_states_are_camera_states() -> None:
    assert set(EXPECTED_STATE) == set(TAMPER_TYPES)
    assert {s.value for s in EXPECTED_STATE.values()} <= {s.value for s in CameraState}
    assert EXPECTED_STATE["covered"] is CameraState.OCCLUDED
    assert EXPECTED_STATE["frozen"] is CameraState.FROZEN


def test_black_is_black_with_little_noise(quiet_spec: SceneSpec) -> None:
    cam = _cam(quiet_spec, TamperEvent(2.0, "black", 4.0, seed=1))
    assert cam.frame(1.0).mean() > 40
    assert cam.frame(3.0).mean() < 10
    assert cam.frame(4.0).mean() > 40


def test_blue_is_a_no_video_screen(quiet_spec: SceneSpec) -> None:
    img = _cam(quiet_spec, TamperEvent(2.0, "blue", None, seed=3)).frame(3.0).astype(int)
    b, g, r = img[..., 0].mean(), img[..., 1].mean(), img[..., 2].mean()
    assert b > 120 and b > 2 * r and b > g
    assert (img.min(axis=2) > 200).mean() > 0.005  # white text


def test_frozen_repeats_the_same_jpeg_bytes(busy_spec: SceneSpec) -> None:
    cam = _cam(busy_spec, TamperEvent(3.1, "frozen", 6.0, seed=2))
    before = cam.jpeg(3.0)
    frozen = [cam.jpeg(t) for t in (3.2, 4.0, 5.8)]
    assert frozen[0] == frozen[1] == frozen[2] == before  # the last frame before the freeze
    assert np.array_equal(cam.frame(4.4), cam.frame(3.0))
    assert cam.jpeg(6.0) != before  # live again (noise alone changes every frame)


def test_moved_shows_another_part_of_the_scene_then_turns_back(quiet_spec: SceneSpec) -> None:
    for seed in range(6):
        cam = _cam(quiet_spec, TamperEvent(2.0, "moved", 10.0, seed=seed))
        ref = cam.frame(1.0)
        assert _diff(cam.frame(6.0), ref) > 6, seed
        assert _diff(cam.frame(14.0), ref) < 1.0, seed


def test_defocus_blurs_progressively(quiet_spec: SceneSpec) -> None:
    for seed in range(4):
        cam = _cam(quiet_spec, TamperEvent(2.0, "defocus", None, seed=seed))
        sharp, early, late = sharpness(cam.frame(1.0)), sharpness(cam.frame(2.2)), sharpness(cam.frame(12.0))
        assert late < 0.25 * sharp, seed
        assert early >= late, seed


def test_covered_is_dark_and_flat(quiet_spec: SceneSpec) -> None:
    for seed in range(6):
        cam = _cam(quiet_spec, TamperEvent(2.0, "covered", None, seed=seed))
        ref, img = cam.frame(1.0), cam.frame(6.0)
        assert flat_share(img, ref) > 0.5, seed
        assert img.mean() < ref.mean(), seed


def test_covered_at_night_in_ir_is_bright_and_flat() -> None:
    spec = SceneSpec("fence_grass", 2, 320, 180, "night", True, QUIET)
    cam = _cam(spec, TamperEvent(2.0, "covered", None, seed=0))
    ref, img = cam.frame(1.0), cam.frame(6.0)
    assert flat_share(img, ref) > 0.5


def test_spray_paints_over_most_of_the_view(quiet_spec: SceneSpec) -> None:
    for seed in range(6):
        cam = _cam(quiet_spec, TamperEvent(2.0, "spray", None, seed=seed))
        ref, img = cam.frame(1.0), cam.frame(8.0)
        assert flat_share(img, ref) > 0.5, seed
        changed = (np.abs(img.astype(int) - ref.astype(int)).max(axis=2) > 20).mean()
        assert changed > 0.5, seed


def test_disconnect_gives_no_frames(quiet_spec: SceneSpec) -> None:
    cam = _cam(quiet_spec, TamperEvent(2.0, "disconnect", 5.0))
    assert cam.frame(1.0) is not None and cam.connected(1.0)
    assert cam.frame(3.0) is None and cam.jpeg(3.0) is None and not cam.connected(3.0)
    assert cam.frame(5.0) is not None


def test_tamper_effects_do_not_depend_on_nuisance_randomness(busy_spec: SceneSpec) -> None:
    cam_a = _cam(busy_spec, TamperEvent(2.0, "spray", None, seed=4))
    cam_b = _cam(replace(busy_spec), TamperEvent(2.0, "spray", None, seed=4))
    assert np.array_equal(cam_a.frame(5.0), cam_b.frame(5.0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start_s": 1.0, "type": "melted"}, "unknown tamper"),
        ({"start_s": -1.0, "type": "black"}, "start_s"),
        ({"start_s": 5.0, "type": "black", "end_s": 5.0}, "end_s"),
        ({"start_s": float("nan"), "type": "black"}, "start_s"),
    ],
)
def test_bad_events_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TamperEvent(**kwargs)
