"""Interval arithmetic along the perimeter."""

from __future__ import annotations

import pytest

from alerts.coverage.intervals import (
    Run,
    complement,
    intersect,
    merge,
    overlap_length,
    runs,
    split_wrapped,
    total_length,
)


def test_merge_sorts_joins_and_drops_slivers() -> None:
    assert merge([(5, 8), (0, 2), (1, 3), (7.995, 9)], tol=0.01) == ((0, 3), (5, 9))
    assert merge([(0, 0.005), (4, 6)], tol=0.01) == ((4, 6),)
    assert merge([(2, 1)]) == ((1, 2),)


def test_merge_joins_before_dropping() -> None:
    # The 4 mm piece bridges two long ones: it must not be dropped first.
    assert merge([(0, 10), (10.005, 10.009), (10.015, 20)], tol=0.01) == ((0, 20),)


def test_intersect_and_overlap() -> None:
    a = ((0.0, 10.0), (20.0, 30.0))
    b = ((5.0, 25.0),)
    assert intersect(a, b) == ((5.0, 10.0), (20.0, 25.0))
    assert overlap_length(a, b) == 10.0
    assert intersect(a, ((10.0, 20.0),)) == ()


def test_complement() -> None:
    assert complement(((10.0, 20.0), (30.0, 100.0)), 100.0) == ((0.0, 10.0), (20.0, 30.0))
    assert complement((), 50.0) == ((0.0, 50.0),)
    assert complement(((0.0, 50.0),), 50.0) == ()
    assert complement(((0.005, 50.0),), 50.0, tol=0.01) == ()


def test_runs_name_the_cameras_of_each_piece() -> None:
    pieces = runs({"a": ((0.0, 60.0),), "b": ((40.0, 100.0),)}, 120.0)
    assert pieces == (
        Run(0.0, 40.0, frozenset({"a"})),
        Run(40.0, 60.0, frozenset({"a", "b"})),
        Run(60.0, 100.0, frozenset({"b"})),
        Run(100.0, 120.0, frozenset()),
    )
    assert runs({}, 10.0) == (Run(0.0, 10.0, frozenset()),)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [(10.0, 20.0, ((10.0, 20.0),)), (90.0, 110.0, ((90.0, 100.0), (0.0, 10.0))), (0.0, 100.0, ((0.0, 100.0),))],
)
def test_split_wrapped(start: float, end: float, expected: tuple[tuple[float, float], ...]) -> None:
    assert split_wrapped(start, end, 100.0) == expected


def test_total_length() -> None:
    assert total_length(((0.0, 1.5), (3.0, 4.0))) == 2.5
