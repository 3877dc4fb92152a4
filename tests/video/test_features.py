"""Feature extraction on synthetic frames: sizes, invariances, and what each tamper does to the features."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.video.synth import Scene, Tamper
from video.features import (
    PEEK_SIZE,
    Features,
    cell_means,
    cells,
    compare,
    frame_maps,
    glance,
    inspect,
    small_grey,
    working_size,
)
from video.reference import Reference


@pytest.mark.parametrize(
    ("size", "small"),
    [((640, 360), (160, 90)), ((1920, 1080), (160, 90)), ((320, 240), (160, 120)), ((704, 576), (160, 131))],
)
def test_small_grey_reduces_any_size_to_160_wide(size: tuple[int, int], small: tuple[int, int]) -> None:
    image = np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    reduced = small_grey(image)
    assert reduced.shape == (small[1], small[0]) and reduced.dtype == np.uint8
    assert working_size(*size) == small
    assert glance(image, None, None).sample.shape == (PEEK_SIZE[1], PEEK_SIZE[0])


def test_small_grey_is_the_area_mean_of_the_luma() -> None:
    image = np.random.default_rng(2).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    luma = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    exact = cv2.resize(luma, (160, 90), interpolation=cv2.INTER_AREA)
    assert np.abs(small_grey(image).astype(np.float32) - exact).max() <= 1.5


def test_inspect_chroma_tells_ir_from_colour() -> None:
    grey = np.repeat(np.random.default_rng(1).integers(0, 255, (360, 640, 1), dtype=np.uint8), 3, axis=2)
    assert inspect(glance(grey, None, None)).chroma < 0.5
    assert inspect(glance(grey[:, :, 0], None, None)).chroma == 0.0
    colour = grey.copy()
    colour[:, :, 2] = np.clip(colour[:, :, 2].astype(int) + 60, 0, 255)
    assert inspect(glance(colour, None, None)).chroma > 10


def test_glance_measures_the_sample_and_inspect_completes_it() -> None:
    image = np.random.default_rng(3).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    seen = glance(image, None, None)
    sample = cv2.resize(image, PEEK_SIZE, interpolation=cv2.INTER_NEAREST_EXACT)
    ycc = cv2.cvtColor(sample, cv2.COLOR_BGR2YCrCb).astype(np.float64)
    assert seen.luma == pytest.approx(ycc[:, :, 0].mean(), abs=0.01)
    assert not seen.inspected and seen.chroma == 0.0
    full = inspect(seen)
    assert full.inspected and full.contrast == pytest.approx(ycc[:, :, 0].std(), abs=0.01)
    assert full.chroma == pytest.approx(np.abs(ycc[:, :, 1:] - 128).sum(axis=2).mean(), abs=0.01)
    # Not inspected, a glance carries the previous one's contrast, colourfulness and uniformity.
    later = glance(image, full, None)
    assert (later.contrast, later.chroma, later.dominant) == (full.contrast, full.chroma, full.dominant)
    assert not later.inspected


def test_glance_tells_a_change_of_light_from_a_change_of_structure() -> None:
    rng = np.random.default_rng(4)
    image = rng.integers(40, 200, (360, 640, 3), dtype=np.uint8)
    first = glance(image, None, None)
    brighter = glance(np.clip(image.astype(int) + 30, 0, 255).astype(np.uint8), first, None)
    blurred = glance(cv2.GaussianBlur(image, (0, 0), 3.0), first, None)
    assert brighter.motion_cells is not None and brighter.reshaped is not None and blurred.reshaped is not None
    assert min(brighter.motion_cells) > 25 and max(brighter.reshaped) < 1.0
    assert min(blurred.reshaped) > 10


def test_empty_frames_are_refused() -> None:
    with pytest.raises(ValueError):
        working_size(0, 10)
    with pytest.raises(ValueError):
        glance(np.zeros((0, 10, 3), np.uint8), None, None)


def test_cells_and_cell_means_agree() -> None:
    a = np.arange(90 * 160, dtype=np.int64).reshape(90, 160) % 251
    assert cells(a).shape == (16, 22 * 40)
    np.testing.assert_allclose(cell_means(a.astype(np.uint8)), cells(a).mean(axis=1))


def learned(frames: list[np.ndarray]) -> Reference:
    ref = Reference(learn_frames=len(frames))
    previous = None
    for frame in frames:
        seen = glance(frame, previous, ref.noise)
        maps = frame_maps(small_grey(frame))
        measured = compare(seen, maps, None, ref)
        ref.update(maps, 0.0, measured.fine_ratio)
        if seen.motion_cells is not None:
            ref.track_noise(seen.motion_cells, 0.1, 0.1, 0.1)
        previous = seen
    assert ref.ready
    return ref


@pytest.fixture(scope="module")
def scene() -> Scene:
    return Scene(seed=4, fps=2.0, nuisances=())


@pytest.fixture(scope="module")
def reference(scene: Scene) -> Reference:
    return learned([scene.frame(i / 2) for i in range(12)])


def measure(ref: Reference, frame: np.ndarray, previous: np.ndarray) -> Features:
    seen = glance(frame, glance(previous, None, None), ref.noise)
    return compare(seen, frame_maps(small_grey(frame)), small_grey(previous), ref).features


def test_same_scene_matches_its_reference(scene: Scene, reference: Reference) -> None:
    f = measure(reference, scene.frame(10.0), scene.frame(9.5))
    assert f.voting >= 12
    assert f.overlap > 0.85 and f.lost == 0 and f.blank == 0
    assert 0.8 < f.focus < 1.25 and f.lowfreq > 0.9
    assert f.still == 0  # sensor noise: a live picture never repeats


def test_darker_picture_is_not_blur(scene: Scene, reference: Reference) -> None:
    dark = (scene.frame(10.0).astype(np.float32) * 0.4).astype(np.uint8)
    f = measure(reference, dark, scene.frame(9.5))
    assert f.lost <= 0.125 and f.focus > 0.7 and f.coarse < 0.6


def test_blur_lowers_focus_and_keeps_the_coarse_picture(scene: Scene, reference: Reference) -> None:
    blurred = cv2.GaussianBlur(scene.frame(10.0), (0, 0), 5.0)
    f = measure(reference, blurred, cv2.GaussianBlur(scene.frame(9.5), (0, 0), 5.0))
    assert f.focus < 0.5 and f.lowfreq > 0.8 and f.coarse > 0.7


def test_cover_makes_cells_blank(reference: Reference) -> None:
    covered = Scene(seed=4, fps=2.0, nuisances=(), tampers=(Tamper("cover", 0.0),))
    f = measure(reference, covered.frame(10.0), covered.frame(9.5))
    assert f.lost >= 0.5 and f.blank >= 0.4 and f.changed < f.blank


def test_turned_camera_shows_another_coherent_view(reference: Reference) -> None:
    turned = Scene(seed=4, fps=2.0, nuisances=(), tampers=(Tamper("turn", 0.0),))
    f = measure(reference, turned.frame(10.0), turned.frame(9.5))
    assert f.lost >= 0.375 and f.changed >= 0.33 and f.blank <= 0.2


def test_exact_repeat_is_still(scene: Scene, reference: Reference) -> None:
    frame = scene.frame(10.0)
    f = measure(reference, frame, frame)
    assert f.still == 1.0 and f.motion == 0.0


def test_uniform_picture_is_dominant(reference: Reference) -> None:
    black = np.full((360, 640, 3), 3, np.uint8)
    f = measure(reference, black, black)
    assert f.dominant == 1.0 and f.luma < 5
    caption = np.full((360, 640, 3), (160, 40, 0), np.uint8)
    cv2.putText(caption, "NO VIDEO", (200, 190), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (255, 255, 255), 3)
    assert inspect(glance(caption, None, None)).dominant >= 0.9
    assert measure(reference, caption, caption).dominant >= 0.95


def test_reference_survives_a_round_trip(scene: Scene, reference: Reference) -> None:
    restored = Reference.from_arrays(reference.to_arrays())
    now, before = scene.frame(20.0), scene.frame(19.5)
    a = measure(reference, now, before)
    b = measure(restored, now, before)
    assert a == b


def test_reference_refuses_mismatched_arrays(reference: Reference) -> None:
    arrays = reference.to_arrays()
    arrays["grad"] = arrays["grad"][:, :10]
    with pytest.raises(ValueError):
        Reference.from_arrays(arrays)
    with pytest.raises(ValueError):
        Reference(5).to_arrays()
