"""Energy API latency: a year of 15-minute data for 50 meters, the API against the raw InfluxQL fetch, one run.

    .venv/bin/python bench/api.py [--reps 20] [--meters 50] [--year 2024] [--keep DIR]

Starts its own InfluxDB (ops.servers.InfluxDB on a free loopback port, temp dir), loads a year of readings of
the first 50 meters of sites/demo.yaml from the seeded simulator (line protocol, 5000 lines a request), builds
the consumption rollups (`api.energy.rollup`), serves the API with uvicorn on a free port and measures, over
HTTP with an API key, p50/p95 of:

  a. the one-year monthly report of one building: GET /consumption/buildings/B01, bucket=month, every kind
     with its sub-item split, a calendar year;
  b. one day hourly for the site: GET /consumption/site, bucket=hour, every kind with the building split;
  c. the raw InfluxQL queries that fetch the same registers (what an API without rollups must read at least);
  d. the same two API queries with source=raw (rollups bypassed: the cost they avoid), fewer repetitions.

The last line is `RESULT monthly_p95_ms=<a p95> daily_p95_ms=<b p95>`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/api.py`, this file's folder comes first on sys.path and would shadow the `api` package.
if Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import logging
import os
import queue
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import uvicorn
import yaml

from api.app import ApiSettings, create_app
from api.auth import KeyStore, Role, hash_key, new_key
from api.energy.calendar import day_start_ms
from api.energy.raw import RawReader
from api.energy.rollup import Rollup
from api.energy.store import EnergyStore, quote_literal
from core.config import SiteConfig, parse_site
from core.types import Reading
from ingest.influx import InfluxClient, InfluxSettings
from ingest.lineprotocol import to_line_protocol
from ops.servers import InfluxDB, create_database, free_port
from simulators.meters.generator import generate_site

logger = logging.getLogger("bench.api")
ROOT = Path(__file__).resolve().parent.parent
BATCH = 5000
DATABASE = "vigil"
MONTHLY = "a. API one building, a year by month (+items)"
DAILY = "b. API site, one day by hour (+buildings)"


def bench_site(meters: int) -> SiteConfig:
    """The demo site cut to its first `meters` meters, every gateway sending JSON (no transparent DTUs)."""
    doc = yaml.safe_load((ROOT / "sites" / "demo.yaml").read_text(encoding="utf-8"))
    for m in doc["meters"]:
        m.pop("address", None)
    doc["meters"] = doc["meters"][:meters]
    keep = {m["id"] for m in doc["meters"]}
    gateways = []
    for g in doc["gateways"]:
        ids = [m for m in g["meters"] if m in keep]
        if ids:
            gateways.append({"id": g["id"], "meters": ids})
    doc["gateways"] = gateways
    doc.pop("cameras", None)
    doc.pop("perimeter", None)
    return parse_site(doc, source="bench site")


def lines_of(site: SiteConfig, start: datetime, end: datetime) -> Iterator[list[str]]:
    """Line-protocol batches of every reading the simulator sends for [start, end) (no faults)."""
    batch: list[str] = []
    for pub in generate_site(site, 1, start, end):
        gateway = pub.gateway
        for r in pub.readings:
            m = site.meter_by_id[r.meter]
            reading = Reading(
                site.site.id, m.building, m.id, m.kind, m.item, r.ts_ms, r.value, r.raw, r.unit, gateway, r.seq
            )
            batch.append(to_line_protocol(reading))
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def load(client: InfluxClient, site: SiteConfig, start: datetime, end: datetime) -> int:
    """Generate and write, the writes in a thread of their own so generation and InfluxDB overlap."""
    pending: queue.Queue[list[str] | None] = queue.Queue(maxsize=8)
    errors: list[BaseException] = []

    def writer() -> None:
        while (lines := pending.get()) is not None:
            try:
                client.write_lines(lines)
            except BaseException as exc:  # reported after the join
                errors.append(exc)

    thread = threading.Thread(target=writer, name="writer", daemon=True)
    thread.start()
    count = 0
    for batch in lines_of(site, start, end):
        pending.put(batch)
        count += len(batch)
    pending.put(None)
    thread.join()
    if errors:
        raise errors[0]
    return count


def timed(fn: Callable[[], Any], reps: int, warmup: int = 2) -> list[float]:
    """Wall times in ms of `reps` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(reps):
        began = time.perf_counter()
        fn()
        out.append((time.perf_counter() - began) * 1000)
    return out


def p95(values: list[float]) -> float:
    """95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


class Server:
    """uvicorn serving the app in a thread, on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table and the RESULT line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--raw-reps", type=int, default=5, help="repetitions of the source=raw API queries")
    p.add_argument("--meters", type=int, default=50)
    p.add_argument("--year", type=int, default=2024)
    p.add_argument("--building", default="B01")
    p.add_argument("--day", default=None, help="local day of the hourly query (default: 12 June of --year)")
    p.add_argument("--keep", help="keep the InfluxDB data in this directory (default: a temp dir, removed)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    site = bench_site(args.meters)
    tz = site.tz
    start, end = datetime(args.year, 1, 1), datetime(args.year + 1, 1, 1)
    day = args.day or f"{args.year}-06-12"
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="vigil-bench-api-"))
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs; work dir {workdir}")
    server = InfluxDB(workdir / "influxdb", free_port())
    server.start()
    try:
        server.wait_ready()
        create_database(server.url, DATABASE)
        client = InfluxClient(InfluxSettings(url=server.url, database=DATABASE, timeout_s=300))

        began = time.monotonic()
        n = load(client, site, start, end)
        load_s = time.monotonic() - began
        print(f"loaded {n:,} readings of {len(site.meters)} meters in {load_s:.1f} s ({n / load_s:,.0f}/s)")

        store = EnergyStore(client, site)
        rollup = Rollup(store, RawReader(site, store))
        began = time.monotonic()
        run = rollup.build(day_start_ms(start.date(), tz), day_start_ms(end.date(), tz))
        if run is None:
            raise RuntimeError("the rollup found nothing to do")
        print(f"rollup: {run.hours:,} meter-hours, {run.days:,} meter-days in {time.monotonic() - began:.1f} s")

        key = new_key()
        keys = KeyStore([hash_key("bench", Role.READER, key)])
        settings = ApiSettings(site=site, influx=client.settings, background_rollup=False)
        app = create_app(settings, keys, client=client)
        rows = measure(app, client, site, args, key, day)
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    print()
    print(f"{'query':<58} {'reps':>5} {'p50 ms':>9} {'p95 ms':>9}")
    for label, times in rows.items():
        print(f"{label:<58} {len(times):>5} {statistics.median(times):>9.1f} {p95(times):>9.1f}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    monthly, daily = rows[MONTHLY], rows[DAILY]
    print(f"RESULT monthly_p95_ms={p95(monthly):.1f} daily_p95_ms={p95(daily):.1f}")
    return 0


def measure(
    app: Any, client: InfluxClient, site: SiteConfig, args: argparse.Namespace, key: str, day: str
) -> dict[str, list[float]]:
    """Time every query; check on the way that the rollup and raw answers agree."""
    year, tz = args.year, site.tz
    first, last = date(year, 1, 1), date(year + 1, 1, 1)
    d0, d1 = date.fromisoformat(day), date.fromisoformat(day) + timedelta(days=1)
    monthly = {"start": first.isoformat(), "end": last.isoformat(), "bucket": "month", "breakdown": "item"}
    daily = {"start": d0.isoformat(), "end": d1.isoformat(), "bucket": "hour", "breakdown": "building"}
    site_id, building = quote_literal(site.site.id), quote_literal(args.building)
    raw_monthly = (
        f'SELECT "value" FROM "meter_register" WHERE "site" = {site_id} AND "building" = {building} '
        f'AND time >= {day_start_ms(first, tz)}ms AND time < {day_start_ms(last, tz)}ms GROUP BY "meter"'
    )
    raw_daily = (
        f'SELECT "value" FROM "meter_register" WHERE "site" = {site_id} '
        f'AND time >= {day_start_ms(d0, tz)}ms AND time < {day_start_ms(d1, tz)}ms GROUP BY "meter"'
    )
    rows: dict[str, list[float]] = {}
    with (
        Server(app) as server,
        httpx.Client(
            base_url=f"http://127.0.0.1:{server.port}/api/v1", headers={"X-API-Key": key}, timeout=300
        ) as http,
    ):

        def get(path: str, params: dict[str, str]) -> dict[str, Any]:
            response = http.get(path, params=params)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body

        building_path = f"/consumption/buildings/{args.building}"
        fast_m, slow_m = get(building_path, monthly), get(building_path, {**monthly, "source": "raw"})
        fast_d, slow_d = get("/consumption/site", daily), get("/consumption/site", {**daily, "source": "raw"})
        for fast, slow in ((fast_m, slow_m), (fast_d, slow_d)):
            if fast["source"] != "rollup":
                raise RuntimeError(f"expected the query to be served from the rollups, got {fast['source']}")
            if fast["series"] != slow["series"]:
                raise RuntimeError("the rollups and the raw registers disagree")
        points_m = sum(len(s["values"]) for s in client.query(raw_monthly, method="POST"))
        points_d = sum(len(s["values"]) for s in client.query(raw_daily, method="POST"))
        reps, raw_reps = args.reps, args.raw_reps
        rows[MONTHLY] = timed(lambda: get(building_path, monthly), reps)
        rows[DAILY] = timed(lambda: get("/consumption/site", daily), reps)
        rows[f"c. raw InfluxQL fetch for a ({points_m:,} points)"] = timed(
            lambda: client.query(raw_monthly, method="POST"), reps
        )
        rows[f"c. raw InfluxQL fetch for b ({points_d:,} points)"] = timed(
            lambda: client.query(raw_daily, method="POST"), reps
        )
        rows["d. API a with source=raw (no rollups)"] = timed(
            lambda: get(building_path, {**monthly, "source": "raw"}), raw_reps, warmup=1
        )
        rows["d. API b with source=raw (no rollups)"] = timed(
            lambda: get("/consumption/site", {**daily, "source": "raw"}), raw_reps, warmup=1
        )
        report = {"month": f"{year}-06"}
        rows[f"e. API monthly report of {args.building}, one month (JSON)"] = timed(
            lambda: get(f"/reports/buildings/{args.building}/monthly", report), reps
        )
    return rows


if __name__ == "__main__":
    sys.exit(main())
