"""The site file: one YAML document describing a site, validated once at start-up."""

from __future__ import annotations

import math
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


class SiteConfig(_Model):
    site: SiteInfo
    buildings: list[Building] = Field(min_length=1)
    meters: list[Meter] = Field(min_length=1)
    gateways: list[Gateway] = Field(default_factory=list)
    cameras: list[Camera] = Field(default_factory=list)
    perimeter: Perimeter | None = None
    ingest: IngestLimits = IngestLimits()

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
