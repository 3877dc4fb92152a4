"""Energy rules on register series: water leaks, abnormal days, night / off-day base-load waste.

All of them look at *complete, exact* local time windows (no gap, jump, replacement or backwards step
inside: see `core.consumption.Bucket.exact`); a window that is not is "unknown", never "fine", so missing
data neither raises nor resolves an alert.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from alerts.engine.model import Condition, Severity
from alerts.engine.rules import RuleOutput, median, quantile, r4
from core.config import AlertRules, DailyRules, Meter, SiteConfig
from core.consumption import Bucket, Consumption, RegisterSpec, WorkCalendar, allocate, compute, local_day, window_ms
from core.types import BASE_UNIT, Kind

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
#: A robust z-score uses MAD / 0.6745 as the standard deviation of a normal distribution.
MAD_TO_SIGMA = 0.6745


@dataclass(frozen=True, slots=True)
class MeterData:
    """One meter's consumption over the look-back."""

    meter: Meter
    consumption: Consumption
    last_ts_ms: int | None


def prepare(site: SiteConfig, series: Mapping[str, list[tuple[int, float]]]) -> dict[str, MeterData]:
    """Compute the consumption of every configured meter from its register series."""
    gap_factor = site.alerts.data_quality.gap_factor
    out: dict[str, MeterData] = {}
    for meter in site.meters:
        points = series.get(meter.id, [])
        consumption = compute(points, RegisterSpec.of(meter, gap_factor=gap_factor))
        last = max((t for t, _ in points), default=None)
        out[meter.id] = MeterData(meter, consumption, last)
    return out


def calendar_of(rules: AlertRules) -> WorkCalendar:
    """The working-day calendar the rules configure."""
    c = rules.calendar
    return WorkCalendar(c.country, frozenset(c.extra_holidays), frozenset(c.extra_workdays))


def lookback_days(rules: AlertRules) -> int:
    """Days of history the energy rules need."""
    return 2 + max(
        rules.leak.baseline_days,
        7 * rules.daily.baseline_weeks,
        7 * rules.base_load.baseline_weeks,
        int(rules.leak.never_zero_h // 24) + 1,
        int(rules.data_quality.window_h // 24) + 1,
    )


def _window(data: MeterData, lo: int, hi: int, step_ms: int | None = None) -> list[Bucket] | None:
    """Buckets of [lo, hi) (one, or `step_ms` long); None unless every one is exact."""
    edges = [lo, hi] if step_ms is None else [*range(lo, hi, step_ms), hi]
    buckets = allocate(data.consumption.deltas, edges)
    return buckets if buckets and all(b.exact for b in buckets) else None


# -- water leaks -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _LeakFinding:
    meter: str
    night_min: float | None  # m³/h, lowest bucket of the last night window; None: unknown
    baseline: float | None  # m³/h
    threshold: float | None
    nights: int
    flowing_since_ms: int | None  # start of the current run of non-zero flow, if it lasted never_zero_h
    never_zero_known: bool

    @property
    def night_leak(self) -> bool:
        return self.night_min is not None and self.threshold is not None and self.night_min > self.threshold

    @property
    def triggered(self) -> bool:
        return self.night_leak or self.flowing_since_ms is not None

    @property
    def known(self) -> bool:
        return self.triggered or (self.threshold is not None and self.never_zero_known)


def _night_min(data: MeterData, day: date, rules: AlertRules, tz: ZoneInfo) -> float | None:
    leak = rules.leak
    lo, hi = window_ms(day, leak.night_start, leak.night_end, tz)
    buckets = _window(data, lo, hi, leak.bucket_min * 60_000)
    return None if buckets is None else min(b.amount / b.hours for b in buckets)


def _flowing_since(data: MeterData, now_ms: int, rules: AlertRules) -> tuple[int | None, bool]:
    """(start of a run of non-zero flow at least never_zero_h long, or None; whether that could be judged)."""
    leak = rules.leak
    step = leak.bucket_min * 60_000
    if data.last_ts_ms is None:
        return None, False
    end = (min(now_ms, data.last_ts_ms) // step) * step
    need = int(leak.never_zero_h * HOUR_MS // step)
    buckets = allocate(data.consumption.deltas, [end - i * step for i in range(need, -1, -1)])
    if not buckets or not all(b.exact for b in buckets):
        return None, False
    if any(b.amount / b.hours <= leak.zero_m3h for b in buckets):
        return None, True
    # It flowed all along: find when the run began, as far back as the data goes (for the evidence).
    start = buckets[0].start_ms
    while True:
        (before,) = allocate(data.consumption.deltas, [start - step, start])
        if not before.exact or before.amount / before.hours <= leak.zero_m3h:
            return start, True
        start -= step


def _leak_finding(data: MeterData, now_ms: int, rules: AlertRules, tz: ZoneInfo) -> _LeakFinding:
    leak = rules.leak
    today = local_day(now_ms, tz)
    night = today if window_ms(today, leak.night_start, leak.night_end, tz)[1] <= now_ms else today - timedelta(1)
    night_min = _night_min(data, night, rules, tz)
    history = [_night_min(data, night - timedelta(i), rules, tz) for i in range(1, leak.baseline_days + 1)]
    known = [v for v in history if v is not None]
    baseline = threshold = None
    if len(known) >= 3:
        baseline = quantile(known, leak.baseline_quantile)
        threshold = max(baseline * leak.factor, baseline + leak.min_excess_m3h)
    since, judged = _flowing_since(data, now_ms, rules)
    return _LeakFinding(data.meter.id, night_min, baseline, threshold, len(known), since, judged)


def leak_rule(site: SiteConfig, data: Mapping[str, MeterData], now_ms: int) -> RuleOutput:
    """One condition per building whose water meters show night flow above baseline or never stop."""
    rules, tz = site.alerts, site.tz
    leak = rules.leak
    today = local_day(now_ms, tz)
    night = today if window_ms(today, leak.night_start, leak.night_end, tz)[1] <= now_ms else today - timedelta(1)
    conditions: list[Condition] = []
    unknown: list[str] = []
    for building in site.buildings:
        meters = [d for d in data.values() if d.meter.building == building.id and d.meter.kind is Kind.WATER]
        if not meters:
            continue
        key = f"leak:{building.id}"
        findings = [_leak_finding(d, now_ms, rules, tz) for d in meters]
        hits = [f for f in findings if f.triggered]
        if not hits:
            if not all(f.known for f in findings):
                unknown.append(key)
            continue
        # Sub-meters before the building main: the most specific meter points at where to look.
        suspects = sorted(hits, key=lambda f: ("main" in f.meter.lower(), f.meter))
        criteria = sorted(
            {"night_flow" for f in hits if f.night_leak}
            | {"never_zero" for f in hits if f.flowing_since_ms is not None}
        )
        first = suspects[0]
        if first.night_leak:
            assert first.night_min is not None and first.baseline is not None
            what = f"{first.night_min:.3f} m³/h at night (baseline {first.baseline:.3f})"
        else:
            what = f"water flowing for over {leak.never_zero_h:g} h without a break"
        conditions.append(
            Condition(
                key=key,
                kind="leak",
                severity=Severity(leak.severity),
                title=f"Suspected water leak in {building.name}: {what} on {first.meter}",
                evidence={
                    "building": building.id,
                    "night": night.isoformat(),
                    "night_window": f"{leak.night_start}-{leak.night_end}",
                    "criteria": criteria,
                    "suspects": [f.meter for f in suspects],
                    "meters": {f.meter: _leak_evidence(f) for f in findings},
                    "unit": "m3/h",
                },
            )
        )
    return RuleOutput("leak", tuple(conditions), tuple(unknown))


def _leak_evidence(f: _LeakFinding) -> dict[str, object]:
    def opt(x: float | None) -> float | None:
        return None if x is None else r4(x)

    return {
        "night_min_m3h": opt(f.night_min),
        "baseline_m3h": opt(f.baseline),
        "threshold_m3h": opt(f.threshold),
        "baseline_nights": f.nights,
        "flowing_since_ms": f.flowing_since_ms,
    }


# -- abnormal daily consumption ----------------------------------------------------------------------------


def _days(data: MeterData, first: date, last: date, tz: ZoneInfo) -> dict[date, Bucket]:
    days = [first + timedelta(i) for i in range((last - first).days + 1)]
    edges = [window_ms(d, "00:00", "00:00", tz)[0] for d in days]
    edges.append(window_ms(last, "00:00", "00:00", tz)[1])
    return dict(zip(days, allocate(data.consumption.deltas, edges), strict=True))


@dataclass(frozen=True, slots=True)
class _Judgement:
    median: float
    mad: float
    z: float  # robust z-score; ±inf when the baseline has no spread at all
    deviation: float
    relative: float  # |deviation| / median; inf when the median is 0

    def abnormal(self, cfg: DailyRules, min_abs: float) -> bool:
        return abs(self.z) > cfg.mad_k and self.relative >= cfg.min_relative and abs(self.deviation) >= min_abs


def _judge(values: list[float], x: float, cfg: DailyRules) -> _Judgement:
    m = median(values)
    mad = max(median([abs(v - m) for v in values]), cfg.min_mad_relative * m)
    dev = x - m
    z = MAD_TO_SIGMA * dev / mad if mad > 0 else (0.0 if dev == 0 else math.copysign(math.inf, dev))
    relative = abs(dev) / m if m > 0 else (math.inf if dev else 0.0)
    return _Judgement(m, mad, z, dev, relative)


def _finite(x: float) -> float | None:
    return r4(x) if math.isfinite(x) else None


def daily_rule(site: SiteConfig, data: Mapping[str, MeterData], now_ms: int) -> RuleOutput:
    """One condition per meter whose last complete day is far off its robust baselines.

    The day must be abnormal (robust z-score on median/MAD, relative and absolute deviation) against the
    same weekday of the last weeks (same working-day status) *and*, if `recent_days`, against the last
    days of the same type, so a lasting change of regime (an HVAC season starting) alerts a day or two,
    not for weeks.
    """
    rules, tz = site.alerts, site.tz
    cfg = rules.daily
    calendar = calendar_of(rules)
    day = local_day(now_ms, tz) - timedelta(1)
    first = day - timedelta(7 * cfg.baseline_weeks)
    conditions: list[Condition] = []
    unknown: list[str] = []
    for d in data.values():
        key = f"daily_anomaly:{d.meter.id}"
        days = _days(d, first, day, tz)
        today = days[day]
        working = calendar.is_working_day(day)
        same_type = [x for x in sorted(days) if x < day and days[x].exact and calendar.is_working_day(x) == working]
        baseline = [x for x in same_type if (day - x).days % 7 == 0]
        if len(baseline) < cfg.min_baseline_days:
            baseline = same_type  # e.g. a holiday on a weekday: compare with other days off
        recent = same_type[-cfg.recent_days :] if cfg.recent_days else []
        if not today.exact or len(baseline) < cfg.min_baseline_days or (cfg.recent_days and len(recent) < 2):
            unknown.append(key)
            continue
        x = today.amount
        min_abs = cfg.min_abs_kwh if d.meter.kind is Kind.ELECTRICITY else cfg.min_abs_m3
        weekly = _judge([days[b].amount for b in baseline], x, cfg)
        if not weekly.abnormal(cfg, min_abs) or (weekly.deviation < 0 and not cfg.low_days):
            continue
        lately = _judge([days[b].amount for b in recent], x, cfg) if recent else None
        if lately is not None and not (lately.abnormal(cfg, min_abs) and lately.deviation * weekly.deviation > 0):
            continue
        unit = BASE_UNIT[d.meter.kind]
        relative = min(weekly.relative, lately.relative) if lately else weekly.relative
        severity = Severity.MAJOR if relative >= cfg.major_relative else Severity(cfg.severity)
        word = "high" if weekly.deviation > 0 else "low"
        conditions.append(
            Condition(
                key=key,
                kind="daily_anomaly",
                severity=severity,
                title=(
                    f"{d.meter.id}: abnormally {word} consumption on {day.isoformat()} "
                    f"({x:.1f} {unit} vs usual {weekly.median:.1f} {unit})"
                ),
                evidence={
                    "meter": d.meter.id,
                    "building": d.meter.building,
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
                    "baseline_days": {b.isoformat(): r4(days[b].amount) for b in baseline},
                    "recent_median": None if lately is None else r4(lately.median),
                    "recent_robust_z": None if lately is None else _finite(lately.z),
                    "recent_days": {b.isoformat(): r4(days[b].amount) for b in recent},
                },
            )
        )
    return RuleOutput("daily_anomaly", tuple(conditions), tuple(unknown))


# -- base-load waste -------------------------------------------------------------------------------------------


def _mean_kw(data: MeterData, lo: int, hi: int) -> float | None:
    buckets = _window(data, lo, hi)
    return None if buckets is None else buckets[0].amount / buckets[0].hours


def _reference_kw(
    data: MeterData, today: date, rules: AlertRules, calendar: WorkCalendar, tz: ZoneInfo
) -> tuple[float | None, int]:
    cfg = rules.base_load
    values = []
    for i in range(1, 7 * cfg.baseline_weeks + 1):
        day = today - timedelta(i)
        if calendar.is_working_day(day):
            kw = _mean_kw(data, *window_ms(day, cfg.day_start, cfg.day_end, tz))
            if kw is not None:
                values.append(kw)
    return (median(values) if len(values) >= 3 else None), len(values)


def base_load_rule(site: SiteConfig, data: Mapping[str, MeterData], now_ms: int) -> list[RuleOutput]:
    """Per electricity meter: last night's and the last day off's load against working-day daytime."""
    rules, tz = site.alerts, site.tz
    cfg = rules.base_load
    calendar = calendar_of(rules)
    today = local_day(now_ms, tz)
    night_day = next(
        d
        for d in (today, today - timedelta(1), today - timedelta(2))
        if window_ms(d, cfg.night_start, cfg.night_end, tz)[1] <= now_ms
    )
    off_days = [today - timedelta(i) for i in range(0, 8)]
    off_day = next(
        (
            d
            for d in off_days
            if not calendar.is_working_day(d) and window_ms(d, cfg.day_start, cfg.day_end, tz)[1] <= now_ms
        ),
        None,
    )
    night: list[Condition] = []
    offday: list[Condition] = []
    unknown: list[str] = []
    for d in data.values():
        if d.meter.kind is not Kind.ELECTRICITY or site.building_by_id[d.meter.building].use in cfg.exempt_uses:
            continue
        ref, ref_days = _reference_kw(d, today, rules, calendar, tz)
        checks = [("base_load_night", night, night_day, cfg.night_start, cfg.night_end, cfg.night_max_ratio)]
        if off_day is not None:
            checks.append(("base_load_offday", offday, off_day, cfg.day_start, cfg.day_end, cfg.offday_max_ratio))
        else:  # no day off in the last week: nothing to judge, leave any alert as it is
            unknown.append(f"base_load_offday:{d.meter.id}")
        for kind, out, day, start, end, max_ratio in checks:
            key = f"{kind}:{d.meter.id}"
            lo, hi = window_ms(day, start, end, tz)
            kw = _mean_kw(d, lo, hi)
            if kw is None or ref is None:
                unknown.append(key)
                continue
            excess = kw - max_ratio * ref
            if ref <= 0 or kw <= max_ratio * ref or excess < cfg.min_excess_kw:
                continue
            what = "night" if kind == "base_load_night" else "day off"
            out.append(
                Condition(
                    key=key,
                    kind=kind,
                    severity=Severity(cfg.severity),
                    title=(
                        f"{d.meter.id}: {what} load {kw:.1f} kW on {day.isoformat()} is {kw / ref:.0%} "
                        f"of working-day daytime ({ref:.1f} kW)"
                    ),
                    evidence={
                        "meter": d.meter.id,
                        "building": d.meter.building,
                        "day": day.isoformat(),
                        "window": f"{start}-{end}",
                        "mean_kw": r4(kw),
                        "reference_kw": r4(ref),
                        "reference_days": ref_days,
                        "ratio": r4(kw / ref),
                        "max_ratio": max_ratio,
                        "excess_kw": r4(excess),
                        "excess_kwh": r4(excess * (hi - lo) / HOUR_MS),
                    },
                )
            )
    return [
        RuleOutput("base_load_night", tuple(night), tuple(k for k in unknown if k.startswith("base_load_night:"))),
        RuleOutput("base_load_offday", tuple(offday), tuple(k for k in unknown if k.startswith("base_load_offday:"))),
    ]


def energy_outputs(site: SiteConfig, data: Mapping[str, MeterData], now_ms: int) -> list[RuleOutput]:
    """Run every energy rule."""
    return [leak_rule(site, data, now_ms), daily_rule(site, data, now_ms), *base_load_rule(site, data, now_ms)]


def keys_of(outputs: Iterable[RuleOutput]) -> list[str]:
    """Keys of every condition in some outputs (for logs and tests)."""
    return sorted(c.key for o in outputs for c in o.conditions)
