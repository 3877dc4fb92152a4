"""The FastAPI application: `create_app(settings, keys)` wires the services and mounts the routers.

Later areas (alerts, cameras, perimeter coverage) plug in through `routers=` and `state=`: a router brings its
own role dependency (`api.deps.Operator` ...) and finds its services on `request.app.state.<name>`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from api.auth import KeyStore
from api.deps import Services
from api.energy.raw import RawOptions, RawReader
from api.energy.rollup import Rollup, RollupSettings, RollupThread
from api.energy.service import EnergyService
from api.energy.store import EnergyStore
from api.routes import alerts, cameras, energy, perimeter, reports, screen, system
from core.config import SiteConfig
from core.errors import SinkUnavailable
from ingest.influx import InfluxClient, InfluxSettings

logger = logging.getLogger(__name__)

PREFIX = "/api/v1"
DESCRIPTION = """
Energy consumption from cumulative meter registers (exact, local-calendar buckets), efficiency against last
year and targets, monthly building reports. Every `/api/v1` endpoint except `/health` needs an API key in the
`X-API-Key` header (or `Authorization: Bearer`); roles: reader (energy data) < operator (alerts) < admin.
See docs/energy-api.md.
"""


#: The alert, camera, perimeter and screen endpoints; they need `state={"alerting": api.deps.AlertServices(...)}`.
ALERT_ROUTERS = (alerts.router, cameras.router, perimeter.router, screen.router)
#: The alert screen's page and assets, mounted at the root (/screen).
SCREEN_PAGES = (screen.pages,)


class Worker(Protocol):
    """Something that runs in the background while the app runs (the alert screen's live state)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """How the API reaches its data and what it allows."""

    site: SiteConfig
    influx: InfluxSettings = field(default_factory=InfluxSettings)
    rollup: RollupSettings = field(default_factory=RollupSettings)
    raw: RawOptions = field(default_factory=RawOptions)
    state_ttl_s: float = 5.0  # how long the rollup coverage read from InfluxDB is reused
    max_buckets: int = 10_000
    background_rollup: bool = True  # run the rollup job every rollup.every_s while the app runs
    clock: Callable[[], float] = time.time  # wall clock (epoch s) deciding how far the rollups may go


def create_app(
    settings: ApiSettings,
    keys: KeyStore,
    *,
    client: InfluxClient | None = None,
    routers: Sequence[APIRouter] = (),
    state: Mapping[str, object] | None = None,
    pages: Sequence[APIRouter] = (),
    workers: Sequence[Worker] = (),
) -> FastAPI:
    """Build the app: energy services on InfluxDB, the key store, the energy routers plus `routers`.

    `pages` are mounted at the root (the alert screen at /screen); `workers` run while the app runs.
    """
    own_client = client is None
    influx = client or InfluxClient(settings.influx)
    store = EnergyStore(influx, settings.site)
    raw = RawReader(settings.site, store, settings.raw)
    energy_service = EnergyService(settings.site, store, raw, state_ttl_s=settings.state_ttl_s)
    rollup = Rollup(store, raw, settings.rollup, clock=settings.clock)
    services = Services(settings.site, energy_service, rollup, keys, settings.max_buckets)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        thread = None
        if settings.background_rollup and settings.rollup.every_s > 0:
            thread = RollupThread(rollup)
            thread.start()
        for worker in workers:
            worker.start()
        try:
            yield
        finally:
            for worker in reversed(workers):
                worker.stop()
            if thread is not None:
                thread.stop()
            if own_client:
                influx.close()

    app = FastAPI(
        title="Vigil API",
        version="1",
        description=DESCRIPTION,
        docs_url=f"{PREFIX}/docs",
        openapi_url=f"{PREFIX}/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    for name, value in (state or {}).items():
        setattr(app.state, name, value)
    for router in (system.router, energy.router, reports.router, *routers):
        app.include_router(router, prefix=PREFIX)
    for page in pages:
        app.include_router(page)

    @app.exception_handler(SinkUnavailable)
    async def _influx_down(request: Request, exc: SinkUnavailable) -> JSONResponse:
        logger.warning("InfluxDB unavailable serving %s: %s", request.url.path, exc)
        return JSONResponse({"detail": "the time-series database is unavailable; try again shortly"}, status_code=503)

    return app
