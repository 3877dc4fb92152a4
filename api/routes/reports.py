"""Efficiency of buildings and the site, and the monthly building report."""

from __future__ import annotations

import csv
import io
import time
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import HTMLResponse, Response

from api.deps import Reader, Services, invalid, services, time_range
from api.efficiency import METRICS, compare, figures, year_earlier
from api.energy.calendar import iso_local
from api.energy.cells import from_micro
from api.energy.service import BucketValue, SeriesValue
from api.report import MonthlyReport, monthly_report, to_csv, to_html, to_markdown
from api.schemas import (
    BuildingOut,
    CoalOut,
    DayOut,
    EfficiencyOut,
    EntityEfficiencyOut,
    FiguresOut,
    MeterQualityOut,
    MonthlyReportOut,
)

router = APIRouter(tags=["efficiency and reports"])
Svc = Annotated[Services, Depends(services)]
_FIGURES = ("electricity_kwh", "water_m3", "kgce", *METRICS)


def _coal(svc: Services) -> CoalOut:
    coal = svc.site.energy.coal
    return CoalOut(electricity_kgce_per_kwh=coal.electricity_kgce_per_kwh, water_kgce_per_m3=coal.water_kgce_per_m3)


@router.get("/efficiency", response_model=EfficiencyOut, responses={200: {"content": {"text/csv": {}}}})
def efficiency(
    _: Reader,
    svc: Svc,
    start: Annotated[str, Query(description="inclusive; YYYY-MM-DD or ISO time on a whole local hour")],
    end: Annotated[str, Query(description="exclusive")],
    building: Annotated[str | None, Query(description="only this building (the site row is then left out)")] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> EfficiencyOut | Response:
    """kWh/m², kgce/m², kgce and water m³ per person, against the same period last year and the targets."""
    if building is not None and building not in svc.site.building_by_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown building {building!r}")
    start_ms, end_ms = time_range(start, end, svc.site)
    comparisons = compare(svc.energy, start_ms, end_ms, building)
    tz = svc.site.tz
    body = EfficiencyOut(
        timezone=svc.site.site.timezone,
        start=iso_local(start_ms, tz),
        end=iso_local(end_ms, tz),
        last_year_start=iso_local(year_earlier(start_ms, svc.energy), tz),
        last_year_end=iso_local(year_earlier(end_ms, svc.energy), tz),
        coal=_coal(svc),
        entities=[EntityEfficiencyOut.of(c) for c in comparisons],
    )
    if format == "csv":
        return Response(
            efficiency_csv(body),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="efficiency.csv"'},
        )
    return body


def efficiency_csv(body: EfficiencyOut) -> str:
    """One row per building and the site."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    header = ["type", "id", "name", "floor_area_m2", "occupants", "start", "end"]
    header += [f"{f}" for f in _FIGURES] + [f"{f}_last_year" for f in _FIGURES]
    header += [f"{m}_change_pct" for m in METRICS] + [f"{m}_target" for m in METRICS]
    header += [f"{m}_vs_target_pct" for m in METRICS]
    header += ["electricity_completeness_pct", "water_completeness_pct"]
    writer.writerow(header)
    for e in body.entities:
        cur, old = e.current.model_dump(), e.last_year.model_dump()
        row: list[object] = [e.type, e.id, e.name, e.floor_area_m2, e.occupants, body.start, body.end]
        row += [cur[f] for f in _FIGURES] + [old[f] for f in _FIGURES]
        row += [e.change_pct[m] for m in METRICS] + [e.target[m] for m in METRICS]
        row += [e.vs_target_pct[m] for m in METRICS]
        row += [cur["electricity_completeness_pct"], cur["water_completeness_pct"]]
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


@router.get(
    "/reports/buildings/{building_id}/monthly",
    response_model=MonthlyReportOut,
    responses={200: {"content": {"text/csv": {}, "text/html": {}, "text/markdown": {}}}},
)
def building_monthly_report(
    building_id: str,
    _: Reader,
    svc: Svc,
    month: Annotated[str, Query(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="local calendar month, YYYY-MM")],
    format: Annotated[Literal["json", "csv", "html", "md"], Query()] = "json",
) -> MonthlyReportOut | Response:
    """A building's monthly energy report: totals, sub-items, day by day, efficiency, data quality."""
    if building_id not in svc.site.building_by_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown building {building_id!r}")
    if not 1971 <= int(month[:4]) <= 9998:
        raise invalid("month", "year out of range", month)
    first = date(int(month[:4]), int(month[5:]), 1)
    report = monthly_report(svc.energy, building_id, first, int(time.time() * 1000))
    filename = f"energy-report_{svc.site.site.id}_{building_id}_{month}"
    if format == "csv":
        return Response(
            to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
        )
    if format == "html":
        return HTMLResponse(to_html(report))
    if format == "md":
        return Response(
            to_markdown(report),
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'inline; filename="{filename}.md"'},
        )
    return report_out(report, svc)


def report_out(report: MonthlyReport, svc: Services) -> MonthlyReportOut:
    """The report as a JSON body."""
    b = report.building
    tz = report.tz

    def day(i: int | None, label: str) -> DayOut:
        elec = None if report.electricity is None else _bucket(report.electricity, i)
        water = None if report.water is None else _bucket(report.water, i)
        other = report.other_u(i)
        flags: set[str] = set()
        for s in report.meters:
            flags |= _bucket(s, i).tally.flags
        return DayOut(
            date=label,
            electricity_kwh=None if elec is None else from_micro(elec.tally.amount_u),
            items_kwh={s.group.name: from_micro(_bucket(s, i).tally.amount_u) for s in report.items},
            other_kwh=None if other is None else from_micro(other),
            water_m3=None if water is None else from_micro(water.tally.amount_u),
            electricity_completeness_pct=None if elec is None else round(elec.completeness_pct, 3),
            water_completeness_pct=None if water is None else round(water.completeness_pct, 3),
            estimated_kwh=None if elec is None else from_micro(elec.tally.estimated_u),
            flags=sorted(flags),
        )

    entity = report.comparison.entity
    previous = figures(report.previous, entity, svc.site.energy.coal)
    total = day(None, "total")
    return MonthlyReportOut(
        site=report.site_id,
        building=BuildingOut(id=b.id, name=b.name, use=b.use, floor_area_m2=b.floor_area_m2, occupants=b.occupants),
        month=f"{report.month:%Y-%m}",
        timezone=report.timezone,
        generated=iso_local(report.generated_ms, tz),
        source=report.source,
        efficiency=EntityEfficiencyOut.of(report.comparison),
        previous_month=FiguresOut.of(previous),
        items_kwh=total.items_kwh,
        other_kwh=total.other_kwh,
        days=[day(i, d.isoformat()) for i, d in enumerate(report.days)],
        total=total,
        meters=[
            MeterQualityOut(
                meter=s.group.name,
                unit=s.group.unit,
                amount=from_micro(s.total.tally.amount_u),
                estimated=from_micro(s.total.tally.estimated_u),
                completeness_pct=round(s.total.completeness_pct, 3),
                flags=sorted(s.total.tally.flags),
            )
            for s in report.meters
        ],
    )


def _bucket(series: SeriesValue, i: int | None) -> BucketValue:
    return series.total if i is None else series.buckets[i]
