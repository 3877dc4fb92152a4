"""Real InfluxDB and Mosquitto processes: readiness, restart, and the shared database fixtures."""

from __future__ import annotations

import httpx
import pytest

from ops.servers import ServerError, create_database, free_port, quote_ident
from tests.conftest import Broker, FreshInflux, InfluxTarget


def _write(url: str, db: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}/write", params={"db": db, "precision": "s"}, content=body, timeout=10)


def _values(url: str, db: str, query: str) -> list[list[object]]:
    body = httpx.get(f"{url}/query", params={"db": db, "q": query}, timeout=10).json()
    series = body["results"][0].get("series", [])
    return series[0]["values"] if series else []


def test_quote_ident_escapes_quotes_and_backslashes() -> None:
    assert quote_ident('a"b\\c') == '"a\\"b\\\\c"'


def test_free_port_is_bindable() -> None:
    assert 0 < free_port() < 65536


def test_create_database_rejects_bad_retention() -> None:
    with pytest.raises(ValueError):
        create_database("http://127.0.0.1:1", "x", retention="30 days; DROP")


def test_create_database_reports_unreachable_server() -> None:
    with pytest.raises(ServerError, match="unreachable"):
        create_database(f"http://127.0.0.1:{free_port()}", "x", timeout=1)


@pytest.mark.integration
def test_influx_db_accepts_write_and_query_returns_it(influx_db: InfluxTarget) -> None:
    response = _write(influx_db.url, influx_db.database, b"energy,meter=B1-E-MAIN value=12.5 1700000000")
    assert response.status_code == 204, response.text
    assert _values(influx_db.url, influx_db.database, "SELECT value, meter FROM energy") == [
        ["2023-11-14T22:13:20Z", 12.5, "B1-E-MAIN"]
    ]


@pytest.mark.integration
def test_create_database_with_retention(influx_db: InfluxTarget) -> None:
    name = influx_db.database + "_rp"
    create_database(influx_db.url, name, retention="400d")
    create_database(influx_db.url, name, retention="400d")  # idempotent with the same arguments
    with pytest.raises(ServerError, match="conflicts"):
        create_database(influx_db.url, name, retention="30d")
    rows = _values(influx_db.url, name, f"SHOW RETENTION POLICIES ON {quote_ident(name)}")
    assert rows[0][:2] == ["autogen", "9600h0m0s"]
    httpx.post(f"{influx_db.url}/query", data={"q": f"DROP DATABASE {quote_ident(name)}"}, timeout=10)


@pytest.mark.integration
def test_fresh_influx_keeps_data_across_restart_and_kill(fresh_influx: FreshInflux) -> None:
    url, db = fresh_influx.url, fresh_influx.database
    assert _write(url, db, b"m v=1 1700000000").status_code == 204

    fresh_influx.server.restart()
    assert _values(url, db, "SELECT v FROM m") == [["2023-11-14T22:13:20Z", 1.0]]

    fresh_influx.server.kill()
    with pytest.raises(httpx.ConnectError):
        _write(url, db, b"m v=2 1700000001")
    fresh_influx.server.kill()  # idempotent
    fresh_influx.server.start()
    fresh_influx.server.wait_ready()
    assert len(_values(url, db, "SELECT v FROM m")) == 1  # the WAL survived SIGKILL


@pytest.mark.integration
def test_broker_stop_is_idempotent_and_restart_reuses_port(broker: Broker) -> None:
    broker.process.stop()
    assert not broker.process.running
    broker.process.stop()
    broker.process.restart()
    assert broker.process.running and broker.process.port == broker.port
