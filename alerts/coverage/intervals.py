"""Interval arithmetic on distances along the perimeter (pure; no geometry library)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

#: A closed interval [start, end] of distance along the perimeter, metres, start <= end.
Interval = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Run:
    """An elementary piece of the perimeter and the cameras that see all of it."""

    start: float
    end: float
    cameras: frozenset[str]


def merge(intervals: Iterable[Interval], tol: float = 0.0) -> tuple[Interval, ...]:
    """Sort and join intervals that overlap or lie within `tol` of each other; drop pieces shorter than `tol`."""
    ordered = sorted((min(a, b), max(a, b)) for a, b in intervals)
    joined: list[list[float]] = []
    for start, end in ordered:
        if joined and start <= joined[-1][1] + tol:
            joined[-1][1] = max(joined[-1][1], end)
        else:
            joined.append([start, end])
    # Join first, then drop: a short piece may be the bridge between two long ones.
    return tuple((a, b) for a, b in joined if b - a >= tol and b > a)


def total_length(intervals: Iterable[Interval]) -> float:
    """Return the summed length of (already merged) intervals."""
    return sum(b - a for a, b in intervals)


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> tuple[Interval, ...]:
    """Return the intersection of two merged interval sets."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i][0], b[j][0])
        end = min(a[i][1], b[j][1])
        if end > start:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def overlap_length(a: Sequence[Interval], b: Sequence[Interval]) -> float:
    """Return the length common to two merged interval sets."""
    return total_length(intersect(a, b))


def complement(intervals: Sequence[Interval], length: float, tol: float = 0.0) -> tuple[Interval, ...]:
    """Return the parts of [0, length] not in the merged `intervals`, dropping gaps shorter than `tol`."""
    out: list[Interval] = []
    cursor = 0.0
    for start, end in intervals:
        if start > cursor:
            out.append((cursor, min(start, length)))
        cursor = max(cursor, end)
    if cursor < length:
        out.append((cursor, length))
    return tuple((a, b) for a, b in out if b - a >= tol and b > a)


def runs(per_camera: Mapping[str, Sequence[Interval]], length: float) -> tuple[Run, ...]:
    """Cut [0, length] at every interval end and name the cameras covering each piece."""
    cuts = {0.0, length}
    for intervals in per_camera.values():
        for start, end in intervals:
            cuts.update(x for x in (start, end) if 0.0 < x < length)
    points = sorted(cuts)
    out: list[Run] = []
    for start, end in itertools.pairwise(points):
        if end <= start:
            continue
        mid = (start + end) / 2
        seen = frozenset(cam for cam, intervals in per_camera.items() if _contains(intervals, mid))
        out.append(Run(start, end, seen))
    return tuple(out)


def _contains(intervals: Sequence[Interval], x: float) -> bool:
    # Merged sets are short (a camera sees the perimeter in a handful of pieces): linear scan is enough.
    return any(a <= x <= b for a, b in intervals)


def split_wrapped(start: float, end: float, length: float) -> tuple[Interval, ...]:
    """Return [start, end] on a ring of `length` as pieces inside [0, length] (end may exceed length)."""
    if end <= length:
        return ((start, end),)
    return ((start, length), (0.0, min(end - length, start)))
