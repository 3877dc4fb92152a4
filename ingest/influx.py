"""InfluxDB through its v1-compatible HTTP API: `/write` (line protocol) and `/query` (InfluxQL)."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from core.errors import SinkRejected, SinkUnavailable

logger = logging.getLogger(__name__)

# Statuses that say the data itself is bad: retrying the same lines cannot succeed.
_DATA_ERRORS = frozenset({400, 413, 422})


@dataclass(frozen=True, slots=True)
class InfluxSettings:
    """Where and how to reach InfluxDB (1.x natively; 2.x/3.x through their v1 API)."""

    url: str = "http://127.0.0.1:8086"
    database: str = "vigil"
    retention_policy: str | None = None
    username: str | None = None
    password: str | None = None
    token: str | None = None  # InfluxDB 2.x/3.x: sent as "Authorization: Token ..."
    timeout_s: float = 10.0


def settings_from_args(args: argparse.Namespace, timeout_s: float = 10.0) -> InfluxSettings:
    """Build settings from `core.cli.add_influx_args` options; password and token only from the environment."""
    return InfluxSettings(
        url=args.influx_url,
        database=args.influx_db,
        retention_policy=args.influx_rp,
        username=args.influx_user,
        password=os.environ.get("VIGIL_INFLUX_PASSWORD"),
        token=os.environ.get("VIGIL_INFLUX_TOKEN"),
        timeout_s=timeout_s,
    )


class InfluxClient:
    """A small, thread-safe client for `/write`, `/query` and `/ping`."""

    def __init__(self, settings: InfluxSettings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        headers = {"Authorization": f"Token {settings.token}"} if settings.token else {}
        auth = (settings.username, settings.password or "") if settings.username else None
        self._http = httpx.Client(
            base_url=settings.url,
            headers=headers,
            auth=auth,
            timeout=settings.timeout_s,
            transport=transport,
        )

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def __enter__(self) -> InfluxClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def ping(self) -> bool:
        """Return True if the server answers `/ping`."""
        try:
            return self._http.get("/ping", timeout=2.0).status_code == 204
        except httpx.HTTPError:
            return False

    def write_lines(self, lines: Sequence[str], precision: str = "ms") -> None:
        """Write line-protocol lines; raise SinkRejected for bad data, SinkUnavailable otherwise."""
        if not lines:
            return
        params = {"db": self.settings.database, "precision": precision}
        if self.settings.retention_policy:
            params["rp"] = self.settings.retention_policy
        body = "\n".join(lines).encode()
        try:
            response = self._http.post("/write", params=params, content=body)
        except httpx.HTTPError as exc:
            raise SinkUnavailable(f"InfluxDB write failed: {exc!r}") from exc
        if response.status_code == 204:
            return
        text = response.text[:500]
        if response.status_code in _DATA_ERRORS:
            raise SinkRejected(f"InfluxDB refused the data: {text}", response.status_code, text)
        raise SinkUnavailable(f"InfluxDB answered {response.status_code}: {text}")

    def query(self, q: str, epoch: str = "ms", method: str = "GET") -> list[dict[str, Any]]:
        """Run InfluxQL and return the series of the first statement (empty list if none)."""
        results = self.query_all(q, epoch=epoch, method=method)
        return results[0].get("series", []) if results else []

    def query_all(self, q: str, epoch: str = "ms", method: str = "GET") -> list[dict[str, Any]]:
        """Run InfluxQL (one or more statements) and return every statement's result."""
        params = {"db": self.settings.database, "q": q, "epoch": epoch}
        if self.settings.retention_policy:
            params["rp"] = self.settings.retention_policy
        try:
            if method == "POST":
                response = self._http.post("/query", data=params)
            else:
                response = self._http.get("/query", params=params)
        except httpx.HTTPError as exc:
            raise SinkUnavailable(f"InfluxDB query failed: {exc!r}") from exc
        if response.status_code >= 500:
            raise SinkUnavailable(f"InfluxDB answered {response.status_code}: {response.text[:500]}")
        body = response.json()
        if response.status_code >= 400 or "error" in body:
            raise ValueError(f"InfluxQL error: {body.get('error', response.text[:500])}")
        results: list[dict[str, Any]] = body.get("results", [])
        for result in results:
            if "error" in result:
                raise ValueError(f"InfluxQL error: {result['error']}")
        return results

    def create_database(self) -> None:
        """Create the configured database if it does not exist (idempotent)."""
        name = self.settings.database.replace('"', "")
        self.query_all(f'CREATE DATABASE "{name}"', method="POST")
