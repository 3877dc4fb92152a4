"""Base-load waste: last night's and the last day off's load against the working-day daytime load.

Per electricity meter (not in an exempt building use), a night or a day off whose mean load is above the
allowed share of the meter's working-day daytime load (median of the last weeks, and of the last few working
days, so a reference straddling the start of an HVAC season does not make waste) is waste. When the meter has
peers (`peers.py`), the load must stay above the allowed share once the reference is scaled by the change
the peers show on that same window against their own usual ones: the first weekend of an HVAC season judged
against the working days before it is the season, not waste.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from alerts.engine.model import Condition, Severity
from alerts.engine.rules import RuleOutput, median, r4
from alerts.engine.rules.peers import Change, PeerFactor, peer_factor
from alerts.engine.rules.windows import HOUR_MS, MeterData, calendar_of, mean_rate
from core.config import BaseLoadRules, SiteConfig
from core.consumption import WorkCalendar, local_day, window_ms
from core.types import Kind


@dataclass(frozen=True, slots=True)
class _Check:
    """One kind of judged window: the last night, or the daytime of the last day off."""

    kind: str  # "base_load_night" | "base_load_offday"
    day: date
    start: str
    end: str
    max_ratio: float
    earlier: tuple[date, ...]  # the same windows before it, for the meters' usual load (peer correction)


@dataclass(frozen=True, slots=True)
class _Reference:
    """A meter's working-day daytime load: what its nights and days off are measured against."""

    kw: float  # median mean kW of the working days of the last `baseline_weeks`
    recent_kw: float | None  # median of the last `recent_days` of them; None: not asked for
    days: int

    def exceeded(self, kw: float, max_ratio: float, cfg: BaseLoadRules, factor: float = 1.0) -> bool:
        """Whether `kw` is waste against this reference (and the recent one), scaled by `factor`."""
        refs = [self.kw] if self.recent_kw is None else [self.kw, self.recent_kw]
        return all(_wasteful(kw, ref * factor, max_ratio, cfg) for ref in refs)


def _reference(
    data: MeterData, today: date, cfg: BaseLoadRules, calendar: WorkCalendar, tz: ZoneInfo
) -> _Reference | int:
    """The meter's reference, or how few working days could be measured."""
    values = []  # most recent first
    for i in range(1, 7 * cfg.baseline_weeks + 1):
        day = today - timedelta(i)
        if calendar.is_working_day(day):
            kw = mean_rate(data, *window_ms(day, cfg.day_start, cfg.day_end, tz))
            if kw is not None:
                values.append(kw)
    if len(values) < 3:
        return len(values)
    recent = median(values[: cfg.recent_days]) if cfg.recent_days else None
    return _Reference(median(values), recent, len(values))


def _checks(cfg: BaseLoadRules, calendar: WorkCalendar, now_ms: int, tz: ZoneInfo) -> tuple[_Check | None, ...]:
    today = local_day(now_ms, tz)
    span = [today - timedelta(i) for i in range(0, 7 * cfg.baseline_weeks + 3)]
    night = next(d for d in span if window_ms(d, cfg.night_start, cfg.night_end, tz)[1] <= now_ms)
    nights = tuple(d for d in span if d < night and d >= today - timedelta(7 * cfg.baseline_weeks))
    off = next(
        (
            d
            for d in span[:8]
            if not calendar.is_working_day(d) and window_ms(d, cfg.day_start, cfg.day_end, tz)[1] <= now_ms
        ),
        None,
    )
    night_check = _Check("base_load_night", night, cfg.night_start, cfg.night_end, cfg.night_max_ratio, nights)
    if off is None:
        return night_check, None
    offs = tuple(d for d in span if d < off and not calendar.is_working_day(d))
    return night_check, _Check("base_load_offday", off, cfg.day_start, cfg.day_end, cfg.offday_max_ratio, offs)


def _usual_kw(data: MeterData, check: _Check, tz: ZoneInfo) -> list[float] | None:
    windows = (window_ms(d, check.start, check.end, tz) for d in check.earlier)
    values = [kw for lo, hi in windows if (kw := mean_rate(data, lo, hi)) is not None]
    return values if len(values) >= 3 else None


def base_load_rule(site: SiteConfig, data: Mapping[str, MeterData], now_ms: int) -> list[RuleOutput]:
    """Per electricity meter: last night's and the last day off's load against working-day daytime."""
    rules, tz = site.alerts, site.tz
    cfg = rules.base_load
    calendar = calendar_of(rules)
    today = local_day(now_ms, tz)
    checks = _checks(cfg, calendar, now_ms, tz)
    meters = [d for d in data.values() if d.meter.kind is Kind.ELECTRICITY]
    judged = [d for d in meters if site.building_by_id[d.meter.building].use not in cfg.exempt_uses]
    found: dict[str, list[Condition]] = {"base_load_night": [], "base_load_offday": []}
    refs: dict[str, _Reference | int] = {}
    unknown: list[str] = []
    if checks[1] is None:  # no day off in the last week: nothing to judge, leave any alert as it is
        unknown.extend(f"base_load_offday:{d.meter.id}" for d in judged)
    for check in (c for c in checks if c is not None):
        window = window_ms(check.day, check.start, check.end, tz)
        loads = {d.meter.id: mean_rate(d, *window) for d in meters}  # exempt ones too: they can be peers
        changes: dict[str, Change] | None = None
        for d in judged:
            key = f"{check.kind}:{d.meter.id}"
            if d.meter.id not in refs:
                refs[d.meter.id] = _reference(d, today, cfg, calendar, tz)
            ref, kw = refs[d.meter.id], loads[d.meter.id]
            if kw is None or not isinstance(ref, _Reference):
                unknown.append(key)
                continue
            if not ref.exceeded(kw, check.max_ratio, cfg):
                continue
            peers = None
            if cfg.peer_correction:
                if changes is None:  # only when some meter is found wasteful: it costs a look at every meter
                    changes = _changes(meters, loads, check, tz, rules.daily.min_mad_relative)
                peers = peer_factor(
                    site,
                    d.meter,
                    changes,
                    direction=1.0,
                    mad_k=rules.daily.mad_k,
                    min_relative=rules.daily.min_relative,
                    min_peers=cfg.min_peers,
                    min_usual=cfg.min_excess_kw,
                )
                if peers.factor is not None and not ref.exceeded(kw, check.max_ratio, cfg, peers.factor):
                    continue  # the whole group moved on that window: a season, the weather
            found[check.kind].append(_condition(d, check, kw, ref, window, peers, cfg))
    return [
        RuleOutput(kind, tuple(found[kind]), tuple(k for k in unknown if k.startswith(f"{kind}:")))
        for kind in ("base_load_night", "base_load_offday")
    ]


def _wasteful(kw: float, ref: float, max_ratio: float, cfg: BaseLoadRules) -> bool:
    return ref > 0 and kw > max_ratio * ref and kw - max_ratio * ref >= cfg.min_excess_kw


def _changes(
    meters: list[MeterData], loads: Mapping[str, float | None], check: _Check, tz: ZoneInfo, min_mad_relative: float
) -> dict[str, Change]:
    """Each meter's load on the judged window against the same windows before it."""
    out: dict[str, Change] = {}
    for d in meters:
        kw = loads[d.meter.id]
        usual = None if kw is None else _usual_kw(d, check, tz)
        if kw is not None and usual is not None:
            out[d.meter.id] = Change.of(usual, kw, min_mad_relative)
    return out


def _condition(
    d: MeterData,
    check: _Check,
    kw: float,
    ref: _Reference,
    window: tuple[int, int],
    peers: PeerFactor | None,
    cfg: BaseLoadRules,
) -> Condition:
    excess = kw - check.max_ratio * ref.kw
    what = "night" if check.kind == "base_load_night" else "day off"
    common_mode: dict[str, object] | None = None
    if peers is not None:
        common_mode = peers.evidence()
        common_mode["applied"] = peers.factor is not None
        common_mode["reference_kw"] = None if peers.factor is None else r4(ref.kw * peers.factor)
    return Condition(
        key=f"{check.kind}:{d.meter.id}",
        kind=check.kind,
        severity=Severity(cfg.severity),
        title=(
            f"{d.meter.id}: {what} load {kw:.1f} kW on {check.day.isoformat()} is {kw / ref.kw:.0%} "
            f"of working-day daytime ({ref.kw:.1f} kW)"
        ),
        evidence={
            "meter": d.meter.id,
            "building": d.meter.building,
            "day": check.day.isoformat(),
            "window": f"{check.start}-{check.end}",
            "mean_kw": r4(kw),
            "reference_kw": r4(ref.kw),
            "reference_days": ref.days,
            "recent_reference_kw": None if ref.recent_kw is None else r4(ref.recent_kw),
            "ratio": r4(kw / ref.kw),
            "max_ratio": check.max_ratio,
            "excess_kw": r4(excess),
            "excess_kwh": r4(excess * (window[1] - window[0]) / HOUR_MS),
            "common_mode": common_mode,
        },
    )
