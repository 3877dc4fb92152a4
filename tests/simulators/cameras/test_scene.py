"""The scene renderer: deterministic, every scene type and lighting, nuisances that really change frames."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simulators.cameras import LIGHTINGS, SCENE_KINDS, Nuisances, Pose, Scene, SceneSpec
from tests.simulators.cameras.conftest import QUIET, H, W


def test_same_seed_same_frames_in_any_order(busy_spec: SceneSpec) -> None:
    a, b = Scene(busy_spec), Scene(busy_spec)
    times = [0.0, 3.2, 17.5, 40.0]
    frames_a = [a.render(t) for t in times]
    frames_b = [b.render(t) for t in reversed(times)][::-1]
    for fa, fb in zip(frames_a, frames_b, strict=True):
        assert fa.dtype == np.uint8 and fa.shape == (H, W, 3)
        assert np.array_equal(fa, fb)


def test_other_seed_other_layout(quiet_spec: SceneSpec) -> None:
    a = Scene(quiet_spec).render(1.0)
    b = Scene(replace(quiet_spec, seed=quiet_spec.seed + 1)).render(1.0)
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 10


@pytest.mark.parametrize("kind", SCENE_KINDS)
@pytest.mark.parametrize("lighting", LIGHTINGS)
def test_every_kind_and_lighting_renders_a_plausible_picture(kind: str, lighting: str) -> None:
    img = Scene(SceneSpec(kind, 3, 160, 90, lighting, True, Nuisances(traffic=2.0))).render(12.0)
    assert img.shape == (90, 160, 3)
    assert 15 < img.mean() < 220  # auto-exposure keeps it neither black nor white
    assert img.std() > 8  # there is a scene, not a flat field


def test_night_ir_is_greyscale_and_night_colour_is_not() -> None:
    nz = replace(QUIET, traffic=3.0, rain=1.0)  # headlights, tail lamps and rain are grey in IR too
    ir_scene = Scene(SceneSpec("wall_road", 4, 160, 90, "night", True, nz))
    for t in np.arange(0.0, 60.0, 5.0):
        ir = ir_scene.render(float(t)).astype(int)
        assert np.abs(ir[..., 0] - ir[..., 2]).max() <= 1
    colour = Scene(SceneSpec("wall_road", 4, 160, 90, "night", False, QUIET)).render(5.0).astype(int)
    assert np.abs(colour[..., 0] - colour[..., 2]).mean() > 1


def test_dusk_ir_switch_turns_grey_abruptly() -> None:
    nz = replace(QUIET, ir_switch_s=20.0)
    scene = Scene(SceneSpec("yard_trees", 8, 160, 90, "dusk", True, nz))
    before, just_before, after = (scene.render(t).astype(int) for t in (15.0, 19.8, 20.2))
    assert np.abs(before[..., 0] - before[..., 2]).mean() > 2  # colour
    assert np.abs(after[..., 0] - after[..., 2]).max() <= 1  # IR greyscale
    step = np.abs(after.mean(axis=2) - just_before.mean(axis=2)).mean()
    drift = np.abs(just_before.mean(axis=2) - before.mean(axis=2)).mean()
    assert step > drift  # the switch is a jump, not the slow dusk drift


def test_sensor_noise_changes_every_frame_but_a_quiet_scene_does_not(quiet_spec: SceneSpec) -> None:
    quiet = Scene(quiet_spec)
    assert np.array_equal(quiet.render(1.0), quiet.render(2.0))
    noisy = Scene(replace(quiet_spec, nuisances=replace(QUIET, noise=1.0)))
    diff = np.abs(noisy.render(1.0).astype(int) - noisy.render(1.2).astype(int))
    assert 0.5 < diff.mean() < 6


@pytest.mark.parametrize("nuisance", ["clouds", "rain", "wind", "traffic", "drift"])
def test_each_nuisance_moves_pixels(quiet_spec: SceneSpec, nuisance: str) -> None:
    value = 2.0 if nuisance == "traffic" else 1.5
    scene = Scene(replace(quiet_spec, nuisances=replace(QUIET, **{nuisance: value})))
    frames = [scene.render(t).astype(int) for t in np.arange(0, 120, 4.0)]
    changed = max(np.abs(f - frames[0]).mean() for f in frames[1:])
    assert changed > 0.3, nuisance


def test_big_vehicles_cover_a_lot_of_the_frame_only_briefly() -> None:
    nz = replace(QUIET, traffic=3.0, trucks=3.0)
    scene = Scene(SceneSpec("wall_road", 21, 160, 90, "day", True, nz))
    empty = Scene(SceneSpec("wall_road", 21, 160, 90, "day", True, replace(nz, traffic=0.0)))
    base = empty.render(0.0).astype(int)
    covered = [(np.abs(scene.render(t).astype(int) - base).max(axis=2) > 25).mean() for t in np.arange(0, 180, 1.0)]
    assert max(covered) > 0.08  # something big passed close
    assert np.median(covered) < 0.3  # and most of the time the view is clear


def test_pose_turns_the_view(quiet_spec: SceneSpec) -> None:
    scene = Scene(quiet_spec)
    home = scene.render(1.0).astype(int)
    for pose in (Pose(pan=0.4), Pose(tilt=0.3), Pose(roll_deg=25)):
        assert np.abs(scene.render(1.0, pose).astype(int) - home).mean() > 12, pose


def test_bad_spec_is_refused() -> None:
    with pytest.raises(ValueError, match="scene kind"):
        SceneSpec("moon_base")
    with pytest.raises(ValueError, match="lighting"):
        SceneSpec(lighting="noon")
    with pytest.raises(ValueError, match="size"):
        SceneSpec(width=10)
    with pytest.raises(ValueError, match="rain"):
        Nuisances(rain=-1)
