"""SVG picture of the perimeter: boundary, zones, occluders, what each camera sees, blind and single stretches."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape

from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from alerts.coverage.intervals import split_wrapped
from alerts.coverage.model import Coverage
from core.config import SiteConfig
from core.types import CoverageReport, Stretch

_PRIORITY_COLOURS = {1: "#7b1fa2", 2: "#1565c0", 3: "#2e7d32", 4: "#9e9d24", 5: "#757575"}
_MARGIN_M = 15.0


class _Canvas:
    """Site metres to SVG user units: x right, north up."""

    def __init__(self, bounds: tuple[float, float, float, float], scale: float) -> None:
        self.minx, self.miny, self.maxx, self.maxy = bounds
        self.scale = scale
        self.width = (self.maxx - self.minx) * scale
        self.height = (self.maxy - self.miny) * scale

    def xy(self, x: float, y: float) -> str:
        return f"{(x - self.minx) * self.scale:.1f},{(self.maxy - y) * self.scale:.1f}"

    def points(self, coords: Iterable[tuple[float, ...]]) -> str:
        return " ".join(self.xy(c[0], c[1]) for c in coords)


def render_svg(
    site: SiteConfig, report: CoverageReport, *, coverage: Coverage | None = None, scale: float = 1.0
) -> str:
    """Draw the site's perimeter and a coverage report as a standalone SVG document (pure)."""
    cov = coverage or Coverage(site)
    canvas = _Canvas(_bounds(cov), scale)
    unhealthy = set(report.unhealthy)
    body: list[str] = []
    for cam in cov.cameras:
        style = (
            'fill="none" stroke="#c62828" stroke-dasharray="4 3" stroke-width="1"'
            if cam in unhealthy
            else 'fill="#42a5f5" fill-opacity="0.18" stroke="#1e88e5" stroke-width="0.6"'
        )
        body += _polygons(canvas, cov.views[cam].visible, style, f"camera {cam}")
    for occ_id, polygon in cov.occluders.items():
        body += _polygons(canvas, polygon, 'fill="#424242" stroke="#212121"', f"occluder {occ_id}")
    body.append(f'<polyline points="{canvas.points(cov.line.coords)}" fill="none" stroke="#9e9e9e" stroke-width="2"/>')
    for zone_id, zone in cov.zones.items():
        colour = _PRIORITY_COLOURS.get(zone.priority, "#757575")
        title = f"zone {zone_id} {zone.name} ({zone.kind}, priority {zone.priority})"
        body += _lines(canvas, cov, zone.start_m, min(zone.end_m, 2 * cov.length), colour, 11, title, 0.45)
    for s in report.single:
        body += _lines(canvas, cov, s.start_m, s.end_m, "#fb8c00", 4, _title("single", s))
    for s in report.blind:
        body += _lines(canvas, cov, s.start_m, s.end_m, "#e53935", 7, _title("blind", s))
    for camera in site.cameras:
        colour = "#c62828" if camera.id in unhealthy else "#0d47a1"
        x, y = camera.position
        body.append(
            f'<circle cx="{(x - canvas.minx) * scale:.1f}" cy="{(canvas.maxy - y) * scale:.1f}" r="3" fill="{colour}">'
            f"<title>{escape(camera.id)} {escape(camera.name)}</title></circle>"
        )
        body.append(
            f'<text x="{(x - canvas.minx) * scale + 4:.1f}" y="{(canvas.maxy - y) * scale - 4:.1f}" '
            f'font-size="9" font-family="sans-serif" fill="{colour}">{escape(camera.id)}</text>'
        )
    blind_m = sum(s.length_m for s in report.blind)
    caption = (
        f"{site.site.id}: perimeter {report.perimeter_length_m:.0f} m, "
        f"{len(report.healthy)}/{len(report.healthy) + len(report.unhealthy)} cameras healthy, "
        f"blind {blind_m:.1f} m in {len(report.blind)} stretches, {len(report.single)} single-covered"
    )
    legend = "red: blind · orange: single-covered · wide tint: zone (purple P1, blue P2, green P3) · grey: occluder"
    for i, text in enumerate((caption, legend)):
        y = canvas.height + 14 + 14 * i
        body.append(f'<text x="4" y="{y:.1f}" font-size="11" font-family="sans-serif">{escape(text)}</text>')
    height = canvas.height + 36
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{canvas.width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {canvas.width:.1f} {height:.1f}">\n'
        f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n"
    )


def _bounds(cov: Coverage) -> tuple[float, float, float, float]:
    xs = [c[0] for c in cov.line.coords] + [cam.position[0] for cam in cov.site.cameras]
    ys = [c[1] for c in cov.line.coords] + [cam.position[1] for cam in cov.site.cameras]
    areas = [*cov.occluders.values(), *(view.visible for view in cov.views.values())]
    for polygon in areas:
        if polygon.is_empty:
            continue
        minx, miny, maxx, maxy = polygon.bounds
        xs += [minx, maxx]
        ys += [miny, maxy]
    return (min(xs) - _MARGIN_M, min(ys) - _MARGIN_M, max(xs) + _MARGIN_M, max(ys) + _MARGIN_M)


def _polygons(canvas: _Canvas, geometry: BaseGeometry, style: str, title: str) -> list[str]:
    parts: Sequence[BaseGeometry] = getattr(geometry, "geoms", [geometry])
    out = []
    for part in parts:
        if isinstance(part, Polygon) and not part.is_empty:
            path = " ".join(
                "M " + " L ".join(canvas.xy(x, y) for x, y in ring.coords) + " Z"
                for ring in (part.exterior, *part.interiors)
            )
            out.append(f'<path d="{path}" fill-rule="evenodd" {style}><title>{escape(title)}</title></path>')
    return out


def _lines(
    canvas: _Canvas,
    cov: Coverage,
    start: float,
    end: float,
    colour: str,
    width: float,
    title: str,
    opacity: float = 0.9,
) -> list[str]:
    out = []
    for a, b in split_wrapped(start, end, cov.length):
        piece = substring(cov.line, a, b)
        if isinstance(piece, LineString) and piece.length > 0:
            out.append(
                f'<polyline points="{canvas.points(piece.coords)}" fill="none" stroke="{colour}" '
                f'stroke-width="{width}" stroke-opacity="{opacity}" stroke-linecap="butt">'
                f"<title>{escape(title)}</title></polyline>"
            )
    return out


def _title(kind: str, s: Stretch) -> str:
    cams = f", cameras {', '.join(s.cameras)}" if s.cameras else ""
    zones = f", zones {', '.join(s.zones)}" if s.zones else ""
    return f"{kind} {s.start_m:.1f}–{s.end_m:.1f} m ({s.length_m:.1f} m){zones}{cams}"
