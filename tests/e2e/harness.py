"""End-to-end harness: the collector as a real process, the simulator publishing, ground-truth checks."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import yaml

from core.config import SiteConfig
from ingest.deadletter import DeadLetterStore
from ingest.influx import InfluxClient, InfluxSettings
from ops.servers import free_port
from ops.stack import PythonService, http_ok
from simulators.meters.faults import default_plan
from simulators.meters.generator import GenOptions
from simulators.meters.runner import RunResult, run_site
from simulators.meters.truth import Publication
from tests.collectors.helpers import stored_points, wait_for

ALL_FAULTS = (
    "duplicates",
    "reorder",
    "malformed",
    "bad-readings",
    "skew",
    "replacement",
    "rollover",
    "gaps",
    "backfill",
)


def write_site_file(site: SiteConfig, path: Path) -> Path:
    """Dump a site config to YAML so a process can load it."""
    path.write_text(yaml.safe_dump(site.model_dump(mode="json")), encoding="utf-8")
    return path


def collector_process(
    site_file: Path,
    broker,
    influx_url: str,
    database: str,
    state: Path,
    *,
    client_id: str = "collector-e2e",
    shared_group: str | None = None,
    metrics_port: int | None = None,
) -> PythonService:
    """A `python -m collectors` process with a fixed client id (its persistent session)."""
    port = metrics_port or free_port()
    group = ["--shared-group", shared_group] if shared_group else []
    return PythonService(
        client_id,
        [
            "collectors",
            "--site",
            str(site_file),
            "--mqtt-port",
            str(broker.port),
            "--influx-url",
            influx_url,
            "--influx-db",
            database,
            "--state-dir",
            str(state),
            "--client-id",
            client_id,
            *group,
            "--metrics-port",
            str(port),
            "--summary-every",
            "2",
        ],
        state / "collector.log",
        env={"VIGIL_MQTT_PASSWORD": broker.passwords["collector"]},
        ready=http_ok(f"http://127.0.0.1:{port}/metrics"),
    )


@dataclass
class Publishing:
    """The simulator publishing in a background thread, keeping every publication for the checks."""

    publications: list[Publication] = field(default_factory=list)
    result: RunResult | None = None
    error: BaseException | None = None
    thread: threading.Thread | None = None

    def start(
        self, site: SiteConfig, broker, *, days: float, speed: float | None = None, single: bool = True, seed: int = 7
    ) -> Publishing:
        end = datetime.now(site.tz).replace(microsecond=0) - timedelta(minutes=10)
        start = end - timedelta(days=days)
        plan = default_plan(site, start, end, ALL_FAULTS, seed)

        def run() -> None:
            try:
                self.result = run_site(
                    site,
                    broker.host,
                    broker.port,
                    broker.passwords,
                    seed,
                    start,
                    end,
                    mode="realtime" if speed else "fast",
                    speed=speed or 1.0,
                    faults=plan,
                    options=GenOptions(shape="single" if single else "batch", ts_format="mixed", mixed_units=True),
                    on_publication=self.publications.append,
                    ack_timeout=180.0,
                )
            except BaseException as exc:  # reported by join()
                self.error = exc

        self.thread = threading.Thread(target=run, name="simulator", daemon=True)
        self.thread.start()
        return self

    def join(self, timeout: float = 240.0) -> RunResult:
        assert self.thread is not None
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "simulator did not finish"
        if self.error:
            raise self.error
        assert self.result is not None
        return self.result


def count_stored(url: str, database: str) -> int:
    """Number of meter_register points, 0 if unreachable."""
    try:
        with InfluxClient(InfluxSettings(url=url, database=database, timeout_s=5)) as client:
            series = client.query('SELECT count("value") FROM "meter_register"')
    except Exception:
        return 0
    return int(series[0]["values"][0][1]) if series else 0


def assert_exactly_stored(
    result: RunResult,
    publications: list[Publication],
    url: str,
    database: str,
    deadletter_db: Path,
    timeout: float = 120.0,
) -> None:
    """Every acceptable reading stored once with its value; every bad part in the dead-letter store."""
    manifest = result.manifest
    assert manifest.expected, "the run must have produced readings"
    assert wait_for(lambda: count_stored(url, database) >= manifest.distinct, timeout=timeout, every=0.5), (
        f"stored {count_stored(url, database)} of {manifest.distinct}"
    )
    with InfluxClient(InfluxSettings(url=url, database=database)) as client:
        stored = stored_points(client)
    assert set(stored) == set(manifest.expected), (
        f"missing {len(set(manifest.expected) - set(stored))}, unexpected {len(set(stored) - set(manifest.expected))}"
    )
    wrong = [
        k
        for k, r in manifest.expected.items()
        if k not in manifest.conflicts and abs(stored[k] - r.value) > 1e-9 * max(1.0, abs(r.value))
    ]
    assert not wrong, f"{len(wrong)} values differ, e.g. {wrong[:3]}"
    _assert_dead_lettered(publications, deadletter_db, timeout)


def _assert_dead_lettered(publications: list[Publication], path: Path, timeout: float) -> None:
    wanted: list[tuple[str, set[str]]] = []
    for pub in publications:
        for bad in pub.bad:
            wanted.append((f"{pub.topic} {bad.kind} #{bad.index}", _digests(pub, bad.index)))
    assert wanted, "the run must have produced malformed input"
    store = DeadLetterStore(path)
    try:

        def missing() -> list[str]:
            have = {d.sha256 for d in store.list(limit=1_000_000)}
            return [what for what, digests in wanted if not digests & have]

        wait_for(lambda: not missing(), timeout=timeout, every=0.5)
        assert not missing(), f"{len(missing())} of {len(wanted)} bad parts not dead-lettered: {missing()[:5]}"
    finally:
        store.close()


def _digests(pub: Publication, index: int | None) -> set[str]:
    """Digests the dead-letter store may hold for a bad part: the raw payload, or the re-encoded reading."""
    digests = {hashlib.sha256(pub.payload).hexdigest()}
    try:
        doc = orjson.loads(pub.payload)
    except orjson.JSONDecodeError:
        return digests
    if index is not None and isinstance(doc, dict) and isinstance(doc.get("readings"), list):
        digests.add(hashlib.sha256(orjson.dumps(doc["readings"][index])).hexdigest())
    elif index is None and isinstance(doc, dict):
        digests.add(hashlib.sha256(orjson.dumps(doc)).hexdigest())
    return digests
