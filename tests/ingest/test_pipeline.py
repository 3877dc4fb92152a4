"""Ingestor against a fake InfluxDB at the HTTP seam (the real-server tests are in tests/e2e)."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import httpx
import pytest

from core.types import InboundMessage
from ingest.deadletter import DeadLetterStore
from ingest.influx import InfluxClient, InfluxSettings
from ingest.pipeline import Ingestor
from ingest.spool import Spool
from tests.ingest.site_factory import small_site

NOW = 1_764_000_000_000
TOPIC = "vigil/t1/gateways/gw-a/readings"


class FakeInflux:
    """Accepts lines unless told to be down or to refuse lines containing a marker."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.down = False
        self.refuse_marker: str | None = None
        self.requests = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.down:
            return httpx.Response(503, text="down")
        body = request.content.decode().split("\n")
        if self.refuse_marker and any(self.refuse_marker in line for line in body):
            good = [line for line in body if self.refuse_marker not in line]
            self.lines.extend(good)  # InfluxDB 1.x writes the good points of a partial write
            return httpx.Response(400, json={"error": "partial write: field type conflict dropped=1"})
        self.lines.extend(body)
        return httpx.Response(204)


@pytest.fixture
def rig(tmp_path: Path):
    fake = FakeInflux()
    client = InfluxClient(InfluxSettings(url="http://influx.test"), transport=httpx.MockTransport(fake.handler))
    spool = Spool(tmp_path / "spool.db")
    dead = DeadLetterStore(tmp_path / "dead.db")
    ingestor = Ingestor(small_site(), client, spool, dead, retry_budget_s=0.3, rng=random.Random(1))
    return fake, ingestor, spool, dead


def message(*readings: dict[str, object]) -> InboundMessage:
    return InboundMessage(TOPIC, json.dumps({"readings": list(readings)}).encode(), NOW)


def r(ts: int, value: float = 1.0, meter: str = "B1-L") -> dict[str, object]:
    return {"meter": meter, "ts": ts, "value": value, "unit": "kWh"}


def test_good_readings_are_written_and_bad_ones_dead_lettered(rig) -> None:
    fake, ingestor, spool, dead = rig
    outcome = ingestor.store([message(r(NOW - 1000), r(NOW - 2000, -5)), InboundMessage(TOPIC, b"garbage", NOW)])
    assert (outcome.written, outcome.spooled, outcome.rejected) == (1, 0, 2)
    assert len(fake.lines) == 1 and fake.lines[0].endswith(f" {NOW - 1000}")
    reasons = sorted(d.reason.split(":")[0] for d in dead.list())
    assert reasons == ["invalid JSON", "value -5 is negative"]
    assert spool.depth() == (0, 0)


def test_outage_spools_then_replays_everything(rig) -> None:
    fake, ingestor, spool, _ = rig
    fake.down = True
    outcome = ingestor.store([message(r(NOW - 1000), r(NOW - 2000))])
    assert (outcome.written, outcome.spooled) == (0, 2) and spool.depth() == (1, 2)
    assert not ingestor.sink_up
    # While down, later batches go straight to the spool without waiting out the retry budget.
    before = fake.requests
    ingestor.store([message(r(NOW - 3000))])
    assert fake.requests == before and spool.depth() == (2, 3)
    fake.down = False
    stop = threading.Event()
    thread = threading.Thread(target=ingestor.replay_forever, args=(stop, 0.05))
    thread.start()
    try:
        for _ in range(200):
            if spool.depth() == (0, 0):
                break
            threading.Event().wait(0.05)
    finally:
        stop.set()
        thread.join()
    assert spool.depth() == (0, 0) and ingestor.sink_up
    assert sorted(line.rsplit(" ", 1)[1] for line in fake.lines) == sorted(str(NOW - d) for d in (1000, 2000, 3000))


def test_refused_lines_are_isolated_and_dead_lettered_never_retried_forever(rig) -> None:
    fake, ingestor, spool, dead = rig
    fake.refuse_marker = "meter=B1-E,"
    outcome = ingestor.store([message(*(r(NOW - i * 1000) for i in range(1, 8)), r(NOW, meter="B1-E"))])
    assert (outcome.written, outcome.rejected) == (7, 1)
    (letter,) = dead.list()
    assert letter.reason.startswith("InfluxDB refused") and b"meter=B1-E," in letter.payload
    assert len({line for line in fake.lines}) == 7 and spool.depth() == (0, 0)


def test_dead_letters_count_redeliveries_once(rig) -> None:
    _, ingestor, _, dead = rig
    bad = InboundMessage(TOPIC, b"{oops", NOW)
    ingestor.store([bad])
    ingestor.store([bad])
    (letter,) = dead.list()
    assert letter.count == 2 and dead.count() == 1


def test_spool_survives_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    spool.append(["a 1", "b 2"])
    spool.close()
    again = Spool(tmp_path / "s.db")
    (batch,) = again.oldest(5)
    assert batch.lines == ("a 1", "b 2") and again.depth() == (1, 2)


def test_rejections_are_logged_with_gateway_meter_and_topic_fields(rig, caplog: pytest.LogCaptureFixture) -> None:
    _, ingestor, _, _ = rig
    with caplog.at_level("INFO", logger="ingest.pipeline"):
        ingestor.store([message(r(NOW - 1000), r(NOW - 2000, meter="NO-SUCH")), InboundMessage(TOPIC, b"x", NOW)])
    rejected = [rec for rec in caplog.records if rec.getMessage().startswith("rejected")]
    assert len(rejected) == 2
    bad_reading, garbage = sorted(rejected, key=lambda rec: rec.meter is None)
    assert (bad_reading.gateway, bad_reading.meter, bad_reading.topic) == ("gw-a", "NO-SUCH", TOPIC)
    assert "(meter NO-SUCH)" in bad_reading.getMessage()
    assert (garbage.gateway, garbage.meter, garbage.topic) == ("gw-a", None, TOPIC)


def test_lines_refused_by_influxdb_are_logged_with_their_gateway(rig, caplog: pytest.LogCaptureFixture) -> None:
    fake, ingestor, _, _ = rig
    fake.refuse_marker = "meter=B1-L,"
    with caplog.at_level("WARNING", logger="ingest.pipeline"):
        ingestor.store([message(r(NOW - 1000))])
    refused = [rec for rec in caplog.records if "refused a line" in rec.getMessage()]
    assert refused and refused[0].gateway == "gw-a" and refused[0].topic == TOPIC
