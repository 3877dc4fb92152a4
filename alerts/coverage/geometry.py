"""What a camera can see of the perimeter: field-of-view sectors, occluder shadows, distances along a line.

Local site coordinates in metres; bearings in degrees, 0 = +y (north), clockwise.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from shapely import prepare
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from alerts.coverage.intervals import Interval, merge

XY = tuple[float, float]

#: Coverage pieces and gaps shorter than this (metres) are numerical noise, not real stretches.
TOLERANCE_M = 0.01
#: Angular step of the arc approximation; the chord sags r·(1−cos(step/2)) inside the arc (6 mm at 150 m).
ARC_STEP_DEG = 1.0
_SHADOW_STEP_DEG = 10.0


def bearing_xy(bearing_deg: float) -> XY:
    """Return the unit vector of a compass bearing (0 = +y, clockwise)."""
    rad = math.radians(bearing_deg)
    return (math.sin(rad), math.cos(rad))


def _along(origin: XY, bearing_deg: float, distance: float) -> XY:
    dx, dy = bearing_xy(bearing_deg)
    return (origin[0] + dx * distance, origin[1] + dy * distance)


def sector_polygon(
    position: XY, heading_deg: float, hfov_deg: float, range_m: float, step_deg: float = ARC_STEP_DEG
) -> Polygon:
    """Return the field-of-view sector; the arc is inscribed, so it never claims more than the range."""
    if range_m <= 0 or not 0 < hfov_deg <= 360 or step_deg <= 0:
        raise ValueError(f"invalid sector: hfov {hfov_deg}°, range {range_m} m, step {step_deg}°")
    steps = max(2, math.ceil(hfov_deg / step_deg))
    first = heading_deg - hfov_deg / 2
    if hfov_deg >= 360:
        return Polygon([_along(position, first + 360 * i / steps, range_m) for i in range(steps)])
    arc = [_along(position, first + hfov_deg * i / steps, range_m) for i in range(steps + 1)]
    return Polygon([position, *arc])


def edge_shadow(position: XY, a: XY, b: XY, reach_m: float) -> Polygon | None:
    """Return the region hidden behind segment ab as seen from `position`, out to at least `reach_m`."""
    ax, ay = a[0] - position[0], a[1] - position[1]
    bx, by = b[0] - position[0], b[1] - position[1]
    na, nb = math.hypot(ax, ay), math.hypot(bx, by)
    cross = ax * by - ay * bx
    if na < 1e-9 or nb < 1e-9 or abs(cross) < 1e-9 * na * nb:
        return None  # the camera is on the edge's line: it hides nothing
    bearing_a = math.degrees(math.atan2(ax, ay))
    bearing_b = math.degrees(math.atan2(bx, by))
    sweep = (bearing_b - bearing_a + 180.0) % 360.0 - 180.0  # signed, |sweep| < 180
    # Far points on a polygonal arc whose chords stay beyond the reach (and beyond both vertices).
    steps = max(1, math.ceil(abs(sweep) / _SHADOW_STEP_DEG))
    far = max(reach_m, na, nb) / math.cos(math.radians(abs(sweep) / steps / 2)) + 1.0
    arc = [_along(position, bearing_a + sweep * i / steps, far) for i in range(steps, -1, -1)]
    return Polygon([a, b, *arc])


def shadow(position: XY, occluder: Polygon, reach_m: float) -> BaseGeometry:
    """Return everything the occluder hides from `position`: the union of its edges' shadows."""
    coords = list(occluder.exterior.coords)
    pieces = [edge_shadow(position, a, b, reach_m) for a, b in itertools.pairwise(coords)]
    return unary_union([p for p in pieces if p is not None] + [occluder])


def visibility(
    position: XY,
    heading_deg: float,
    hfov_deg: float,
    range_m: float,
    occluders: Sequence[Polygon] = (),
    step_deg: float = ARC_STEP_DEG,
) -> BaseGeometry:
    """Return the area a camera sees: its sector minus the shadows of the occluders in reach."""
    sector = sector_polygon(position, heading_deg, hfov_deg, range_m, step_deg)
    here = Point(position)
    hidden = []
    for occluder in occluders:
        if occluder.contains(here):
            raise ValueError(f"camera at {position} is inside an occluder")
        if occluder.intersects(sector):
            hidden.append(shadow(position, occluder, range_m))
    if not hidden:
        return sector
    return sector.difference(unary_union(hidden))


def boundary_line(boundary: Sequence[XY], closed: bool) -> LineString:
    """Return the perimeter as a line; a closed boundary ends where it starts."""
    points = [(float(x), float(y)) for x, y in boundary]
    if closed and points[0] != points[-1]:
        points.append(points[0])
    line = LineString(points)
    if line.length <= 0:
        raise ValueError("perimeter boundary has zero length")
    return line


def covered_intervals(line: LineString, visible: BaseGeometry, tol: float = TOLERANCE_M) -> tuple[Interval, ...]:
    """Return the distances along `line` that lie inside `visible`, merged, slivers dropped.

    Works segment by segment so a distance is never ambiguous: a closed ring's start point is 0 on
    its first segment and L on its last, and a line that touches itself keeps both passes apart.
    """
    prepare(visible)
    coords = list(line.coords)
    found: list[Interval] = []
    offset = 0.0
    for p, q in itertools.pairwise(coords):
        seg_len = math.dist(p, q)
        if seg_len == 0:
            continue
        segment = LineString([p, q])
        if visible.intersects(segment):
            ux, uy = (q[0] - p[0]) / seg_len, (q[1] - p[1]) / seg_len
            for piece in _line_parts(segment.intersection(visible)):
                ts = [min(seg_len, max(0.0, (x - p[0]) * ux + (y - p[1]) * uy)) for x, y in piece.coords]
                found.append((offset + min(ts), offset + max(ts)))
        offset += seg_len
    return merge(found, tol)


def _line_parts(geometry: BaseGeometry) -> list[LineString]:
    if geometry.is_empty:
        return []
    if isinstance(geometry, LineString):
        return [geometry]
    parts = getattr(geometry, "geoms", ())
    return [line for g in parts for line in _line_parts(g)]


def point_at(line: LineString, distance: float) -> XY:
    """Return the coordinates at `distance` along the line; beyond its end wraps round (closed rings)."""
    length = line.length
    if distance > length:
        distance -= length
    p = line.interpolate(min(max(distance, 0.0), length))
    return (p.x, p.y)
