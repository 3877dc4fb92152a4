"""Malformed payloads: every kind is labelled, and the labels agree with the ingest parser exactly."""

from __future__ import annotations

from datetime import datetime

import orjson
import pytest

from core.config import SiteConfig
from ingest.payload import parse_payload
from simulators.meters import ENTRY_KINDS, MALFORMED_KINDS, PAYLOAD_KINDS, FaultPlan, Publication, summarise
from tests.simulators.conftest import RECEIVE_MS, run

START, END = datetime(2026, 10, 1), datetime(2026, 10, 1, 6)


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_each_malformed_kind_is_labelled_not_well_formed(demo_site: SiteConfig, kind: str) -> None:
    pubs = run(demo_site, START, END, faults=FaultPlan(malformed_rate=1.0, malformed_kinds=(kind,)))
    bad = [p for p in pubs if not p.well_formed]
    assert len(bad) == len(pubs) // 2  # one after every good publication
    for pub in bad:
        assert pub.readings == ()
        assert len(pub.bad) == 1 and pub.bad[0].index is None
        assert pub.fault == f"malformed:{pub.bad[0].kind}"
        assert pub.bad[0].kind == kind
    assert summarise(pubs).distinct == 49 * 24  # the good data is all still there


@pytest.mark.parametrize("kind", ENTRY_KINDS)
def test_each_bad_reading_kind_is_labelled_by_index(demo_site: SiteConfig, kind: str) -> None:
    pubs = run(demo_site, START, END, faults=FaultPlan(bad_reading_rate=1.0, malformed_kinds=(kind,)))
    for pub in pubs:
        entries = orjson.loads(pub.payload)["readings"]
        assert not pub.well_formed and len(pub.bad) == 1
        index = pub.bad[0].index
        assert index is not None and pub.bad[0].kind == kind
        assert len(pub.readings) == len(entries) - 1
        good = [e for i, e in enumerate(entries) if i != index]
        assert [e["meter"] for e in good] == [r.meter for r in pub.readings]
    assert summarise(pubs).distinct == 49 * 24


def test_payload_kinds_are_never_mixed_into_batches() -> None:
    assert set(PAYLOAD_KINDS) - {"nan"} == set(PAYLOAD_KINDS) - set(ENTRY_KINDS)


def test_specific_bad_payloads(demo_site: SiteConfig) -> None:
    def payloads(kind: str) -> list[bytes]:
        pubs = run(demo_site, START, END, faults=FaultPlan(malformed_rate=1.0, malformed_kinds=(kind,)))
        return [p.payload for p in pubs if not p.well_formed]

    assert all(len(p) > demo_site.ingest.max_payload_bytes for p in payloads("huge_payload"))
    assert all(len(orjson.loads(p)["readings"]) == 1001 for p in payloads("too_many_readings"))
    injected = [orjson.loads(p)["meter"] for p in payloads("tag_injection")]
    assert any("\nweather,x=1 v=1" in m for m in injected)
    for raw in payloads("nan"):
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(raw)
    for raw in payloads("far_future"):
        assert orjson.loads(raw)["ts"] > "2036"
    assert all(b"+08:00" not in p for p in payloads("no_offset"))


def _compare_with_parser(site: SiteConfig, pub: Publication) -> None:
    result = parse_payload(pub.topic, pub.payload, site, RECEIVE_MS)
    got = [(r.meter, r.ts_ms, r.raw, r.unit, r.seq) for r in result.readings]
    want = [(r.meter, r.ts_ms, r.raw, r.unit, r.seq) for r in pub.readings]
    assert got == want, pub.fault
    assert [r.value for r in result.readings] == pytest.approx([r.value for r in pub.readings], rel=1e-12)
    assert sorted((r.index is None, r.index or 0) for r in result.rejections) == sorted(
        (b.index is None, b.index or 0) for b in pub.bad
    ), (pub.fault, [r.reason for r in result.rejections])


def test_labels_agree_with_the_ingest_parser(demo_site: SiteConfig, all_faults_run: list[Publication]) -> None:
    readings = [p for p in all_faults_run if not p.is_status]
    kinds = {b.kind for p in readings for b in p.bad}
    assert kinds >= set(MALFORMED_KINDS) | {"too_old"}  # clock reset gives refused-by-age readings too
    for pub in readings:
        _compare_with_parser(demo_site, pub)


def test_future_labels_agree_with_the_parser(demo_site: SiteConfig) -> None:
    from simulators.meters import ClockSkew, generate_site

    plan = FaultPlan(skews=(ClockSkew("gw-dc", 299), ClockSkew("gw-main", 302)))
    pubs = list(generate_site(demo_site, 2, START, END, faults=plan))  # received when due
    assert {p.well_formed for p in pubs if p.gateway == "gw-dc"} == {True}
    assert {p.well_formed for p in pubs if p.gateway == "gw-main"} == {False}
    for pub in pubs:
        result = parse_payload(pub.topic, pub.payload, demo_site, pub.due_ms)
        assert len(result.readings) == len(pub.readings)
        assert len(result.rejections) == len(pub.bad)
