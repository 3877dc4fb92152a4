"""Perimeter coverage of a site: static per-camera views, and blind / single-covered stretches for a health set.

Distances are metres along the boundary from its first point. On a closed boundary a stretch that runs
through the start point is one stretch whose `end_m` exceeds the perimeter length (it continues round
past the start); `end_xy` is then the point at `end_m - length`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import cached_property

from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from alerts.coverage import geometry
from alerts.coverage.intervals import Interval, merge, overlap_length, runs, split_wrapped, total_length
from core.config import Camera, SiteConfig, Zone
from core.types import CoverageReport, Stretch

_DECIMALS = 3  # millimetres: far below what a camera resolves, and keeps JSON round trips exact


@dataclass(frozen=True, slots=True)
class CameraView:
    """What one camera sees when healthy: its visibility area and the perimeter distances inside it."""

    camera: str
    visible: BaseGeometry
    intervals: tuple[Interval, ...]
    range_m: float

    @property
    def covered_m(self) -> float:
        """Length of perimeter this camera sees."""
        return total_length(self.intervals)


class Coverage:
    """Coverage model of one site's perimeter; geometry is computed once, reports are interval arithmetic."""

    def __init__(
        self, site: SiteConfig, tol: float = geometry.TOLERANCE_M, arc_step_deg: float = geometry.ARC_STEP_DEG
    ):
        if site.perimeter is None:
            raise ValueError(f"site {site.site.id}: no perimeter section")
        self.site = site
        self.tol = tol
        perimeter = site.perimeter
        self.closed = perimeter.closed
        self.line = geometry.boundary_line(perimeter.boundary, perimeter.closed)
        self.length = self.line.length
        self.occluders = {o.id: Polygon(o.polygon) for o in perimeter.occluders}
        for occluder_id, polygon in self.occluders.items():
            if not polygon.is_valid or polygon.area <= 0:
                raise ValueError(f"occluder {occluder_id}: polygon is not a valid area")
        self.zones = {z.id: z for z in perimeter.zones}
        self._zone_intervals = {z.id: self._zone_pieces(z) for z in perimeter.zones}
        self.views = {c.id: self._view(c, arc_step_deg) for c in site.cameras}

    @property
    def cameras(self) -> tuple[str, ...]:
        """Every camera id, in site-file order."""
        return tuple(self.views)

    def _zone_pieces(self, zone: Zone) -> tuple[Interval, ...]:
        end_limit = self.length * 2 if self.closed else self.length
        if zone.start_m >= self.length or zone.end_m > end_limit + self.tol or zone.end_m - zone.start_m > self.length:
            raise ValueError(
                f"zone {zone.id}: {zone.start_m}–{zone.end_m} m does not fit a {self.length:.2f} m perimeter"
            )
        end = min(zone.end_m, end_limit)
        return merge(split_wrapped(zone.start_m, end, self.length))

    def _view(self, camera: Camera, arc_step_deg: float) -> CameraView:
        try:
            visible = geometry.visibility(
                camera.position,
                camera.heading_deg,
                camera.hfov_deg,
                camera.effective_range_m,
                list(self.occluders.values()),
                arc_step_deg,
            )
        except ValueError as exc:
            raise ValueError(f"camera {camera.id}: {exc}") from exc
        intervals = geometry.covered_intervals(self.line, visible, self.tol)
        return CameraView(camera.id, visible, intervals, camera.effective_range_m)

    def point_at(self, distance: float) -> tuple[float, float]:
        """Return the coordinates at a distance along the perimeter (past the end wraps on a closed ring)."""
        x, y = geometry.point_at(self.line, distance)
        return (round(x, _DECIMALS), round(y, _DECIMALS))

    def zones_of(self, start_m: float, end_m: float) -> tuple[str, ...]:
        """Return the ids of the zones a stretch overlaps by more than the tolerance, in site-file order."""
        pieces = merge(split_wrapped(start_m, end_m, self.length))
        return tuple(zid for zid, zone in self._zone_intervals.items() if overlap_length(zone, pieces) > self.tol)

    def priority_of(self, stretch: Stretch) -> int | None:
        """Return the highest priority (lowest number) of the zones a stretch touches, or None."""
        return min((self.zones[z].priority for z in stretch.zones if z in self.zones), default=None)

    def report(self, healthy: Collection[str], now_ms: int) -> CoverageReport:
        """Return blind and single-covered stretches when exactly the `healthy` cameras work."""
        unknown = set(healthy) - set(self.views)
        if unknown:
            raise ValueError(f"unknown cameras: {sorted(unknown)}")
        up = tuple(c for c in self.views if c in healthy)
        down = tuple(c for c in self.views if c not in healthy)
        pieces = runs({c: self.views[c].intervals for c in up}, self.length)
        blind = self._stretches(((r.start, r.end, frozenset()) for r in pieces if not r.cameras), down)
        single = self._stretches(((r.start, r.end, r.cameras) for r in pieces if len(r.cameras) == 1), ())
        return CoverageReport(
            computed_ms=now_ms,
            perimeter_length_m=round(self.length, _DECIMALS),
            healthy=up,
            unhealthy=down,
            blind=blind,
            single=single,
        )

    @cached_property
    def static(self) -> CoverageReport:
        """The design's own coverage: every camera healthy."""
        return self.report(set(self.views), 0)

    def _stretches(
        self, pieces: Iterable[tuple[float, float, frozenset[str]]], suspects: tuple[str, ...]
    ) -> tuple[Stretch, ...]:
        # Join touching pieces with the same cameras, then join across the start point of a ring.
        joined: list[tuple[float, float, frozenset[str]]] = []
        for start, end, cams in pieces:
            if joined and start - joined[-1][1] <= self.tol and joined[-1][2] == cams:
                joined[-1] = (joined[-1][0], end, cams)
            else:
                joined.append((start, end, cams))
        if (
            self.closed
            and len(joined) > 1
            and joined[0][0] <= self.tol
            and joined[-1][1] >= self.length - self.tol
            and joined[0][2] == joined[-1][2]
        ):
            first = joined.pop(0)
            last = joined.pop()
            joined.append((last[0], self.length + first[1], first[2]))
        out = [self._stretch(s, e, cams, suspects) for s, e, cams in joined if e - s >= self.tol]
        return tuple(sorted(out, key=lambda st: st.start_m))

    def _stretch(self, start: float, end: float, cams: frozenset[str], suspects: tuple[str, ...]) -> Stretch:
        pieces = merge(split_wrapped(start, end, self.length))
        # A blind stretch names the failed cameras that would see part of it: their failure opened it.
        named = cams or {c for c in suspects if overlap_length(self.views[c].intervals, pieces) > self.tol}
        start_r, end_r = round(start, _DECIMALS), round(end, _DECIMALS)
        return Stretch(
            start_m=start_r,
            end_m=end_r,
            start_xy=self.point_at(start_r),
            end_xy=self.point_at(end_r),
            zones=self.zones_of(start, end),
            cameras=tuple(c for c in self.views if c in named),
        )
