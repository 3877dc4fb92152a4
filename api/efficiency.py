"""Energy efficiency of buildings and the site: kWh/m², kgce/m², kgce per person, water m³ per person.

Standard coal (kgce) follows GB/T 2589 "General principles for calculation of the comprehensive energy
consumption": electricity at its *equivalent* (calorific) value 0.1229 kgce/kWh by default; the *equal* value
(coal burnt to generate it, about 0.3 kgce/kWh, published yearly) can be set instead in the site file
(`energy.coal.electricity_kgce_per_kwh`). Water is not energy and is not counted unless a coefficient is set
(`energy.coal.water_kgce_per_m3`). Targets in the site file are annual and prorated over the period asked for,
each local day counting 1/365 (1/366) of its year.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from api.energy.calendar import BucketSize, local_ms, shift_years, to_local, year_fraction
from api.energy.cells import from_micro
from api.energy.service import EnergyService, SeriesValue
from api.energy.topology import Group
from core.config import CoalFactors, EfficiencyTargets
from core.types import Kind

METRICS = ("kwh_per_m2", "kgce_per_m2", "kgce_per_person", "water_m3_per_person")


@dataclass(frozen=True, slots=True)
class Usage:
    """What an entity consumed over a period (None: no meter of that kind, or no reading in the period)."""

    electricity_kwh: float | None
    water_m3: float | None
    electricity_completeness_pct: float | None
    water_completeness_pct: float | None


@dataclass(frozen=True, slots=True)
class Figures:
    """Usage and the efficiency figures derived from it."""

    usage: Usage
    kgce: float | None
    kwh_per_m2: float | None
    kgce_per_m2: float | None
    kgce_per_person: float | None
    water_m3_per_person: float | None

    def metric(self, name: str) -> float | None:
        """One of METRICS by name."""
        value: float | None = getattr(self, name)
        return value


@dataclass(frozen=True, slots=True)
class Entity:
    """A building or the site: what it is measured against."""

    type: Literal["building", "site"]
    id: str
    name: str
    floor_area_m2: float
    occupants: int
    targets: EfficiencyTargets


@dataclass(frozen=True, slots=True)
class Comparison:
    """An entity's figures for a period, the same period a year earlier, and its prorated targets."""

    entity: Entity
    current: Figures
    last_year: Figures
    targets: dict[str, float | None]  # METRICS -> target for the period

    def change_pct(self, metric: str) -> float | None:
        """Change of a metric against the same period last year, in %."""
        return _pct(self.current.metric(metric), self.last_year.metric(metric))

    def vs_target_pct(self, metric: str) -> float | None:
        """How far a metric is above (+) or below (-) its target, in %."""
        return _pct(self.current.metric(metric), self.targets.get(metric))


def _pct(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or reference == 0:
        return None
    return 100.0 * (value - reference) / reference


def _per(value: float | None, divisor: float) -> float | None:
    return None if value is None or divisor <= 0 else value / divisor


def figures(usage: Usage, entity: Entity, coal: CoalFactors) -> Figures:
    """Efficiency figures of a usage; per-person figures are None for an entity without occupants."""
    kgce: float | None = None
    if usage.electricity_kwh is not None or (usage.water_m3 is not None and coal.water_kgce_per_m3 is not None):
        kgce = (usage.electricity_kwh or 0.0) * coal.electricity_kgce_per_kwh
        if coal.water_kgce_per_m3 is not None:
            kgce += (usage.water_m3 or 0.0) * coal.water_kgce_per_m3
    return Figures(
        usage=usage,
        kgce=kgce,
        kwh_per_m2=_per(usage.electricity_kwh, entity.floor_area_m2),
        kgce_per_m2=_per(kgce, entity.floor_area_m2),
        kgce_per_person=_per(kgce, entity.occupants),
        water_m3_per_person=_per(usage.water_m3, entity.occupants),
    )


def prorated(targets: EfficiencyTargets, fraction: float) -> dict[str, float | None]:
    """Annual targets scaled to a period that is `fraction` of a year."""
    out: dict[str, float | None] = {}
    for name in METRICS:
        value = getattr(targets, name)
        out[name] = None if value is None else value * fraction
    return out


def entities(service: EnergyService, building: str | None = None) -> list[tuple[Entity, dict[Kind, Group]]]:
    """Each building (or just one) and the site, with the meter groups of their totals per kind."""
    site, topo = service.site, service.topology
    targets = site.energy.targets
    out: list[tuple[Entity, dict[Kind, Group]]] = []
    for b in site.buildings:
        if building is not None and b.id != building:
            continue
        entity = Entity(
            "building", b.id, b.name, b.floor_area_m2, b.occupants, targets.buildings.get(b.id, EfficiencyTargets())
        )
        out.append((entity, {k: topo.total(k, b.id) for k in topo.kinds(b.id)}))
    if building is None:
        area = sum(b.floor_area_m2 for b in site.buildings)
        people = sum(b.occupants for b in site.buildings)
        entity = Entity("site", site.site.id, site.site.name, area, people, targets.site)
        out.append((entity, {k: topo.total(k) for k in topo.kinds()}))
    return out


def usages(
    service: EnergyService, groups: Sequence[tuple[Entity, dict[Kind, Group]]], start_ms: int, end_ms: int
) -> list[Usage]:
    """Usage of each entity over [start, end), from one consumption query."""
    flat = [g for _, by_kind in groups for g in by_kind.values()]
    result = service.consumption(flat, start_ms, end_ms, BucketSize.YEAR)
    totals = iter(result.series)
    out = []
    for _, by_kind in groups:
        got: dict[Kind, SeriesValue] = {k: next(totals) for k in by_kind}
        elec, water = got.get(Kind.ELECTRICITY), got.get(Kind.WATER)
        out.append(
            Usage(
                electricity_kwh=_amount(elec),
                water_m3=_amount(water),
                electricity_completeness_pct=None if elec is None else elec.total.completeness_pct,
                water_completeness_pct=None if water is None else water.total.completeness_pct,
            )
        )
    return out


def _amount(series: SeriesValue | None) -> float | None:
    """The series total; None when nothing is metered or no reading covers any of the period (unknown, not 0)."""
    if series is None or (series.total.tally.measured_ms == 0 and series.total.tally.amount_u == 0):
        return None
    return from_micro(series.total.tally.amount_u)


def year_earlier(ts_ms: int, service: EnergyService) -> int:
    """The same local wall time one year earlier (29 February: the 28th)."""
    wall = to_local(ts_ms, service.tz).replace(tzinfo=None)
    return local_ms(datetime.combine(shift_years(wall.date(), -1), wall.time()), service.tz)


def compare(service: EnergyService, start_ms: int, end_ms: int, building: str | None = None) -> list[Comparison]:
    """Efficiency of each building (or one) and the site over [start, end), against last year and targets."""
    groups = entities(service, building)
    coal = service.site.energy.coal
    now = usages(service, groups, start_ms, end_ms)
    before = usages(service, groups, year_earlier(start_ms, service), year_earlier(end_ms, service))
    fraction = year_fraction(start_ms, end_ms, service.tz)
    return [
        Comparison(entity, figures(cur, entity, coal), figures(old, entity, coal), prorated(entity.targets, fraction))
        for (entity, _), cur, old in zip(groups, now, before, strict=True)
    ]
