"""Response bodies of the API (pydantic at the edge), built from the services' plain dataclasses."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from api.efficiency import METRICS, Comparison, Figures
from api.energy.calendar import BucketSize, iso_local
from api.energy.cells import from_micro
from api.energy.service import BucketValue, ConsumptionResult, SeriesValue
from core.types import Item, Kind

Scope = Literal["meter", "building", "item", "site"]


class BucketOut(BaseModel):
    """One bucket: [start, end) in local time."""

    start: str = Field(description="bucket start, local time with offset (RFC 3339)")
    end: str = Field(description="bucket end (exclusive)")
    amount: float = Field(description="consumption in the series' unit; exact to 1e-6, buckets add up to the total")
    estimated: float = Field(description="part of amount spread over reading gaps or assumed (meter replacement)")
    completeness_pct: float = Field(description="share of the bucket's meter-time covered by regular readings")
    flags: list[str] = Field(description="data-quality events of the readings behind it: gap, rollover, ...")

    @classmethod
    def of(cls, b: BucketValue, tz: ZoneInfo) -> BucketOut:
        """From a service bucket."""
        return cls(
            start=iso_local(b.start_ms, tz),
            end=iso_local(b.end_ms, tz),
            amount=from_micro(b.tally.amount_u),
            estimated=from_micro(b.tally.estimated_u),
            completeness_pct=round(b.completeness_pct, 3),
            flags=sorted(b.tally.flags),
        )


class SeriesOut(BaseModel):
    """A series: a total, a sub-item, a meter or a building."""

    name: str = Field(description='"total", an item code, a meter id or a building id')
    kind: Kind
    item: Item | None
    unit: str
    meters: list[str] = Field(description="meters added up")
    total: BucketOut
    buckets: list[BucketOut]

    @classmethod
    def of(cls, s: SeriesValue, tz: ZoneInfo) -> SeriesOut:
        """From a service series."""
        g = s.group
        return cls(
            name=g.name,
            kind=g.kind,
            item=g.item,
            unit=g.unit,
            meters=list(g.meters),
            total=BucketOut.of(s.total, tz),
            buckets=[BucketOut.of(b, tz) for b in s.buckets],
        )


class ConsumptionOut(BaseModel):
    """Consumption of a scope over [start, end) in local-calendar buckets."""

    scope: Scope
    id: str | None = Field(description="meter, building or item id; null for the site")
    bucket: BucketSize
    timezone: str
    start: str
    end: str
    source: str = Field(description='"rollup", "raw" or "rollup+raw"')
    series: list[SeriesOut]

    @classmethod
    def of(cls, scope: Scope, ident: str | None, r: ConsumptionResult, timezone: str) -> ConsumptionOut:
        """From a service result."""
        tz = ZoneInfo(timezone)
        return cls(
            scope=scope,
            id=ident,
            bucket=r.size,
            timezone=timezone,
            start=iso_local(r.start_ms, tz),
            end=iso_local(r.end_ms, tz),
            source=r.source,
            series=[SeriesOut.of(s, tz) for s in r.series],
        )


class FiguresOut(BaseModel):
    """Usage over a period and the efficiency figures derived from it (null: not metered / no occupants)."""

    electricity_kwh: float | None
    water_m3: float | None
    kgce: float | None
    kwh_per_m2: float | None
    kgce_per_m2: float | None
    kgce_per_person: float | None
    water_m3_per_person: float | None
    electricity_completeness_pct: float | None
    water_completeness_pct: float | None

    @classmethod
    def of(cls, f: Figures) -> FiguresOut:
        """From computed figures."""
        return cls(
            electricity_kwh=f.usage.electricity_kwh,
            water_m3=f.usage.water_m3,
            kgce=f.kgce,
            kwh_per_m2=f.kwh_per_m2,
            kgce_per_m2=f.kgce_per_m2,
            kgce_per_person=f.kgce_per_person,
            water_m3_per_person=f.water_m3_per_person,
            electricity_completeness_pct=f.usage.electricity_completeness_pct,
            water_completeness_pct=f.usage.water_completeness_pct,
        )


class EntityEfficiencyOut(BaseModel):
    """A building's or the site's efficiency, against the same period last year and its targets."""

    type: Literal["building", "site"]
    id: str
    name: str
    floor_area_m2: float
    occupants: int
    current: FiguresOut
    last_year: FiguresOut
    change_pct: dict[str, float | None] = Field(description="per metric: change against last year, %")
    target: dict[str, float | None] = Field(description="per metric: the annual target prorated to the period")
    vs_target_pct: dict[str, float | None] = Field(description="per metric: above (+) or below (-) target, %")

    @classmethod
    def of(cls, c: Comparison) -> EntityEfficiencyOut:
        """From a comparison."""
        e = c.entity
        return cls(
            type=e.type,
            id=e.id,
            name=e.name,
            floor_area_m2=e.floor_area_m2,
            occupants=e.occupants,
            current=FiguresOut.of(c.current),
            last_year=FiguresOut.of(c.last_year),
            change_pct={m: c.change_pct(m) for m in METRICS},
            target=dict(c.targets),
            vs_target_pct={m: c.vs_target_pct(m) for m in METRICS},
        )


class CoalOut(BaseModel):
    electricity_kgce_per_kwh: float
    water_kgce_per_m3: float | None
    basis: str = "GB/T 2589; electricity at its equivalent (calorific) value unless the site file says otherwise"


class EfficiencyOut(BaseModel):
    """Efficiency of buildings and the site over [start, end)."""

    timezone: str
    start: str
    end: str
    last_year_start: str
    last_year_end: str
    coal: CoalOut
    entities: list[EntityEfficiencyOut]


class MeterOut(BaseModel):
    id: str
    building: str
    kind: Kind
    item: Item
    name: str
    main: bool = Field(description="measures its building's whole supply of its kind")


class BuildingOut(BaseModel):
    id: str
    name: str
    use: str
    floor_area_m2: float
    occupants: int


class SiteOut(BaseModel):
    """The site as the energy API sees it."""

    id: str
    name: str
    timezone: str
    buildings: list[BuildingOut]
    meters: list[MeterOut]
    coal: CoalOut
    rollup_from: str | None
    rollup_until: str | None


class DayOut(BaseModel):
    date: str
    electricity_kwh: float | None
    items_kwh: dict[str, float]
    other_kwh: float | None
    water_m3: float | None
    electricity_completeness_pct: float | None
    water_completeness_pct: float | None
    estimated_kwh: float | None
    flags: list[str]


class MeterQualityOut(BaseModel):
    meter: str
    unit: str
    amount: float
    estimated: float
    completeness_pct: float
    flags: list[str]


class MonthlyReportOut(BaseModel):
    """A building's monthly report as data (the same as the CSV, Markdown and HTML renderings)."""

    site: str
    building: BuildingOut
    month: str
    timezone: str
    generated: str
    source: str
    efficiency: EntityEfficiencyOut
    previous_month: FiguresOut
    items_kwh: dict[str, float]
    other_kwh: float | None
    days: list[DayOut]
    total: DayOut
    meters: list[MeterQualityOut]


class WhoAmIOut(BaseModel):
    name: str
    role: str


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    influxdb: bool
    rollup_until: str | None


class RollupRequest(BaseModel):
    """Rebuild the rollups from a local date (or time) up to now."""

    model_config = {"extra": "forbid"}

    start: str = Field(description="YYYY-MM-DD or ISO time; rebuilt from that local day")


class RollupOut(BaseModel):
    start: str
    until: str
    meter_hours: int
    meter_days: int
    seconds: float
