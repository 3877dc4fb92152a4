"""Health, who am I, the site as the API sees it, and the admin's rollup rebuild."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import Admin, Reader, Services, parse_time, services
from api.energy.calendar import iso_local
from api.schemas import BuildingOut, CoalOut, HealthOut, MeterOut, RollupOut, RollupRequest, SiteOut, WhoAmIOut

router = APIRouter(tags=["system"])
Svc = Annotated[Services, Depends(services)]


@router.get("/health", response_model=HealthOut)
def health(svc: Svc) -> HealthOut:
    """Liveness without a key: is InfluxDB reachable, how far are the rollups."""
    ok = svc.energy.store.client.ping()
    state = svc.energy.rollup_state() if ok else None
    until = iso_local(state.until_ms, svc.site.tz) if state else None
    return HealthOut(status="ok" if ok else "degraded", influxdb=ok, rollup_until=until)


@router.get("/whoami", response_model=WhoAmIOut)
def whoami(principal: Reader) -> WhoAmIOut:
    """The name and role of the key used."""
    return WhoAmIOut(name=principal.name, role=principal.role.name.lower())


@router.get("/site", response_model=SiteOut)
def site(_: Reader, svc: Svc) -> SiteOut:
    """Buildings, meters (and which are mains), coal coefficients and the rollup coverage."""
    s, tz = svc.site, svc.site.tz
    mains = svc.energy.topology.mains
    state = svc.energy.rollup_state()
    coal = s.energy.coal
    return SiteOut(
        id=s.site.id,
        name=s.site.name,
        timezone=s.site.timezone,
        buildings=[
            BuildingOut(id=b.id, name=b.name, use=b.use, floor_area_m2=b.floor_area_m2, occupants=b.occupants)
            for b in s.buildings
        ],
        meters=[
            MeterOut(id=m.id, building=m.building, kind=m.kind, item=m.item, name=m.name, main=m.id in mains)
            for m in s.meters
        ],
        coal=CoalOut(electricity_kgce_per_kwh=coal.electricity_kgce_per_kwh, water_kgce_per_m3=coal.water_kgce_per_m3),
        rollup_from=iso_local(state.from_ms, tz) if state else None,
        rollup_until=iso_local(state.until_ms, tz) if state else None,
    )


@router.post("/admin/rollup", response_model=RollupOut)
def rebuild_rollup(body: RollupRequest, _: Admin, svc: Svc) -> RollupOut:
    """Recompute the hourly and daily rollups from a local day up to the settled present (may take a while)."""
    start_ms = parse_time(body.start, "start", svc.site)
    rollup = svc.rollup
    until = rollup.settled_ms(int(rollup.clock() * 1000))
    run = rollup.build(start_ms, until)
    svc.energy.forget_state()
    tz = svc.site.tz
    if run is None:
        return RollupOut(
            start=iso_local(start_ms, tz), until=iso_local(until, tz), meter_hours=0, meter_days=0, seconds=0
        )
    return RollupOut(
        start=iso_local(run.start_ms, tz),
        until=iso_local(run.until_ms, tz),
        meter_hours=run.hours,
        meter_days=run.days,
        seconds=round(run.seconds, 3),
    )
