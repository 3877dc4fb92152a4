"""Fixtures of the API tests: simulator data loaded into a real InfluxDB, an app with keys of every role."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.app import ApiSettings, create_app
from api.auth import KeyStore, Role, hash_key
from api.energy.raw import RawReader
from api.energy.rollup import Rollup
from api.energy.store import EnergyStore
from core.config import SiteConfig
from ingest.influx import InfluxClient, InfluxSettings
from ingest.lineprotocol import to_line_protocol
from ingest.payload import parse_payload
from simulators.meters.faults import FaultPlan
from simulators.meters.generator import generate_site
from simulators.meters.truth import Publication
from tests.conftest import InfluxTarget

with warnings.catch_warnings():  # starlette 1.x would rather have httpx2; httpx works the same
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

KEYS = {
    Role.READER: "reader-key-0123456789abcdefghijkl",
    Role.OPERATOR: "operator-key-0123456789abcdefghij",
    Role.ADMIN: "admin-key-0123456789abcdefghijklmn",
}


def load(
    site: SiteConfig,
    client: InfluxClient,
    start: datetime,
    end: datetime,
    seed: int = 7,
    faults: FaultPlan | None = None,
) -> list[Publication]:
    """Generate readings with the simulator and store what the collector would: parse, encode, write."""
    publications = list(generate_site(site, seed, start, end, faults=faults))
    lines: list[str] = []
    for pub in publications:
        if pub.is_status:
            continue
        result = parse_payload(pub.topic, pub.payload, site, pub.due_ms)
        lines += [to_line_protocol(r) for r in result.readings]
    for i in range(0, len(lines), 5000):
        client.write_lines(lines[i : i + 5000])
    return publications


@dataclass
class Env:
    """A site's data in its own database, the app on it, and the rollup job."""

    site: SiteConfig
    influx: InfluxClient
    store: EnergyStore
    rollup: Rollup
    client: TestClient

    def get(self, path: str, role: Role | None = Role.READER, **params: object) -> httpx.Response:
        """GET /api/v1/{path} with the key of `role`."""
        headers = {"X-API-Key": KEYS[role]} if role is not None else {}
        return self.client.get(f"/api/v1/{path}", params=params, headers=headers)

    def roll_up(self, start: datetime, end: datetime) -> None:
        """Build the rollups of [start, end) (site-local)."""
        tz = self.site.tz
        self.rollup.build(
            int(start.replace(tzinfo=tz).timestamp() * 1000), int(end.replace(tzinfo=tz).timestamp() * 1000)
        )


#: The wall clock of the app in these tests: the data is from early 2024 (and 2023).
NOW = datetime(2024, 3, 10, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


@pytest.fixture
def keys() -> KeyStore:
    """One key of each role."""
    return KeyStore([hash_key(role.name.lower(), role, key) for role, key in KEYS.items()])


@contextmanager
def make_env(site: SiteConfig, target: InfluxTarget, keys: KeyStore) -> Iterator[Env]:
    """The app for `site` on `target`'s database, with the clock at NOW and no background rollup."""
    influx = InfluxClient(InfluxSettings(url=target.url, database=target.database, timeout_s=60))
    store = EnergyStore(influx, site)
    rollup = Rollup(store, RawReader(site, store), clock=lambda: NOW)
    settings = ApiSettings(site=site, influx=influx.settings, background_rollup=False, state_ttl_s=0, clock=lambda: NOW)
    try:
        with TestClient(create_app(settings, keys, client=influx)) as client:
            yield Env(site, influx, store, rollup, client)
    finally:
        influx.close()


@pytest.fixture
def env(test_site: SiteConfig, influx_db: InfluxTarget, keys: KeyStore) -> Iterator[Env]:
    """The app on an empty database of its own (tests load what they need)."""
    with make_env(test_site, influx_db, keys) as e:
        yield e
