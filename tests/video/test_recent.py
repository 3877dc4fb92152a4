"""Recent views: how a camera's scene looked shortly before trouble began."""

from __future__ import annotations

import numpy as np
import pytest

from tests.video.synth import Scene
from video.analyzer import CameraAnalyzer
from video.features import compare, frame_maps, glance, small_grey
from video.recent import RecentViews, View, reference_of


def _small(level: int) -> np.ndarray:
    return np.full((90, 160), level, np.uint8)


def test_views_are_kept_at_their_spacing_for_their_time() -> None:
    views = RecentViews(every_s=2.0, keep_s=10.0)
    for i in range(25):
        views.offer(i * 0.5, _small(i))
    assert len(views) == 6  # 2 s apart, none older than 10 s: 2, 4, ..., 12
    newest = views.before(12.0)
    assert newest is not None and newest.t == 12.0 and int(newest.small[0, 0]) == 24
    view = views.before(7.9)
    assert view is not None and view.t == 6.0
    assert views.before(1.0) is None  # 0 s was dropped: older than 10 s
    views.offer(3.0, _small(0))  # media time went back (a restarted file): start over
    assert len(views) == 1


def test_views_are_copies() -> None:
    views = RecentViews(every_s=1.0, keep_s=5.0)
    image = _small(10)
    views.offer(0.0, image)
    image[:] = 200
    view = views.before(0.0)
    assert view is not None and int(view.small.max()) == 10


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        RecentViews(every_s=5.0, keep_s=5.0)


def test_a_view_judges_the_same_scene_as_kept_and_only_cells_with_structure_vote() -> None:
    scene = Scene(seed=22, fps=2.0, nuisances=("people",))
    analyzer = CameraAnalyzer("c1")
    frames = list(scene.frames(40.0))
    for t, frame in frames:
        analyzer.frame(t, frame)
    learned = analyzer.reference
    assert learned is not None
    view = View(30.0, small_grey(frames[60][1]))
    ref = reference_of(view, learned)
    assert ref is reference_of(view, learned)  # built once
    assert ref.ready and ref.fine_ratio is not None and ref.noise == learned.noise
    assert all(learned.valid[i] for i, v in enumerate(ref.valid) if v)
    now = frames[-1][1]
    same = compare(glance(now, None, learned.noise), frame_maps(small_grey(now)), None, ref).features
    assert same.lost < 0.2 and same.focus > 0.8
    other = np.ascontiguousarray(np.fliplr(now))  # another view of it
    moved = compare(glance(other, None, learned.noise), frame_maps(small_grey(other)), None, ref).features
    assert moved.lost > 0.4
