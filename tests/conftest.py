"""Shared fixtures: real Mosquitto and InfluxDB servers on free ports in temp dirs, and a small site."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from core.config import SiteConfig, parse_site
from ops.broker import broker_accounts, write_broker_config
from ops.secrets import load_or_create_secrets
from ops.servers import InfluxDB, Mosquitto, create_database, free_port, quote_ident


@dataclass(frozen=True, slots=True)
class InfluxTarget:
    """A database of its own on the shared InfluxDB server."""

    url: str
    database: str


@dataclass(frozen=True, slots=True)
class FreshInflux:
    """An InfluxDB server of the test's own (free to stop, kill, restart) with one database."""

    url: str
    database: str
    server: InfluxDB


@dataclass(frozen=True, slots=True)
class Broker:
    """A Mosquitto broker configured for `site`, with the password of every account."""

    host: str
    port: int
    passwords: dict[str, str]
    process: Mosquitto
    site: SiteConfig
    directory: Path


def build_test_site(site_id: str) -> SiteConfig:
    """Build a small valid site: 2 buildings, 7 meters (every item code), gateways gw-a and gw-b."""
    elec = {"kind": "electricity", "resolution": 0.01, "rollover": 999999.99}
    water = {"kind": "water", "item": "02", "resolution": 0.001, "rollover": 99999.999}
    return parse_site(
        {
            "site": {"id": site_id, "name": f"Test site {site_id}", "timezone": "Asia/Shanghai"},
            "buildings": [
                {"id": "B1", "name": "Office", "use": "office", "floor_area_m2": 5000, "occupants": 200},
                {"id": "B2", "name": "Canteen", "use": "canteen", "floor_area_m2": 800, "occupants": 20},
            ],
            "meters": [
                {"id": "B1-E-MAIN", "building": "B1", "item": "01E", "multiplier": 80.0, **elec},
                {"id": "B1-E-LGT", "building": "B1", "item": "01A", **elec},
                {"id": "B1-E-HVAC", "building": "B1", "item": "01B", **elec},
                {"id": "B1-W-MAIN", "building": "B1", **water},
                {"id": "B2-E-PWR", "building": "B2", "item": "01C", **elec},
                {"id": "B2-E-KIT", "building": "B2", "item": "01D", **elec},
                {"id": "B2-W-MAIN", "building": "B2", **water},
            ],
            "gateways": [
                {"id": "gw-a", "meters": ["B1-E-MAIN", "B1-E-LGT", "B1-E-HVAC", "B1-W-MAIN"]},
                {"id": "gw-b", "meters": ["B2-E-PWR", "B2-E-KIT", "B2-W-MAIN"]},
            ],
        },
        source="tests/conftest.py",
    )


@pytest.fixture
def test_site() -> SiteConfig:
    """A small site with a unique id, so topics never collide between tests."""
    return build_test_site(f"t{uuid.uuid4().hex[:8]}")


@pytest.fixture
def broker(test_site: SiteConfig, tmp_path: Path) -> Iterator[Broker]:
    """A Mosquitto broker of the test's own for `test_site`, ready to accept clients."""
    directory = tmp_path / "mosquitto"
    passwords = load_or_create_secrets(tmp_path / "secrets.json", broker_accounts(test_site))
    port = free_port()
    conf = write_broker_config(directory, test_site, passwords, port)
    process = Mosquitto(conf, port)
    try:
        process.start()
        process.wait_ready()
        yield Broker("127.0.0.1", port, passwords, process, test_site, directory.resolve())
    finally:
        process.stop()


def _start_influx(data_dir: Path) -> InfluxDB:
    server = InfluxDB(data_dir, free_port())
    try:
        server.start()
        server.wait_ready()
    except BaseException:
        server.kill()
        raise
    return server


@pytest.fixture(scope="session")
def influx_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB]:
    """One InfluxDB server shared by the whole session; tests get their own database via `influx_db`."""
    server = _start_influx(tmp_path_factory.mktemp("influx"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def influx_db(influx_server: InfluxDB) -> Iterator[InfluxTarget]:
    """A fresh, uniquely named database on the shared server, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    create_database(influx_server.url, name)
    try:
        yield InfluxTarget(influx_server.url, name)
    finally:
        if influx_server.running:
            httpx.post(f"{influx_server.url}/query", data={"q": f"DROP DATABASE {quote_ident(name)}"}, timeout=10)


@pytest.fixture
def fresh_influx(tmp_path: Path) -> Iterator[FreshInflux]:
    """An InfluxDB server of the test's own, for tests that stop, kill or restart it."""
    server = _start_influx(tmp_path / "influx")
    try:
        database = "vigil"
        create_database(server.url, database)
        yield FreshInflux(server.url, database, server)
    finally:
        server.stop()
