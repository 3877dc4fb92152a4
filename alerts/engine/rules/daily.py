"""Abnormal daily consumption: a meter's last complete day far off its robust baselines.

The day must be abnormal (robust z-score on median/MAD, relative and absolute deviation) against the same
weekday of the last weeks (same working-day status) *and*, if `recent_days`, against the last days of the
same type, so a lasting change of regime alerts a day or two, not for weeks. And, when the meter has peers
(`peers.py`), it must stay abnormal against its weekday baseline scaled by the site-wide factor of the
day: an HVAC season starting, a heat wave or a holiday moves every similar meter and is not an anomaly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from alerts.engine.model import Condition, Severity
from alerts.engine.rules import RuleOutput, r4
from alerts.engine.rules.peers import Change, PeerFactor, median_mad, peer_factor, z_score
from alerts.engine.rules.windows import MeterData, calendar_of, local_days
from core.config import DailyRules, SiteConfig
from core.consumption import local_day
from core.types import BASE_UNIT, Kind


@dataclass(frozen=True, slots=True)
class _Judgement:
    median: float
    mad: float
    z: float  # robust z-score; ±inf when the baseline has no spread at all
    deviation: float
    relative: float  # |deviation| / median; inf when the median is 0

    def abnormal(self, cfg: DailyRules, min_abs: float) -> bool:
        return abs(self.z) > cfg.mad_k and self.relative >= cfg.min_relative and abs(self.deviation) >= min_abs

    def agrees(self, other: _Judgement, cfg: DailyRules, min_abs: float) -> bool:
        """Abnormal too, and in the same direction as `other`."""
        return self.abnormal(cfg, min_abs) and self.deviation * other.deviation > 0


def _judge(values: list[float], x: float, cfg: DailyRules) -> _Judgement:
    m, mad = median_mad(values, cfg.min_mad_relative)
    dev = x - m
    relative = abs(dev) / m if m > 0 else (math.inf if dev else 0.0)
    return _Judgement(m, mad, z_score(dev, mad), dev, relative)


def _finite(x: float) -> float | None:
    return r4(x) if math.isfinite(x) else None


@dataclass(frozen=True, slots=True)
class _Case:
    """One meter's judged day and the days it is compared with (all exact)."""

    data: MeterData
    amount: float
    baseline: dict[date, float]  # same weekday (or same type of day) of the last weeks
    recent: dict[date, float]  # the last days of the same type


def _min_abs(cfg: DailyRules, data: MeterData) -> float:
    return cfg.min_abs_kwh if data.meter.kind is Kind.ELECTRICITY else cfg.min_abs_m3


def _case(data: MeterData, day: date, working: dict[date, bool], cfg: DailyRules, site: SiteConfig) -> _Case | None:
    """The meter's day and its baselines; None when the day or too many baseline days are not exact."""
    days = local_days(data, min(working), day, site.tz)
    today = days[day]
    same_type = [x for x in sorted(days) if x < day and days[x].exact and working[x] == working[day]]
    baseline = [x for x in same_type if (day - x).days % 7 == 0]
    if len(baseline) < cfg.min_baseline_days:
        baseline = same_type  # e.g. a holiday on a weekday: compare with other days off
    recent = same_type[-cfg.recent_days :] if cfg.recent_days else []
    if not today.exact or len(baseline) < cfg.min_baseline_days or (cfg.recent_days and len(recent) < 2):
        return None
    return _Case(data, today.amount, {b: days[b].amount for b in baseline}, {b: days[b].amount for b in recent})


def daily_rule(site: SiteConfig, data: Mapping[str, MeterData], now_ms: int) -> RuleOutput:
    """One condition per meter whose last complete day is far off its robust baselines (see the module)."""
    cfg = site.alerts.daily
    calendar = calendar_of(site.alerts)
    day = local_day(now_ms, site.tz) - timedelta(1)
    first = day - timedelta(7 * cfg.baseline_weeks)
    span = [first + timedelta(i) for i in range((day - first).days + 1)]
    working = {d: calendar.is_working_day(d) for d in span}
    cases: dict[str, _Case] = {}
    unknown: list[str] = []
    for d in data.values():
        case = _case(d, day, working, cfg, site)
        if case is None:
            unknown.append(f"daily_anomaly:{d.meter.id}")
        else:
            cases[d.meter.id] = case
    changes = {m: Change.of(list(c.baseline.values()), c.amount, cfg.min_mad_relative) for m, c in cases.items()}
    conditions = [
        cond for case in cases.values() if (cond := _condition(site, case, day, working[day], changes)) is not None
    ]
    return RuleOutput("daily_anomaly", tuple(conditions), tuple(unknown))


def _condition(
    site: SiteConfig, case: _Case, day: date, working: bool, changes: Mapping[str, Change]
) -> Condition | None:
    cfg = site.alerts.daily
    meter = case.data.meter
    x, min_abs = case.amount, _min_abs(cfg, case.data)
    base = list(case.baseline.values())
    weekly = _judge(base, x, cfg)
    if not weekly.abnormal(cfg, min_abs) or (weekly.deviation < 0 and not cfg.low_days):
        return None
    peers: PeerFactor | None = None
    corrected: _Judgement | None = None
    if cfg.peer_correction:
        peers = peer_factor(
            site,
            meter,
            changes,
            direction=weekly.deviation,
            mad_k=cfg.mad_k,
            min_relative=cfg.min_relative,
            min_peers=cfg.min_peers,
            min_usual=min_abs,
        )
        if peers.factor is not None:
            corrected = _judge([v * peers.factor for v in base], x, cfg)
            if not corrected.agrees(weekly, cfg, min_abs):
                return None  # the whole group moved: a season, the weather, a holiday
    lately = _judge(list(case.recent.values()), x, cfg) if case.recent else None
    if lately is not None and not lately.agrees(weekly, cfg, min_abs):
        return None
    unit = BASE_UNIT[meter.kind]
    relative = min(j.relative for j in (weekly, lately, corrected) if j is not None)
    severity = Severity.MAJOR if relative >= cfg.major_relative else Severity(cfg.severity)
    word = "high" if weekly.deviation > 0 else "low"
    expected = ""
    if corrected is not None and peers is not None and peers.factor is not None:
        expected = f"; {corrected.median:.1f} {unit} expected with its peers' ×{peers.factor:.2f}"
    return Condition(
        key=f"daily_anomaly:{meter.id}",
        kind="daily_anomaly",
        severity=severity,
        title=(
            f"{meter.id}: abnormally {word} consumption on {day.isoformat()} "
            f"({x:.1f} {unit} vs usual {weekly.median:.1f} {unit}{expected})"
        ),
        evidence={
            "meter": meter.id,
            "building": meter.building,
            "day": day.isoformat(),
            "weekday": day.strftime("%A"),
            "working_day": working,
            "consumption": r4(x),
            "direction": word,
            "unit": unit,
            "baseline_median": r4(weekly.median),
            "baseline_mad": r4(weekly.mad),
            "robust_z": _finite(weekly.z),
            "deviation": r4(weekly.deviation),
            "relative": _finite(weekly.relative),
            "baseline_days": {b.isoformat(): r4(v) for b, v in case.baseline.items()},
            "recent_median": None if lately is None else r4(lately.median),
            "recent_robust_z": None if lately is None else _finite(lately.z),
            "recent_days": {b.isoformat(): r4(v) for b, v in case.recent.items()},
            "common_mode": _common_mode(peers, corrected),
        },
    )


def _common_mode(peers: PeerFactor | None, corrected: _Judgement | None) -> dict[str, object] | None:
    """The peer correction applied (or why none was): expected day, its z-score and relative deviation."""
    if peers is None:
        return None  # switched off in the rules
    out = peers.evidence()
    out["applied"] = corrected is not None
    out["expected"] = None if corrected is None else r4(corrected.median)
    out["robust_z"] = None if corrected is None else _finite(corrected.z)
    out["relative"] = None if corrected is None else _finite(corrected.relative)
    return out
