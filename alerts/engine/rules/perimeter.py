"""Perimeter rules: blind spots (from the coverage report), camera health not ok, camera stream lost.

The engine consumes the coverage stage through its retained MQTT topic (`vigil/{site}/perimeter/coverage`),
not through an in-process hook: the coverage monitor may run as its own process or inside the alert
service, and either way the alert engine sees the same report a dashboard would.

A blind spot's key is minted from its extent when first seen ("blind_spot:12.0-48.5") and then *kept*
while a blind stretch overlaps it, so a stretch that grows or shrinks as cameras come and go stays one
alert (its evidence follows the current extent). Stretches are matched to tracked keys greedily by overlap.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from alerts.coverage.codec import coverage_from_json, parse_health_state
from alerts.engine.model import Condition, Severity
from alerts.engine.rules import RuleOutput
from core.config import SiteConfig
from core.types import CameraHealth, CameraState, CoverageReport, Stretch

logger = logging.getLogger(__name__)


def parse_health(site_id: str, topic: str, payload: bytes) -> tuple[str, CameraHealth | None]:
    """Return (camera, health) of a health message, health None when cleared; raise ValueError if bad."""
    camera, state = parse_health_state(site_id, topic, payload)
    if state is None:
        return camera, None
    data = orjson.loads(payload)
    since = data.get("since_ms")
    if not isinstance(since, int) or isinstance(since, bool) or since < 0:
        since = 0
    snapshot = data.get("snapshot")
    features_in: Any = data.get("features") or {}
    if isinstance(features_in, list):  # [[name, value], ...] as well as {name: value}
        features_in = {f[0]: f[1] for f in features_in if isinstance(f, list) and len(f) == 2}
    features = tuple(
        (str(k), float(v))
        for k, v in (features_in.items() if isinstance(features_in, dict) else ())
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    )
    return camera, CameraHealth(
        camera, state, since, features[:32], snapshot[:500] if isinstance(snapshot, str) else None
    )


@dataclass(frozen=True, slots=True)
class _Arc:
    start: float
    end: float


def _pieces(start: float, end: float, length: float) -> list[_Arc]:
    """A stretch as pieces within [0, length] (one running past the start point of a ring is two)."""
    if length <= 0 or end <= length:
        return [_Arc(start, end)]
    return [_Arc(start, length), _Arc(0.0, end - length)]


def overlap_m(a: tuple[float, float], b: tuple[float, float], length: float) -> float:
    """Length shared by two stretches of a perimeter `length` long."""
    return sum(
        max(0.0, min(x.end, y.end) - max(x.start, y.start)) for x in _pieces(*a, length) for y in _pieces(*b, length)
    )


class PerimeterRules:
    """Camera health and coverage in, conditions out."""

    def __init__(self, site: SiteConfig) -> None:
        self.site = site
        self.cameras = {c.id: c for c in site.cameras}
        self.zones = {z.id: z for z in site.perimeter.zones} if site.perimeter else {}
        self._lock = threading.Lock()
        self._health: dict[str, CameraHealth] = {}

    # -- camera health ---------------------------------------------------------------------------------

    def on_health(self, topic: str, payload: bytes) -> list[RuleOutput]:
        """Record a health message; return the truth of that camera's two scopes. Raise ValueError if bad."""
        camera, health = parse_health(self.site.site.id, topic, payload)
        if camera not in self.cameras:
            raise ValueError(f"health of camera {camera!r}, which is not in the site file")
        with self._lock:
            if health is None:
                self._health.pop(camera, None)
            else:
                self._health[camera] = health
        rules = self.site.alerts
        unhealthy: list[Condition] = []
        lost: list[Condition] = []
        if health is not None and health.state is not CameraState.OK:
            name = self.cameras[camera].name or camera
            evidence = {
                "camera": camera,
                "name": name,
                "state": health.state.value,
                "since_ms": health.since_ms,
                "features": dict(health.features),
                "snapshot": health.snapshot,
            }
            if health.state is CameraState.VIDEO_LOSS:
                lost.append(
                    Condition(
                        f"camera_stream_lost:{camera}",
                        "camera_stream_lost",
                        Severity(rules.camera_lost_severity),
                        f"Camera {name}: video lost",
                        evidence,
                        since_ms=health.since_ms or None,
                    )
                )
            else:
                unhealthy.append(
                    Condition(
                        f"camera_unhealthy:{camera}",
                        "camera_unhealthy",
                        Severity(rules.camera_unhealthy_severity),
                        f"Camera {name}: picture {health.state.value.replace('_', ' ')}",
                        evidence,
                        since_ms=health.since_ms or None,
                    )
                )
        return [
            RuleOutput(f"camera_unhealthy:{camera}", tuple(unhealthy)),
            RuleOutput(f"camera_stream_lost:{camera}", tuple(lost)),
        ]

    # -- blind spots -----------------------------------------------------------------------------------

    def on_coverage(self, payload: bytes, tracked: Mapping[str, Mapping[str, Any]]) -> RuleOutput | None:
        """Blind-spot conditions of a coverage report (None for a cleared report); raise ValueError if bad.

        `tracked` maps the keys of active or pending blind-spot conditions to their evidence.
        """
        if not payload:
            return None
        return self.blind_spots(coverage_from_json(payload), tracked)

    def blind_spots(self, report: CoverageReport, tracked: Mapping[str, Mapping[str, Any]]) -> RuleOutput:
        """Blind-spot conditions of a report, keyed stably across changes of extent."""
        rules = self.site.alerts
        found = [s for s in report.blind if s.length_m > rules.blind_spot_min_m]
        keys = _match(found, tracked, report.perimeter_length_m)
        with self._lock:
            health = dict(self._health)
        conditions = [self._condition(s, key, report, health) for s, key in zip(found, keys, strict=True)]
        return RuleOutput("blind_spot", tuple(conditions))

    def _condition(self, s: Stretch, key: str, report: CoverageReport, health: Mapping[str, CameraHealth]) -> Condition:
        rules = self.site.alerts
        priority = min((self.zones[z].priority for z in s.zones if z in self.zones), default=rules.unzoned_priority)
        severity = next(
            (
                Severity(r.severity)
                for r in rules.blind_spot_severity
                if priority <= r.max_priority and s.length_m >= r.min_length_m
            ),
            Severity(rules.blind_spot_default_severity),
        )
        zone_names = [self.zones[z].name or z for z in s.zones if z in self.zones]
        where = f" in {', '.join(zone_names)}" if zone_names else ""
        cause = f"cameras down: {', '.join(s.cameras)}" if s.cameras else "no camera covers it"
        return Condition(
            key=key,
            kind="blind_spot",
            severity=severity,
            title=f"Blind spot of {s.length_m:.1f} m at {s.start_m:.1f}–{s.end_m:.1f} m{where} ({cause})",
            evidence={
                "start_m": round(s.start_m, 2),
                "end_m": round(s.end_m, 2),
                "length_m": round(s.length_m, 2),
                "start_xy": [round(v, 2) for v in s.start_xy],
                "end_xy": [round(v, 2) for v in s.end_xy],
                "zones": list(s.zones),
                "priority": priority,
                "cameras": list(s.cameras),
                "camera_states": {c: health[c].state.value if c in health else "unknown" for c in s.cameras},
                "snapshots": {c: health[c].snapshot for c in s.cameras if c in health and health[c].snapshot},
                "perimeter_length_m": report.perimeter_length_m,
                "report_ms": report.computed_ms,
            },
            since_ms=report.computed_ms,
        )


def _match(found: list[Stretch], tracked: Mapping[str, Mapping[str, Any]], length: float) -> list[str]:
    """A key for each stretch: the tracked key it overlaps most (each used once), else a new one."""
    extents: dict[str, tuple[float, float]] = {}
    for key, evidence in tracked.items():
        try:
            extents[key] = (float(evidence["start_m"]), float(evidence["end_m"]))
        except (KeyError, TypeError, ValueError):
            continue
    pairs = sorted(
        (
            (overlap_m((s.start_m, s.end_m), extent, length), i, key)
            for i, s in enumerate(found)
            for key, extent in extents.items()
        ),
        reverse=True,
    )
    keys: list[str | None] = [None] * len(found)
    used: set[str] = set()
    for shared, i, key in pairs:
        if shared <= 0:
            break
        if keys[i] is None and key not in used:
            keys[i] = key
            used.add(key)
    taken = set(tracked)
    out: list[str] = []
    for s, matched in zip(found, keys, strict=True):
        if matched is None:
            matched = base = f"blind_spot:{s.start_m:.1f}-{s.end_m:.1f}"
            n = 2
            while matched in taken:
                matched, n = f"{base}#{n}", n + 1
            taken.add(matched)
        out.append(matched)
    return out
