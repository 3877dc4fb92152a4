"""Blind and single-covered stretches for a set of healthy cameras, with the cameras behind each."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.coverage.model import Coverage
from core.config import SiteConfig
from core.types import Stretch
from tests.alerts.coverage.helpers import disc, make_site

TOL = 0.05


def line_site() -> SiteConfig:
    # Open fence 0–300 m along y = 0. a sees 0–110, b sees 100–200, c sees 220–280:
    # double 100–110, single a 0–100, b 110–200, c 220–280, static gaps 200–220 and 280–300.
    return make_site(
        [disc("a", 50, 0, 60), disc("b", 150, 0, 50), disc("c", 250, 0, 30)],
        {
            "boundary": [[0, 0], [300, 0]],
            "closed": False,
            "zones": [
                {"id": "gate", "start_m": 100, "end_m": 120, "priority": 1, "kind": "gate"},
                {"id": "fence", "start_m": 0, "end_m": 300, "priority": 3},
            ],
        },
    )


def spans(stretches: tuple[Stretch, ...]) -> list[tuple[float, float, tuple[str, ...]]]:
    return [(s.start_m, s.end_m, s.cameras) for s in stretches]


def assert_spans(stretches: tuple[Stretch, ...], expected: list[tuple[float, float, tuple[str, ...]]]) -> None:
    got = spans(stretches)
    assert len(got) == len(expected), got
    for (a, b, cams), (ea, eb, ecams) in zip(got, expected, strict=True):
        assert a == pytest.approx(ea, abs=TOL) and b == pytest.approx(eb, abs=TOL) and cams == ecams, got


def test_all_healthy_static_gaps_name_no_camera() -> None:
    cov = Coverage(line_site())
    report = cov.report({"a", "b", "c"}, now_ms=123)
    assert report.computed_ms == 123 and report.perimeter_length_m == 300.0
    assert report.healthy == ("a", "b", "c") and report.unhealthy == ()
    assert_spans(report.blind, [(200, 220, ()), (280, 300, ())])
    assert_spans(report.single, [(0, 100, ("a",)), (110, 200, ("b",)), (220, 280, ("c",))])


def test_failure_opens_a_gap_that_names_the_failed_camera() -> None:
    cov = Coverage(line_site())
    report = cov.report({"a", "c"}, now_ms=0)
    assert report.unhealthy == ("b",)
    # b's own part 110–200 joins the static gap 200–220; 280–300 stays a design gap.
    assert_spans(report.blind, [(110, 220, ("b",)), (280, 300, ())])
    assert_spans(report.single, [(0, 110, ("a",)), (220, 280, ("c",))])
    gap = report.blind[0]
    assert gap.start_xy == pytest.approx((110, 0), abs=TOL) and gap.end_xy == pytest.approx((220, 0), abs=TOL)
    assert gap.zones == ("gate", "fence")
    assert gap.length_m == pytest.approx(110, abs=TOL)
    assert cov.priority_of(gap) == 1


def test_overlap_survives_one_failure_but_not_two() -> None:
    cov = Coverage(line_site())
    # Losing a leaves 0–100 blind (b still sees 100–110); losing both blinds 0–220 and names both.
    assert_spans(cov.report({"b", "c"}, 0).blind, [(0, 100, ("a",)), (200, 220, ()), (280, 300, ())])
    assert_spans(cov.report({"c"}, 0).blind, [(0, 220, ("a", "b")), (280, 300, ())])
    assert_spans(cov.report(set(), 0).blind, [(0, 300, ("a", "b", "c"))])


def test_zones_touching_only_at_an_end_are_not_named() -> None:
    cov = Coverage(line_site())
    assert cov.zones_of(0, 100) == ("fence",)
    assert cov.zones_of(99, 101) == ("gate", "fence")


def ring_site(zones: list[dict[str, Any]] | None = None) -> SiteConfig:
    # Square ring (0,0)→(100,0)→(100,100)→(0,100)→back, 400 m. sw at the first corner (30 m) sees
    # 370–400 and 0–30; ne at (100,100) with 100 m sees the two sides that meet there, 100–300.
    return make_site(
        [disc("sw", 0, 0, 30), disc("ne", 100, 100, 100)],
        {"boundary": [[0, 0], [100, 0], [100, 100], [0, 100]], "closed": True, "zones": zones or []},
    )


def test_stretch_through_the_ring_start_is_one_stretch() -> None:
    cov = Coverage(ring_site([{"id": "corner", "start_m": 390, "end_m": 410, "priority": 1, "kind": "gate"}]))
    report = cov.report({"sw", "ne"}, 0)
    assert_spans(report.blind, [(30, 100, ()), (300, 370, ())])
    # sw's coverage 370–400 + 0–30 is one stretch 370–430 (end past the length = round the start).
    assert_spans(report.single, [(100, 300, ("ne",)), (370, 430, ("sw",))])
    wrapped = report.single[1]
    assert wrapped.start_xy == pytest.approx((0, 30), abs=TOL)
    assert wrapped.end_xy == pytest.approx((30, 0), abs=TOL)
    assert wrapped.length_m == pytest.approx(60, abs=TOL)
    assert wrapped.zones == ("corner",)

    failed = cov.report({"ne"}, 0)
    # Everything but ne's 100–300: 300–400 and 0–100 joined round the start.
    assert_spans(failed.blind, [(300, 500, ("sw",))])
    assert failed.blind[0].start_xy == pytest.approx((0, 100), abs=TOL)
    assert failed.blind[0].end_xy == pytest.approx((100, 0), abs=TOL)


def test_whole_ring_blind_is_one_stretch_from_the_start() -> None:
    report = Coverage(ring_site()).report(set(), 0)
    assert_spans(report.blind, [(0, 400, ("sw", "ne"))])
    assert report.single == ()


def test_static_report_and_views() -> None:
    cov = Coverage(line_site())
    assert cov.static.unhealthy == ()
    assert cov.views["a"].covered_m == pytest.approx(110, abs=TOL)
    assert cov.cameras == ("a", "b", "c")


def test_unknown_camera_in_a_report_request_is_a_caller_mistake() -> None:
    with pytest.raises(ValueError, match="unknown cameras"):
        Coverage(line_site()).report({"a", "zz"}, 0)


def test_site_without_perimeter_is_refused() -> None:
    site = make_site([], {"boundary": [[0, 0], [1, 0]]}).model_copy(update={"perimeter": None})
    with pytest.raises(ValueError, match="no perimeter"):
        Coverage(site)


@pytest.mark.parametrize(
    ("closed", "zone"),
    [
        (False, {"id": "z", "start_m": 250, "end_m": 301}),  # past the end of an open line
        (True, {"id": "z", "start_m": 400, "end_m": 410}),  # starts past the end of a ring
        (True, {"id": "z", "start_m": 10, "end_m": 420}),  # longer than the ring
    ],
)
def test_zone_outside_the_perimeter_is_refused(closed: bool, zone: dict[str, Any]) -> None:
    boundary = [[0, 0], [300, 0]] if not closed else [[0, 0], [100, 0], [100, 100], [0, 100]]
    site = make_site([], {"boundary": boundary, "closed": closed, "zones": [zone]})
    with pytest.raises(ValueError, match="zone z"):
        Coverage(site)


def test_camera_inside_an_occluder_is_refused_with_its_id() -> None:
    site = make_site(
        [disc("a", 50, 5, 60)],
        {
            "boundary": [[0, 0], [300, 0]],
            "closed": False,
            "occluders": [{"id": "o", "polygon": [[40, 1], [60, 1], [60, 9], [40, 9]]}],
        },
    )
    with pytest.raises(ValueError, match="camera a"):
        Coverage(site)


def test_report_is_fast() -> None:
    import time

    cov = Coverage(line_site())
    start = time.perf_counter()
    for _ in range(100):
        cov.report({"a", "c"}, 0)
    assert (time.perf_counter() - start) / 100 < 0.05
