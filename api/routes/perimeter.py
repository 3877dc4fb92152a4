"""Perimeter coverage: the latest live report, the static planning report, and the map as SVG."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import Response

from alerts.coverage.codec import report_to_dict
from alerts.coverage.plan import build_plan, plan_to_dict
from alerts.coverage.render import render_svg
from api.deps import AlertServices, Reader, alerting

router = APIRouter(prefix="/perimeter", tags=["perimeter"])
Alerting = Annotated[AlertServices, Depends(alerting)]


@router.get("/coverage")
def coverage(_: Reader, svc: Alerting) -> dict[str, Any]:
    """The latest coverage report (blind and single-covered stretches); 404 before the first.

    `stale` is true when the coverage monitor is offline, silent or unheard of (`monitor` says which): the
    report is then its last word, and blind spots opened since are not in it.
    """
    report = svc.live.coverage
    if report is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no coverage report received yet")
    monitor = svc.live.coverage_monitor()
    return {**report_to_dict(report), "stale": monitor.stale, "monitor": monitor.to_dict()}


@router.get("/plan")
def plan(_: Reader, svc: Alerting) -> dict[str, object]:
    """The static planning report: what each camera covers alone, and the gap its failure would leave."""
    return plan_to_dict(build_plan(svc.coverage))


@router.get("/map.svg", response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}})
def map_svg(
    _: Reader,
    svc: Alerting,
    width: Annotated[int | None, Query(ge=100, le=8000, description="fit the drawing into this many pixels")] = None,
    height: Annotated[int, Query(ge=100, le=8000, description="... and this height (with width)")] = 1000,
) -> Response:
    """The perimeter drawn with the latest report (the static design before the first report); 1 px/m by default."""
    report = svc.live.coverage or svc.coverage.static
    scale = _fit(svc, width, height) if width else 1.0
    svg = render_svg(svc.live.site, report, coverage=svc.coverage, scale=scale)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


def _fit(svc: AlertServices, width: int, height: int) -> float:
    """The scale at which the site's drawing (captions aside) fits width × height."""
    key = (svc.live.site_id, width, height)
    if key not in _scales:
        natural = render_svg(svc.live.site, svc.coverage.static, coverage=svc.coverage)
        match = _SIZE.search(natural)
        w, h = (float(match.group(1)), float(match.group(2)) - _CAPTION) if match else (width, height)
        _scales[key] = max(0.01, min(width / max(w, 1.0), height / max(h, 1.0)))
    return _scales[key]


_SIZE = re.compile(r'<svg [^>]*viewBox="0 0 ([0-9.]+) ([0-9.]+)"')
_CAPTION = 36.0  # render_svg's two caption lines below the drawing, in pixels at any scale
_scales: dict[tuple[str, int, int], float] = {}
