"""Scale-out end to end: two collector processes in one MQTT v5 shared-subscription group.

Both collectors subscribe `$share/vigil/...` with their own client id, session and state dir; the broker
hands each message to one of them. The simulator's ground truth must still be stored exactly once (InfluxDB
points are idempotent, so the check is on the set of points and their values), every bad part must be in
one of the two dead-letter stores, and each collector must have done a real share of the work, also when
one of them is killed with SIGKILL mid-stream and restarted.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from ingest.deadletter import DeadLetterStore
from ops.servers import free_port
from simulators.meters.runner import RunResult
from simulators.meters.truth import Publication
from tests.collectors.helpers import wait_for
from tests.e2e.harness import (
    Publishing,
    _digests,
    assert_exactly_stored,
    collector_process,
    write_site_file,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GROUP = "vigil"
WRITTEN = re.compile(r"^vigil_readings_(?:written|replayed)_total\s+([0-9.eE+-]+)$", re.MULTILINE)


class Collector:
    """One `python -m collectors` process of the shared group, with its own client id and state dir."""

    def __init__(self, name: str, site_file: Path, broker, influx_url: str, database: str, state: Path) -> None:
        self.state = state
        self.metrics_port = free_port()
        state.mkdir(parents=True, exist_ok=True)
        self.process = collector_process(
            site_file,
            broker,
            influx_url,
            database,
            state,
            client_id=name,
            shared_group=GROUP,
            metrics_port=self.metrics_port,
        )

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def deadletter_db(self) -> Path:
        return self.state / "deadletter.db"

    def start(self) -> None:
        self.process.start()
        self.process.wait_ready()

    def written(self) -> int:
        """Readings this process (since its last start) stored in InfluxDB, directly or from its spool."""
        text = httpx.get(self.metrics_url, timeout=5.0).text
        return int(sum(float(v) for v in WRITTEN.findall(text)))


@pytest.fixture
def site_file(broker, tmp_path: Path) -> Path:
    return write_site_file(broker.site, tmp_path / "site.yaml")


def _collectors(broker, influx_db, site_file: Path, tmp_path: Path) -> list[Collector]:
    return [
        Collector(f"collector-{n}", site_file, broker, influx_db.url, influx_db.database, tmp_path / f"state-{n}")
        for n in ("a", "b")
    ]


def assert_dead_lettered_in_any(publications: list[Publication], paths: list[Path], timeout: float = 60.0) -> None:
    """Every bad part of the run is in (at least) one of the dead-letter stores."""
    wanted = [
        (f"{pub.topic} {bad.kind} #{bad.index}", _digests(pub, bad.index)) for pub in publications for bad in pub.bad
    ]
    assert wanted, "the run must have produced malformed input"

    def have() -> set[str]:
        digests: set[str] = set()
        for path in paths:
            if not path.exists():
                continue
            store = DeadLetterStore(path)
            try:
                digests |= {d.sha256 for d in store.list(limit=1_000_000)}
            finally:
                store.close()
        return digests

    def missing() -> list[str]:
        got = have()
        return [what for what, digests in wanted if not digests & got]

    wait_for(lambda: not missing(), timeout=timeout, every=0.5)
    left = missing()
    assert not left, f"{len(left)} of {len(wanted)} bad parts not dead-lettered: {left[:5]}"


def union_deadletters(paths: list[Path], out: Path) -> Path:
    """Merge several dead-letter stores into one SQLite file (the harness check reads a single store)."""
    DeadLetterStore(out).close()  # creates the schema
    columns = "first_seen_ms, last_seen_ms, topic, gateway, reason, idx, size, sha256, payload, count"
    db = sqlite3.connect(out, isolation_level=None)
    try:
        for n, path in enumerate(p for p in paths if p.exists()):
            db.execute(f"ATTACH DATABASE ? AS src{n}", (str(path),))
            db.execute(f"INSERT OR IGNORE INTO dead_letters ({columns}) SELECT {columns} FROM src{n}.dead_letters")
            db.execute(f"DETACH DATABASE src{n}")
    finally:
        db.close()
    return out


def assert_exactly_stored_by_group(
    result: RunResult, pub: Publishing, influx_db, collectors: list[Collector], tmp_path: Path
) -> None:
    """The harness's exactness check, with the bad parts looked up in every collector's dead-letter store."""
    assert result.refused == 0
    paths = [c.deadletter_db for c in collectors]
    assert_dead_lettered_in_any(pub.publications, paths)
    union = union_deadletters(paths, tmp_path / "deadletter-union.db")
    assert_exactly_stored(result, pub.publications, influx_db.url, influx_db.database, union)


def test_two_collectors_share_the_stream_exactly(broker, influx_db, site_file: Path, tmp_path: Path) -> None:
    collectors = _collectors(broker, influx_db, site_file, tmp_path)
    try:
        for c in collectors:
            c.start()
        # About 10 s of steady publishing: 3 days of single readings at 25000x real time.
        pub = Publishing().start(broker.site, broker, days=3, speed=25000.0, single=True)
        result = pub.join()
        assert_exactly_stored_by_group(result, pub, influx_db, collectors, tmp_path)
        shares = [c.written() for c in collectors]
        total = sum(shares)
        assert total >= result.manifest.distinct, f"collectors wrote {shares}, {result.manifest.distinct} expected"
        assert all(share > 0.2 * total for share in shares), f"unbalanced shares {shares} of {total}"
    finally:
        for c in collectors:
            c.process.stop()


def test_kill_9_of_one_of_two_collectors_mid_stream(broker, influx_db, site_file: Path, tmp_path: Path) -> None:
    collectors = _collectors(broker, influx_db, site_file, tmp_path)
    victim, survivor = collectors
    try:
        for c in collectors:
            c.start()
        # About 12 s of steady publishing: 3 days of single readings at 20000x real time.
        pub = Publishing().start(broker.site, broker, days=3, speed=20000.0, single=True)
        assert wait_for(lambda: victim.written() > 200, 60)
        assert pub.thread is not None and pub.thread.is_alive(), "kill must happen mid-stream"
        victim.process.kill()  # SIGKILL: its in-flight messages stay in its persistent session
        time.sleep(1.0)
        victim.start()  # same client id: resumes the session and gets the unacked messages again
        assert pub.thread.is_alive(), "restart must happen mid-stream"
        result = pub.join()
        assert_exactly_stored_by_group(result, pub, influx_db, collectors, tmp_path)
        assert victim.written() > 0 and survivor.written() > 0
    finally:
        for c in collectors:
            c.process.stop()
