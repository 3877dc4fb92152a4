"""Consumption endpoints: per meter, building, sub-item and site, as JSON or CSV."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import Response

from api.deps import Reader, Services, check_buckets, invalid, services, time_range
from api.energy.calendar import BucketSize, iso_local
from api.energy.cells import decimal_text
from api.energy.service import ConsumptionResult, Source
from api.energy.topology import Group
from api.schemas import ConsumptionOut, Scope
from core.types import Item, Kind

router = APIRouter(prefix="/consumption", tags=["energy"])

Start = Annotated[
    str,
    Query(
        description="inclusive; YYYY-MM-DD (local midnight) or ISO time on a whole local hour; no offset = site time"
    ),
]
End = Annotated[str, Query(description="exclusive; same forms as start")]
Bucket = Annotated[BucketSize, Query(description="local-calendar bucket; week = ISO week from Monday")]
Format = Annotated[Literal["json", "csv"], Query(description="csv: the same buckets as a CSV download")]
SourceQ = Annotated[Source, Query(description="auto: rollups where valid, raw registers elsewhere; raw: raw only")]
Svc = Annotated[Services, Depends(services)]
Breakdown = Literal["none", "item", "meter", "building"]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}
}


def _answer(
    scope: Scope, ident: str | None, result: ConsumptionResult, fmt: str, svc: Services
) -> ConsumptionOut | Response:
    if fmt == "csv":
        name = f"consumption_{scope}{'_' + ident if ident else ''}_{result.size.value}.csv"
        return Response(
            consumption_csv(result, svc),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return ConsumptionOut.of(scope, ident, result, svc.site.site.timezone)


def consumption_csv(result: ConsumptionResult, svc: Services) -> str:
    """One row per series and bucket; amounts exact, so the rows of a series add up to its total."""
    tz = svc.site.tz
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["series", "kind", "item", "unit", "start", "end", "amount", "estimated", "completeness_pct", "flags"]
    )
    for s in result.series:
        g = s.group
        for b in s.buckets:
            writer.writerow(
                [
                    g.name,
                    g.kind.value,
                    g.item.value if g.item else "",
                    g.unit,
                    iso_local(b.start_ms, tz),
                    iso_local(b.end_ms, tz),
                    decimal_text(b.tally.amount_u),
                    decimal_text(b.tally.estimated_u),
                    f"{b.completeness_pct:.3f}",
                    ",".join(sorted(b.tally.flags)),
                ]
            )
    return out.getvalue()


def _run(
    svc: Services, groups: list[Group], start: str, end: str, bucket: BucketSize, source: Source
) -> ConsumptionResult:
    start_ms, end_ms = time_range(start, end, svc.site)
    check_buckets(start_ms, end_ms, bucket, svc.max_buckets)
    groups = [g for g in groups if g.meters]
    if not groups:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no meters match this query")
    return svc.energy.consumption(groups, start_ms, end_ms, bucket, source)


def _groups(svc: Services, building: str | None, kind: Kind | None, item: Item | None, breakdown: str) -> list[Group]:
    topo = svc.energy.topology
    if item is not None:
        if kind is not None and (kind is Kind.WATER) != (item is Item.WATER):
            raise invalid("item", f"item {item.value} is not a {kind.value} item", item.value)
        if breakdown not in ("none", "meter"):
            raise invalid("breakdown", "with an item, breakdown can only be none or meter", breakdown)
        group = topo.item(item, building)
        meters = [topo.meter(m) for m in group.meters] if breakdown == "meter" else []
        return [group, *meters]
    groups: list[Group] = []
    for k in [kind] if kind is not None else topo.kinds(building):
        groups.append(topo.total(k, building))
        if breakdown == "item":
            groups += topo.items(k, building)
        elif breakdown == "meter":
            groups += topo.meters(k, building)
        elif breakdown == "building":
            groups += topo.buildings(k)
    return groups


@router.get("/meters/{meter_id}", response_model=ConsumptionOut, responses=CSV_RESPONSE)
def meter_consumption(
    meter_id: str,
    _: Reader,
    svc: Svc,
    start: Start,
    end: End,
    bucket: Bucket = BucketSize.DAY,
    format: Format = "json",
    source: SourceQ = "auto",
) -> ConsumptionOut | Response:
    """Consumption of one meter."""
    if meter_id not in svc.site.meter_by_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown meter {meter_id!r}")
    result = _run(svc, [svc.energy.topology.meter(meter_id)], start, end, bucket, source)
    return _answer("meter", meter_id, result, format, svc)


@router.get("/buildings/{building_id}", response_model=ConsumptionOut, responses=CSV_RESPONSE)
def building_consumption(
    building_id: str,
    _: Reader,
    svc: Svc,
    start: Start,
    end: End,
    bucket: Bucket = BucketSize.DAY,
    kind: Annotated[Kind | None, Query(description="default: every kind metered")] = None,
    item: Annotated[Item | None, Query(description="one energy sub-item instead of the totals")] = None,
    breakdown: Annotated[Breakdown, Query(description="also split the totals by item or meter")] = "none",
    format: Format = "json",
    source: SourceQ = "auto",
) -> ConsumptionOut | Response:
    """A building's total per kind (main meters, else the sum of its meters), optionally split up."""
    if building_id not in svc.site.building_by_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown building {building_id!r}")
    if breakdown == "building":
        raise invalid("breakdown", "a building cannot be broken down by building", breakdown)
    groups = _groups(svc, building_id, kind, item, breakdown)
    result = _run(svc, groups, start, end, bucket, source)
    return _answer("building", building_id, result, format, svc)


@router.get("/items/{item}", response_model=ConsumptionOut, responses=CSV_RESPONSE)
def item_consumption(
    item: Item,
    _: Reader,
    svc: Svc,
    start: Start,
    end: End,
    bucket: Bucket = BucketSize.DAY,
    building: Annotated[str | None, Query(description="only this building")] = None,
    breakdown: Annotated[Literal["none", "meter"], Query()] = "none",
    format: Format = "json",
    source: SourceQ = "auto",
) -> ConsumptionOut | Response:
    """An energy sub-item (01A lighting & sockets, 01B HVAC, 01C power, 01D special, 01E mains, 02 water)."""
    if building is not None and building not in svc.site.building_by_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown building {building!r}")
    result = _run(svc, _groups(svc, building, None, item, breakdown), start, end, bucket, source)
    return _answer("item", item.value, result, format, svc)


@router.get("/site", response_model=ConsumptionOut, responses=CSV_RESPONSE)
def site_consumption(
    _: Reader,
    svc: Svc,
    start: Start,
    end: End,
    bucket: Bucket = BucketSize.DAY,
    kind: Annotated[Kind | None, Query(description="default: every kind metered")] = None,
    item: Annotated[Item | None, Query(description="one energy sub-item instead of the totals")] = None,
    breakdown: Annotated[Breakdown, Query(description="also split the totals by item, building or meter")] = "none",
    format: Format = "json",
    source: SourceQ = "auto",
) -> ConsumptionOut | Response:
    """The site's total per kind (the sum of its buildings), optionally split up."""
    result = _run(svc, _groups(svc, None, kind, item, breakdown), start, end, bucket, source)
    return _answer("site", None, result, format, svc)
