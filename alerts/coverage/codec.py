"""JSON of the coverage report (owned here), and the little this stage reads of a camera health message."""

from __future__ import annotations

import math
from typing import Any, TypeGuard

import orjson

from core import topics
from core.types import CameraState, CoverageReport, Stretch


def coverage_to_json(report: CoverageReport) -> bytes:
    """Encode a coverage report as the JSON published on `vigil/{site}/perimeter/coverage`."""
    return orjson.dumps(report_to_dict(report))


def report_to_dict(report: CoverageReport) -> dict[str, Any]:
    """Return a coverage report as JSON-ready data."""
    return {
        "computed_ms": report.computed_ms,
        "perimeter_length_m": report.perimeter_length_m,
        "healthy": list(report.healthy),
        "unhealthy": list(report.unhealthy),
        "blind": [_stretch_to_dict(s) for s in report.blind],
        "single": [_stretch_to_dict(s) for s in report.single],
    }


def _stretch_to_dict(s: Stretch) -> dict[str, Any]:
    return {
        "start_m": s.start_m,
        "end_m": s.end_m,
        "length_m": round(s.length_m, 3),
        "start_xy": list(s.start_xy),
        "end_xy": list(s.end_xy),
        "zones": list(s.zones),
        "cameras": list(s.cameras),
    }


def coverage_from_json(payload: bytes | bytearray | str) -> CoverageReport:
    """Decode a coverage report; raise ValueError saying what is wrong."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"coverage report is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("coverage report is not a JSON object")
    computed = data.get("computed_ms")
    if not isinstance(computed, int) or isinstance(computed, bool):
        raise ValueError("computed_ms: expected an integer")
    return CoverageReport(
        computed_ms=computed,
        perimeter_length_m=_number(data, "perimeter_length_m"),
        healthy=_strings(data, "healthy"),
        unhealthy=_strings(data, "unhealthy"),
        blind=_stretches(data, "blind"),
        single=_stretches(data, "single"),
    )


def _number(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    if not _finite(value):
        raise ValueError(f"{key}: expected a finite number")
    return float(value)


def _strings(data: dict[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key}: expected a list of strings")
    return tuple(value)


def _xy(data: dict[str, Any], key: str) -> tuple[float, float]:
    value = data.get(key)
    if not isinstance(value, list) or len(value) != 2 or not all(_finite(v) for v in value):
        raise ValueError(f"{key}: expected [x, y] as finite numbers")
    return (float(value[0]), float(value[1]))


def _finite(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _stretches(data: dict[str, Any], key: str) -> tuple[Stretch, ...]:
    items = data.get(key)
    if not isinstance(items, list):
        raise ValueError(f"{key}: expected a list")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"{key}.{i}: expected an object")
        try:
            out.append(
                Stretch(
                    start_m=_number(item, "start_m"),
                    end_m=_number(item, "end_m"),
                    start_xy=_xy(item, "start_xy"),
                    end_xy=_xy(item, "end_xy"),
                    zones=_strings(item, "zones"),
                    cameras=_strings(item, "cameras"),
                )
            )
        except ValueError as exc:
            raise ValueError(f"{key}.{i}.{exc}") from exc
    return tuple(out)


def parse_health_state(site_id: str, topic: str, payload: bytes) -> tuple[str, CameraState | None]:
    """Return (camera, state) of a health message; state None for an empty (cleared) retained payload.

    Raise ValueError for anything else that is not a health message of this site. Only the camera and
    its state matter here; the analyzer owns the rest of the format.
    """
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != topics.ROOT or parts[1] != site_id or parts[2] != "cameras" or not parts[3]:
        raise ValueError(f"not a camera health topic of site {site_id}")
    camera = parts[3]
    if parts[4] != "health" or topics.camera_health(site_id, camera) != topic:
        raise ValueError(f"not a camera health topic of site {site_id}")
    if not payload:
        return camera, None
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    named = data.get("camera", camera)
    if named != camera:
        raise ValueError(f"payload names camera {named!r}, topic names {camera!r}")
    state = data.get("state")
    if not isinstance(state, str):
        raise ValueError("state: expected a string")
    try:
        return camera, CameraState(state)
    except ValueError as exc:
        raise ValueError(f"state: unknown {state!r}") from exc
