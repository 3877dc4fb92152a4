"""Water-leak rule, and every energy rule run together.

The leak rule looks at complete, exact night windows (`windows.py`): a window that is not exact is
"unknown", never "fine", so missing data neither raises nor resolves an alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from alerts.engine.model import Condition, Severity
from alerts.engine.rules import RuleOutput, quantile, r4
from alerts.engine.rules.baseload import base_load_rule
from alerts.engine.rules.daily import daily_rule
from alerts.engine.rules.windows import HOUR_MS, MeterData, buckets, exact_window
from core.config import AlertRules, SiteConfig
from core.consumption import local_day, window_ms
from core.types import Kind

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
    found = exact_window(data, lo, hi, leak.bucket_min * 60_000)
    return None if found is None else min(b.amount / b.hours for b in found)


def _flowing_since(data: MeterData, now_ms: int, rules: AlertRules) -> tuple[int | None, bool]:
    """(start of a run of non-zero flow at least never_zero_h long, or None; whether that could be judged)."""
    leak = rules.leak
    step = leak.bucket_min * 60_000
    if data.last_ts_ms is None:
        return None, False
    end = (min(now_ms, data.last_ts_ms) // step) * step
    need = int(leak.never_zero_h * HOUR_MS // step)
    found = buckets(data, [end - i * step for i in range(need, -1, -1)])
    if not found or not all(b.exact for b in found):
        return None, False
    if any(b.amount / b.hours <= leak.zero_m3h for b in found):
        return None, True
    # It flowed all along: find when the run began, as far back as the data goes (for the evidence).
    start = found[0].start_ms
    while True:
        (before,) = buckets(data, [start - step, start])
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


def energy_outputs(site: SiteConfig, data: Mapping[str, MeterData], now_ms: int) -> list[RuleOutput]:
    """Run every energy rule."""
    return [leak_rule(site, data, now_ms), daily_rule(site, data, now_ms), *base_load_rule(site, data, now_ms)]


def keys_of(outputs: Iterable[RuleOutput]) -> list[str]:
    """Keys of every condition in some outputs (for logs and tests)."""
    return sorted(c.key for o in outputs for c in o.conditions)
