"""Data-quality rules: register anomalies (rollover, replacement, backwards, jumps, gaps, conflicts) and the
status flags meters report (CJ/T 188: low battery, valve state)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from alerts.engine.model import Condition, Severity, most_severe
from alerts.engine.rules import RuleOutput
from alerts.engine.rules.windows import MeterData
from alerts.engine.sources import LatestPoint
from core.config import SiteConfig
from core.consumption import Anomaly

MAX_EVENTS = 10  # events kept in the evidence (the most recent); the count says how many there were

_TITLES = {
    "rollover": "register rolled over",
    "replacement": "meter replaced (register restarted)",
    "backwards": "register went backwards",
    "jump": "implausible register jump",
    "gap": "gap in the readings",
    "conflict": "conflicting readings for the same time",
}


def data_quality_rule(site: SiteConfig, data: Mapping[str, MeterData], now_ms: int) -> RuleOutput:
    """One condition per (anomaly kind, meter) seen within the last `window_h` hours."""
    cfg = site.alerts.data_quality
    since = now_ms - int(cfg.window_h * 3_600_000)
    conditions: list[Condition] = []
    for d in data.values():
        by_kind: dict[str, list[Anomaly]] = defaultdict(list)
        for anomaly in d.consumption.anomalies:
            if since < anomaly.ts_ms <= now_ms:
                by_kind[anomaly.kind].append(anomaly)
        for kind, events in sorted(by_kind.items()):
            level = cfg.severity.get(kind, "info")  # type: ignore[call-overload]
            if level == "off":
                continue
            events.sort(key=lambda a: a.ts_ms)
            conditions.append(
                Condition(
                    key=f"data_quality:{kind}:{d.meter.id}",
                    kind="data_quality",
                    severity=Severity(level),
                    title=f"{d.meter.id}: {_TITLES[kind]}" + (f" ({len(events)}×)" if len(events) > 1 else ""),
                    evidence={
                        "meter": d.meter.id,
                        "building": d.meter.building,
                        "anomaly": kind,
                        "count": len(events),
                        "window_h": cfg.window_h,
                        "events": [
                            {"ts_ms": a.ts_ms, "detail": a.detail, "prev": a.prev, "value": a.value}
                            for a in events[-MAX_EVENTS:]
                        ],
                    },
                )
            )
    return RuleOutput("data_quality", tuple(conditions))


def meter_status_rule(site: SiteConfig, latest: Mapping[str, LatestPoint] | None) -> RuleOutput:
    """One condition per meter whose latest reading carries a configured status flag."""
    keys = [f"meter_status:{m.id}" for m in site.meters]
    if latest is None:
        return RuleOutput("meter_status", (), tuple(keys))
    severities = site.alerts.data_quality.flag_severity
    conditions: list[Condition] = []
    unknown: list[str] = []
    for meter in site.meters:
        key = f"meter_status:{meter.id}"
        point = latest.get(meter.id)
        if point is None:
            unknown.append(key)  # no recent reading: the stale rule speaks for it
            continue
        flags = [f for f in point.flags if f in severities]
        if not flags:
            continue
        conditions.append(
            Condition(
                key=key,
                kind="meter_status",
                severity=most_severe(severities[f] for f in flags),
                title=f"{meter.id} reports {', '.join(flags)}",
                evidence={
                    "meter": meter.id,
                    "building": meter.building,
                    "flags": flags,
                    "all_flags": list(point.flags),
                },
            )
        )
    return RuleOutput("meter_status", tuple(conditions), tuple(unknown))
