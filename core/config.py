"""The site file: one YAML document describing a site, validated once at start-up."""

from __future__ import annotations

import math
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.types import Item, Kind

#: Identifiers end up in MQTT topics, InfluxDB tags and file names: keep them plain.
Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteInfo(_Model):
    id: Ident
    name: str = Field(min_length=1, max_length=200)
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


BuildingUse = Literal["office", "canteen", "data_room", "car_park", "service", "other"]


class Building(_Model):
    id: Ident
    name: str = Field(min_length=1, max_length=200)
    use: BuildingUse = "office"
    floor_area_m2: float = Field(gt=0, le=10_000_000)
    occupants: int = Field(ge=0, le=1_000_000)


class Meter(_Model):
    id: Ident
    building: Ident
    kind: Kind
    item: Item
    name: str = ""
    multiplier: float = Field(default=1.0, gt=0, le=100_000, description="CT/PT ratio applied to the register")
    resolution: float = Field(default=0.01, gt=0, le=1000, description="register step, in register units")
    rollover: float = Field(default=99_999_999.99, gt=0, le=1e15, description="largest register value")
    interval_s: int = Field(default=900, ge=1, le=86_400, description="expected reading interval")
    address: str | None = Field(default=None, pattern=r"^[0-9]{12}$|^[0-9]{14}$")

    @model_validator(mode="after")
    def _item_matches_kind(self) -> Meter:
        if (self.kind is Kind.WATER) != (self.item is Item.WATER):
            raise ValueError(f"item {self.item.value} does not fit a {self.kind.value} meter")
        if self.resolution >= self.rollover:
            raise ValueError("resolution must be smaller than rollover")
        return self


class Gateway(_Model):
    id: Ident
    meters: list[Ident] = Field(min_length=1, max_length=10_000)


class Camera(_Model):
    """A perimeter camera: where its stream is, and where it looks (local site coordinates, metres)."""

    id: Ident
    name: str = ""
    url: str = Field(min_length=1, max_length=2000, description="rtsp://, http(s):// MJPEG, or a file path")
    position: tuple[float, float] = (0.0, 0.0)
    heading_deg: float = Field(default=0.0, ge=0, lt=360, description="0 = +y (north), clockwise")
    hfov_deg: float = Field(default=90.0, gt=0, le=360)
    range_m: float | None = Field(default=None, gt=0, le=10_000, description="effective range, if given")
    resolution: tuple[int, int] | None = Field(default=None, description="width, height in pixels")
    px_per_m: float | None = Field(default=None, gt=0, le=10_000, description="required pixel density")
    analysis_fps: float = Field(default=2.0, gt=0, le=30)

    @model_validator(mode="after")
    def _range_known(self) -> Camera:
        if self.range_m is None and (self.resolution is None or self.px_per_m is None):
            raise ValueError(f"camera {self.id}: give range_m, or resolution and px_per_m to derive it")
        return self

    @property
    def effective_range_m(self) -> float:
        """Range given, or width_px / (2·tan(HFOV/2)·px_per_m)."""
        if self.range_m is not None:
            return self.range_m
        assert self.resolution is not None and self.px_per_m is not None
        half = math.radians(min(self.hfov_deg, 179.0)) / 2
        return self.resolution[0] / (2 * math.tan(half) * self.px_per_m)


class Zone(_Model):
    """A stretch of the perimeter, by distance along the boundary, with a priority (1 = highest)."""

    id: Ident
    name: str = ""
    start_m: float = Field(ge=0)
    end_m: float = Field(gt=0)
    priority: int = Field(default=3, ge=1, le=5)
    kind: Literal["gate", "fence", "wall", "road", "other"] = "fence"

    @model_validator(mode="after")
    def _ordered(self) -> Zone:
        if self.end_m <= self.start_m:
            raise ValueError(f"zone {self.id}: end_m must be after start_m")
        return self


class Occluder(_Model):
    """A building or wall that blocks the view, as a polygon."""

    id: Ident
    polygon: list[tuple[float, float]] = Field(min_length=3)


class Perimeter(_Model):
    boundary: list[tuple[float, float]] = Field(min_length=2)
    closed: bool = True
    zones: list[Zone] = Field(default_factory=list)
    occluders: list[Occluder] = Field(default_factory=list)


class IngestLimits(_Model):
    max_payload_bytes: int = Field(default=512 * 1024, ge=1024, le=16 * 1024 * 1024)
    max_batch: int = Field(default=1000, ge=1, le=100_000)
    max_future_skew_s: int = Field(default=300, ge=0, le=86_400)
    max_age_days: int = Field(default=400, ge=1, le=36_500)


# -- alert rules (docs/alerts.md) ----------------------------------------------------------------

Severity = Literal["critical", "major", "minor", "info"]
#: Every kind of alert the engine raises; flap hold times may be set per kind.
AlertKind = Literal[
    "blind_spot",
    "camera_unhealthy",
    "camera_stream_lost",
    "gateway_offline",
    "meter_stale",
    "leak",
    "daily_anomaly",
    "base_load_night",
    "base_load_offday",
    "data_quality",
    "meter_status",
    "coverage_monitor_down",
]
#: A local wall-clock time of day, "HH:MM".
ClockTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
DataQualityKind = Literal["gap", "rollover", "replacement", "backwards", "jump", "conflict"]


class BlindSpotSeverity(_Model):
    """A blind spot touching a zone of priority <= max_priority and at least min_length_m long gets `severity`."""

    max_priority: int = Field(ge=1, le=5)
    min_length_m: float = Field(default=0.0, ge=0, le=100_000)
    severity: Severity


class Hold(_Model):
    """Flap suppression: hold a condition open_hold_s before opening, and clear clear_hold_s before resolving."""

    open_hold_s: float = Field(default=0.0, ge=0, le=7 * 86_400)
    clear_hold_s: float = Field(default=60.0, ge=0, le=7 * 86_400)


def _flap_by_kind() -> dict[AlertKind, Hold]:
    # A broker restart publishes every client's Last Will, and the clients are back within seconds: a
    # status-only "offline" must last a while before it is an alert (the alert screen shows a stale
    # coverage report at once all the same). Silence has its own thresholds.
    return {
        "blind_spot": Hold(clear_hold_s=30.0),
        "gateway_offline": Hold(open_hold_s=30.0),
        "coverage_monitor_down": Hold(open_hold_s=15.0),
    }


class FlapRules(_Model):
    default: Hold = Hold()
    by_kind: dict[AlertKind, Hold] = Field(default_factory=_flap_by_kind)


class WorkCalendarRules(_Model):
    """Which local days are working days: the country's public holidays and make-up workdays, plus local ones."""

    country: str = Field(default="CN", pattern=r"^[A-Z]{2}$")
    extra_holidays: list[date] = Field(default_factory=list, max_length=1000)
    extra_workdays: list[date] = Field(default_factory=list, max_length=1000)

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        import holidays

        try:
            holidays.country_holidays(value)
        except NotImplementedError as exc:
            raise ValueError(f"no holiday calendar for country {value!r}") from exc
        return value


class LeakRules(_Model):
    night_start: ClockTime = "02:00"
    night_end: ClockTime = "05:00"
    bucket_min: int = Field(default=60, ge=5, le=180, description="flow is averaged over buckets this long")
    baseline_days: int = Field(default=14, ge=3, le=90)
    baseline_quantile: float = Field(default=0.25, ge=0, le=1)
    factor: float = Field(default=2.0, ge=1, le=100)
    min_excess_m3h: float = Field(default=0.05, ge=0, le=1000)
    never_zero_h: float = Field(default=24.0, ge=1, le=14 * 24)
    zero_m3h: float = Field(default=0.002, ge=0, le=100)
    severity: Severity = "major"

    @model_validator(mode="after")
    def _window(self) -> LeakRules:
        if self.night_end <= self.night_start:
            raise ValueError("leak: night_end must be after night_start (same night, no midnight crossing)")
        return self


class DailyRules(_Model):
    baseline_weeks: int = Field(default=4, ge=2, le=26)
    min_baseline_days: int = Field(default=3, ge=2, le=26)
    recent_days: int = Field(default=3, ge=0, le=60, description="also compare with the last N days of the same type")
    mad_k: float = Field(default=3.5, gt=0, le=100)
    min_mad_relative: float = Field(default=0.05, ge=0, le=10, description="MAD floor, as a share of the median")
    min_relative: float = Field(default=0.5, ge=0, le=100)
    min_abs_kwh: float = Field(default=5.0, ge=0, le=1e9)
    min_abs_m3: float = Field(default=0.5, ge=0, le=1e9)
    low_days: bool = True
    severity: Severity = "minor"
    major_relative: float = Field(default=1.0, gt=0, le=1000, description="relative deviation that makes it major")
    peer_correction: bool = Field(default=True, description="withdraw what the meter's peers show site-wide")
    min_peers: int = Field(default=1, ge=1, le=1000, description="fewest peers with a judged day for the correction")

    @model_validator(mode="after")
    def _enough(self) -> DailyRules:
        if self.min_baseline_days > self.baseline_weeks:
            raise ValueError("daily: min_baseline_days cannot exceed baseline_weeks")
        return self


class BaseLoadRules(_Model):
    night_start: ClockTime = "22:00"
    night_end: ClockTime = "06:00"
    day_start: ClockTime = "09:00"
    day_end: ClockTime = "17:00"
    baseline_weeks: int = Field(default=2, ge=1, le=12)
    night_max_ratio: float = Field(default=0.5, gt=0, le=10)
    offday_max_ratio: float = Field(default=0.7, gt=0, le=10)
    min_excess_kw: float = Field(default=1.0, ge=0, le=1e6)
    recent_days: int = Field(default=3, ge=0, le=60, description="also against the last N working days (0: off)")
    exempt_uses: list[BuildingUse] = Field(default_factory=lambda: list[BuildingUse](["data_room"]))
    severity: Severity = "minor"
    peer_correction: bool = Field(default=True, description="withdraw what the meter's peers show site-wide")
    min_peers: int = Field(default=1, ge=1, le=1000, description="fewest peers with a judged window for the correction")

    @model_validator(mode="after")
    def _window(self) -> BaseLoadRules:
        if self.day_end <= self.day_start:
            raise ValueError("base_load: day_end must be after day_start")
        if self.night_end == self.night_start:
            raise ValueError("base_load: the night window is empty")
        return self


def _dq_severity() -> dict[DataQualityKind, Severity | Literal["off"]]:
    return {
        "replacement": "minor",
        "backwards": "minor",
        "jump": "minor",
        "rollover": "info",
        "gap": "info",
        "conflict": "info",
    }


def _flag_severity() -> dict[str, Severity]:
    return {"battery_low": "minor", "valve_closed": "major", "valve_abnormal": "major"}


class DataQualityRules(_Model):
    window_h: float = Field(default=24.0, ge=1, le=31 * 24)
    gap_factor: float = Field(default=2.0, ge=1, le=1000)
    severity: dict[DataQualityKind, Severity | Literal["off"]] = Field(default_factory=_dq_severity)
    flag_severity: dict[Annotated[str, Field(pattern=r"^[a-z0-9_]{1,40}$")], Severity] = Field(
        default_factory=_flag_severity
    )

    @field_validator("severity")
    @classmethod
    def _fill_severity(
        cls, value: dict[DataQualityKind, Severity | Literal["off"]]
    ) -> dict[DataQualityKind, Severity | Literal["off"]]:
        return {**_dq_severity(), **value}  # a site file names only the kinds it changes


class AlertRules(_Model):
    """Thresholds of every alert rule (documented field by field in docs/alerts.md)."""

    blind_spot_min_m: float = Field(default=2.0, ge=0, le=100_000)
    blind_spot_severity: list[BlindSpotSeverity] = Field(
        default_factory=lambda: [
            BlindSpotSeverity(max_priority=1, severity="critical"),
            BlindSpotSeverity(max_priority=2, min_length_m=10.0, severity="critical"),
            BlindSpotSeverity(max_priority=3, severity="major"),
        ],
        max_length=50,
    )
    blind_spot_default_severity: Severity = "minor"
    unzoned_priority: int = Field(default=3, ge=1, le=5)
    camera_unhealthy_hold_s: float = Field(default=30.0, ge=0, le=86_400)
    camera_unhealthy_severity: Severity = "minor"
    camera_lost_severity: Severity = "major"
    coverage_monitor_severity: Severity = "critical"
    gateway_silence_s: float = Field(default=1800.0, ge=10, le=30 * 86_400)
    gateway_offline_severity: Severity = "major"
    meter_stale_intervals: int = Field(default=4, ge=1, le=10_000)
    meter_stale_severity: Severity = "minor"
    check_interval_s: float = Field(default=60.0, ge=1, le=3600)
    energy_eval_interval_s: float = Field(default=900.0, ge=1, le=86_400)
    resolved_retain_s: float = Field(default=300.0, ge=0, le=7 * 86_400)
    calendar: WorkCalendarRules = WorkCalendarRules()
    leak: LeakRules = LeakRules()
    daily: DailyRules = DailyRules()
    base_load: BaseLoadRules = BaseLoadRules()
    data_quality: DataQualityRules = DataQualityRules()
    flap: FlapRules = FlapRules()


# -- energy accounting (docs/energy-api.md) ------------------------------------------------------


class CoalFactors(_Model):
    """Standard-coal coefficients in kgce per base unit (GB/T 2589); electricity at its equivalent value."""

    electricity_kgce_per_kwh: float = Field(default=0.1229, gt=0, le=10)
    water_kgce_per_m3: float | None = Field(default=None, gt=0, le=10, description="None: water is not energy")


class EfficiencyTargets(_Model):
    """Annual efficiency targets (the API prorates them over the period asked for); None: no target."""

    kwh_per_m2: float | None = Field(default=None, gt=0, le=1_000_000)
    kgce_per_m2: float | None = Field(default=None, gt=0, le=1_000_000)
    kgce_per_person: float | None = Field(default=None, gt=0, le=1e9)
    water_m3_per_person: float | None = Field(default=None, gt=0, le=1e9)


class EnergyTargets(_Model):
    site: EfficiencyTargets = EfficiencyTargets()
    buildings: dict[Ident, EfficiencyTargets] = Field(default_factory=dict, max_length=10_000)


class EnergySettings(_Model):
    """How consumption is added up and judged: coal coefficients, building main meters, targets."""

    coal: CoalFactors = CoalFactors()
    mains: list[Ident] | None = Field(
        default=None,
        max_length=100_000,
        description="meters measuring their building's whole supply of their kind; None: the default rule",
    )
    targets: EnergyTargets = EnergyTargets()


class SiteConfig(_Model):
    site: SiteInfo
    buildings: list[Building] = Field(min_length=1)
    meters: list[Meter] = Field(min_length=1)
    gateways: list[Gateway] = Field(default_factory=list)
    cameras: list[Camera] = Field(default_factory=list)
    perimeter: Perimeter | None = None
    ingest: IngestLimits = IngestLimits()
    alerts: AlertRules = AlertRules()
    energy: EnergySettings = EnergySettings()

    @model_validator(mode="after")
    def _energy_references(self) -> SiteConfig:
        buildings = {b.id for b in self.buildings}
        for building_id in self.energy.targets.buildings:
            if building_id not in buildings:
                raise ValueError(f"energy.targets.buildings: unknown building {building_id!r}")
        meters = {m.id for m in self.meters}
        for i, meter_id in enumerate(self.energy.mains or ()):
            if meter_id not in meters:
                raise ValueError(f"energy.mains.{i}: unknown meter {meter_id!r}")
        return self

    @model_validator(mode="after")
    def _cross_references(self) -> SiteConfig:
        _unique("buildings", [b.id for b in self.buildings])
        _unique("meters", [m.id for m in self.meters])
        _unique("gateways", [g.id for g in self.gateways])
        _unique("cameras", [c.id for c in self.cameras])
        buildings = {b.id for b in self.buildings}
        for i, meter in enumerate(self.meters):
            if meter.building not in buildings:
                raise ValueError(f"meters.{i}.building: unknown building {meter.building!r}")
        meters = {m.id for m in self.meters}
        owner: dict[str, str] = {}
        for i, gateway in enumerate(self.gateways):
            for meter_id in gateway.meters:
                if meter_id not in meters:
                    raise ValueError(f"gateways.{i}.meters: unknown meter {meter_id!r}")
                if meter_id in owner:
                    raise ValueError(
                        f"gateways.{i}.meters: meter {meter_id!r} already bound to gateway {owner[meter_id]!r}"
                    )
                owner[meter_id] = gateway.id
        addresses = [m.address for m in self.meters if m.address is not None]
        _unique("meter addresses", addresses)
        return self

    @cached_property
    def meter_by_id(self) -> dict[str, Meter]:
        return {m.id: m for m in self.meters}

    @cached_property
    def gateway_ids(self) -> frozenset[str]:
        return frozenset(g.id for g in self.gateways)

    @cached_property
    def gateway_of_meter(self) -> dict[str, str]:
        return {meter_id: g.id for g in self.gateways for meter_id in g.meters}

    @cached_property
    def building_by_id(self) -> dict[str, Building]:
        return {b.id: b for b in self.buildings}

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)


def _unique(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for ident in ids:
        if ident in seen:
            raise ValueError(f"{what}: duplicate id {ident!r}")
        seen.add(ident)


def load_site(path: str | Path) -> SiteConfig:
    """Read and validate a site file; raise ValueError naming the file and the bad field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read site file: {exc}") from exc
    return parse_site(data, source=str(path))


def parse_site(data: object, source: str = "<site>") -> SiteConfig:
    """Validate an already-loaded site document."""
    from pydantic import ValidationError

    try:
        return SiteConfig.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"{source}: invalid site file:\n{exc}") from exc
