"""Coverage geometry against cases computed by hand (expected values derived in the comments)."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import Point, Polygon

from alerts.coverage import geometry as g
from core.config import Camera

TOL = 0.02  # metres: the arc is drawn in 1° chords and slivers below 1 cm are dropped

FENCE = g.boundary_line([(0, 0), (200, 0)], closed=False)


def approx(intervals: tuple[tuple[float, float], ...], expected: list[tuple[float, float]]) -> None:
    assert len(intervals) == len(expected), intervals
    for (a, b), (ea, eb) in zip(intervals, expected, strict=True):
        assert a == pytest.approx(ea, abs=TOL) and b == pytest.approx(eb, abs=TOL), intervals


def test_bearings_are_compass_bearings() -> None:
    north, east = g.bearing_xy(0), g.bearing_xy(90)
    assert north == pytest.approx((0.0, 1.0)) and east == pytest.approx((1.0, 0.0))
    assert g.bearing_xy(225) == pytest.approx((-math.sqrt(0.5), -math.sqrt(0.5)))


def test_sector_edge_exactly_on_a_fence_corner() -> None:
    # Fence (0,0)→(100,0)→(100,100): 0–100 m along the bottom, 100–200 m up the side.
    # Camera at (50,50) looking east with a 90° field: its edges are the bearings 45° and 135°.
    # The 135° edge runs (50+t, 50−t) and meets the corner (100,0) at t = 50; the 45° edge meets
    # (100,100), the fence's end. So it sees exactly the side, 100–200 m, and nothing of the bottom
    # (every bottom point lies beyond bearing 135°). Corners are 70.7 m away, within the 100 m range.
    fence = g.boundary_line([(0, 0), (100, 0), (100, 100)], closed=False)
    visible = g.visibility((50, 50), 90, 90, 100)
    approx(g.covered_intervals(fence, visible), [(100.0, 200.0)])


def test_occluder_splits_a_view_into_two_intervals() -> None:
    # Camera at (100,−50) looking north, 90° field, 100 m: the edges (±45°) meet the fence y = 0
    # at x = 100 ± 50; (50,0) is 70.7 m away, in range. So without the building: 50–150 m.
    # A building (95..105, −25..−15) sits between: its near face y = −25 is 25 m ahead, so the rays
    # past its corners (±5 m) reach y = 0 (50 m ahead) at x = 100 ± 5·50/25 = 90 and 110.
    # (The far face, 35 m ahead, casts the narrower ±7.1 m.) The fence behind it is hidden although
    # the building does not touch the fence: the view splits into 50–90 and 110–150.
    building = Polygon([(95, -25), (105, -25), (105, -15), (95, -15)])
    visible = g.visibility((100, -50), 0, 90, 100, [building])
    approx(g.covered_intervals(FENCE, visible), [(50.0, 90.0), (110.0, 150.0)])
    assert not visible.contains(Point(100, -10))  # in the shadow, not in the building


def test_occluder_out_of_reach_or_off_to_the_side_changes_nothing() -> None:
    behind = Polygon([(95, -70), (105, -70), (105, -60), (95, -60)])
    aside = Polygon([(0, -40), (10, -40), (10, -30), (0, -30)])
    visible = g.visibility((100, -50), 0, 90, 100, [behind, aside])
    approx(g.covered_intervals(FENCE, visible), [(50.0, 150.0)])


def test_non_convex_occluder_hides_what_any_of_its_edges_hides() -> None:
    # An L-shaped wall: arm 1 is the building of the split test (90–110 hidden); arm 2 runs
    # (105..125, −25..−23). Its near face y = −25 spans x 105..125 → 100 + 25·50/25 = 150 at y = 0.
    # Together they hide 90–150, leaving only 50–90.
    wall = Polygon([(95, -25), (125, -25), (125, -23), (105, -23), (105, -15), (95, -15)])
    visible = g.visibility((100, -50), 0, 90, 100, [wall])
    approx(g.covered_intervals(FENCE, visible), [(50.0, 90.0)])


def test_range_limits_the_view() -> None:
    # Camera 30 m in front of the fence, looking at it with 120°, range 50: the fence is seen where
    # it lies within 50 m, x = 100 ± √(50² − 30²) = 100 ± 40 (the field edges at ±52 m are wider).
    visible = g.visibility((100, -30), 0, 120, 50)
    approx(g.covered_intervals(FENCE, visible), [(60.0, 140.0)])


def test_overlapping_cameras_see_overlapping_intervals() -> None:
    # Two all-round cameras on the fence, 100 m apart, 60 m range: 0–110 and 90–200 overlap 20 m.
    a = g.covered_intervals(FENCE, g.visibility((50, 0), 0, 360, 60))
    b = g.covered_intervals(FENCE, g.visibility((150, 0), 0, 360, 60))
    approx(a, [(0.0, 110.0)])
    approx(b, [(90.0, 200.0)])


def test_closed_ring_distances_restart_at_the_first_corner() -> None:
    # Square ring (0,0)→(100,0)→(100,100)→(0,100)→(0,0), 400 m. An all-round camera at the first
    # corner with 30 m range sees 0–30 on the first side and 370–400 on the last: two intervals, not
    # one piece at an ambiguous "0".
    ring = g.boundary_line([(0, 0), (100, 0), (100, 100), (0, 100)], closed=True)
    assert ring.length == 400.0
    approx(g.covered_intervals(ring, g.visibility((0, 0), 0, 360, 30)), [(0.0, 30.0), (370.0, 400.0)])


def test_hfov_360_is_a_full_disc() -> None:
    # Camera in the middle of the square ring: with 80 m it reaches every corner (70.7 m) and sees
    # the whole ring; with 60 m it sees each side where it is within 60 m, ±√(60² − 50²) = ±33.17 m
    # about the side's middle.
    ring = g.boundary_line([(0, 0), (100, 0), (100, 100), (0, 100)], closed=True)
    approx(g.covered_intervals(ring, g.visibility((50, 50), 123, 360, 80)), [(0.0, 400.0)])
    half = math.sqrt(60**2 - 50**2)
    expected = [(100 * k + 50 - half, 100 * k + 50 + half) for k in range(4)]
    approx(g.covered_intervals(ring, g.visibility((50, 50), 0, 360, 60)), expected)
    disc = g.sector_polygon((0, 0), 0, 360, 10)
    assert disc.area == pytest.approx(math.pi * 100, rel=1e-3)
    assert disc.contains(Point(0, 0)) and len(disc.exterior.coords) == 361  # no apex: 360 arc points


def test_range_derived_from_pixel_density() -> None:
    # 1920 px across 90°: range = 1920 / (2·tan 45°·16 px/m) = 60 m. Mounted on the fence at its start,
    # looking along it (bearing 90°): the fence lies on the sector's axis, seen from 0 to 60 m.
    camera = Camera(id="c", url="x", position=(0, 0), heading_deg=90, hfov_deg=90, resolution=(1920, 1080), px_per_m=16)
    assert camera.effective_range_m == pytest.approx(60.0)
    visible = g.visibility(camera.position, camera.heading_deg, camera.hfov_deg, camera.effective_range_m)
    approx(g.covered_intervals(FENCE, visible), [(0.0, 60.0)])


def test_camera_set_back_from_the_fence_misses_its_foot() -> None:
    # 2 m inside the fence looking along it with 40°: the fence enters the view where
    # atan(2/d) = 20°, d = 2/tan 20° = 5.495 m ahead, and is seen to √(100² − 2²) = 99.98 m ahead.
    visible = g.visibility((10, 2), 90, 40, 100)
    approx(g.covered_intervals(FENCE, visible), [(10 + 2 / math.tan(math.radians(20)), 10 + math.sqrt(100**2 - 4))])


def test_camera_on_an_occluder_wall_is_fine_inside_is_refused() -> None:
    block = Polygon([(90, -40), (110, -40), (110, -30), (90, -30)])
    visible = g.visibility((100, -30), 0, 90, 100, [block])  # mounted on the building's north face
    approx(g.covered_intervals(FENCE, visible), [(70.0, 130.0)])
    with pytest.raises(ValueError, match="inside an occluder"):
        g.visibility((100, -35), 0, 90, 100, [block])


def test_invalid_sector_is_refused() -> None:
    with pytest.raises(ValueError):
        g.sector_polygon((0, 0), 0, 0, 10)
    with pytest.raises(ValueError):
        g.sector_polygon((0, 0), 0, 90, 0)


def test_point_at_wraps_past_the_end_of_a_ring() -> None:
    ring = g.boundary_line([(0, 0), (100, 0), (100, 100), (0, 100)], closed=True)
    assert g.point_at(ring, 150) == pytest.approx((100.0, 50.0))
    assert g.point_at(ring, 430) == pytest.approx((30.0, 0.0))
