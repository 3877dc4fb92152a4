"""Transparent gateways: raw DL/T 645 / CJ/T 188 frames, labels that agree with the ingest frame parser."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from core import topics
from core.config import SiteConfig, parse_site
from ingest.frames import dlt645, parse_frames
from ingest.frames.common import cut_frames, payload_bytes
from simulators.meters import FaultPlan, Gap, default_plan, generate_site, summarise
from simulators.meters.runner import site_publications
from simulators.meters.transparent import FrameOptions, generate_frames, is_transparent
from simulators.meters.truth import Publication
from tests.ingest.frames.site import transparent_site
from tests.simulators.conftest import RECEIVE_MS

SITE = transparent_site("tt")
START, END = datetime(2026, 10, 1), datetime(2026, 10, 3)
DAY_MS = 86_400_000


def protocol_of(pub: Publication) -> str:
    protocol = topics.frame_protocol_of(pub.topic)
    assert protocol is not None
    return protocol


def check_against_parser(site: SiteConfig, pubs: list[Publication], receive: dict[int, int] | None = None) -> None:
    """Every frame publication parses into exactly its labelled readings, and its bad parts are refused."""
    for pub in pubs:
        if pub.is_status:
            continue
        now = pub.due_ms if receive is None else receive[id(pub)]
        result = parse_frames(protocol_of(pub), pub.topic, pub.payload, site, now)
        got = [(r.meter, r.ts_ms, r.raw, r.unit, r.flags) for r in result.readings]
        want = [(r.meter, r.ts_ms, r.raw, r.unit, r.flags) for r in pub.readings]
        assert got == want, (pub.fault, pub.payload)
        assert [r.value for r in result.readings] == pytest.approx([r.value for r in pub.readings], rel=1e-12)
        assert len(result.rejections) == len(pub.bad), [r.reason for r in result.rejections]
        if not pub.well_formed:
            assert result.instants == ()


def test_live_run_labels_agree_with_the_parser() -> None:
    pubs = list(generate_frames(SITE, 3, START, END, options=FrameOptions(corrupt_rate=0.05)))
    check_against_parser(SITE, pubs)
    by_topic = Counter((p.gateway, protocol_of(p)) for p in pubs)
    assert set(by_topic) == {("gw-dtu-645", "dlt645"), ("gw-dtu-188", "cjt188")}
    manifest = summarise(pubs)
    meters = Counter(r.meter for r in manifest.expected.values())
    # at most 2 days x 96 ticks per meter (the 00:00 daily freeze is the same point as the tick), less corruption
    assert set(meters) == {"P1-E-EV1", "P1-E-EV2", "B1-W-WC", "B1-W-HOT"}
    assert all(0.9 * 2 * 96 < n <= 2 * 96 for n in meters.values())
    clean = summarise(generate_frames(SITE, 3, START, END))
    assert Counter(r.meter for r in clean.expected.values()) == dict.fromkeys(meters, 2 * 96)
    assert not manifest.conflicts
    corrupt = [p for p in pubs if p.fault == "malformed:corrupt_frame"]
    assert 0.02 < len(corrupt) / len(pubs) < 0.08
    assert all(b.kind == "corrupt_frame" for p in corrupt for b in p.bad)


def test_packaging_varies_like_the_field() -> None:
    pubs = list(generate_frames(SITE, 1, START, END))
    raw = [p.payload for p in pubs if p.gateway == "gw-dtu-645"]
    text = [p.payload for p in pubs if p.gateway == "gw-dtu-188"]
    # seed 1: the DL/T 645 DTU sends raw bytes, the CJ/T 188 one hex text with spaces
    assert all(p[:1] in (b"\xfe", b"h") for p in raw)
    assert all(set(p) <= set(b"0123456789ABCDEF ") and b" " in p for p in text)
    assert {p.count(b"\xfe") > 0 for p in raw} == {True, False}  # 0-4 preamble bytes
    assert {p.endswith(b"\xff") for p in raw} == {True, False}  # sometimes padded
    other = generate_frames(SITE, 3, START, END)
    flags = Counter(r.flags for p in other for r in p.readings if r.meter.startswith("B1-W"))
    assert set(flags) == {(), ("battery_low",)}  # seed 3: a battery runs low during the run


def test_dlt645_sends_energy_instants_and_the_daily_freeze() -> None:
    pubs = [p for p in generate_frames(SITE, 3, START, END) if p.gateway == "gw-dtu-645"]
    results = [parse_frames("dlt645", p.topic, p.payload, SITE, p.due_ms) for p in pubs]
    quantities = Counter(i.quantity for r in results for i in r.instants)
    assert quantities == {"voltage_a": 2 * 2 * 96, "current_a": 2 * 2 * 96, "active_power": 2 * 2 * 96}
    tariffs = {r.meter: len(r.tariffs) for res in results for r in res.readings}
    assert tariffs == {"P1-E-EV1": 4, "P1-E-EV2": 0}  # one meter answers the 0001FF00 block
    tz = SITE.tz
    midnights = {int(datetime(2026, 10, d, tzinfo=tz).timestamp() * 1000) for d in (1, 2)}
    freezes = [p for p in pubs if p.due_ms % DAY_MS == (16 * 3600 + 300) * 1000]  # 00:05 +08:00
    assert len(freezes) == 2 * 2 and {p.readings[0].ts_ms for p in freezes} == midnights
    frozen = [parse_frames("dlt645", p.topic, p.payload, SITE, p.due_ms).readings[0] for p in freezes]
    ticks = {(r.meter, r.ts_ms): r.raw for res in results for r in res.readings if r.ts_ms in midnights}
    assert {(r.meter, r.ts_ms): r.raw for r in frozen} == ticks  # the freeze is the register at 00:00


def test_fast_runs_send_only_what_carries_a_time() -> None:
    """Received long after the fact, DL/T 645 polls are not live: only the N-th last daily freezes go."""
    now = RECEIVE_MS  # 2026-11-18
    pubs = list(generate_frames(SITE, 3, START, END, receive_ms=lambda due: now))
    check_against_parser(SITE, pubs, {id(p): now for p in pubs})
    dlt = [p for p in pubs if p.gateway == "gw-dtu-645"]
    assert len(dlt) == 2 * 2  # the freezes of Oct 1 and Oct 2 of two meters; no energy, no instants
    tz = SITE.tz
    days = [int(datetime(2026, 10, d, tzinfo=tz).timestamp() * 1000) for d in (1, 2)]
    assert sorted(r.ts_ms for p in dlt for r in p.readings) == sorted(days * 2)
    received = datetime.fromtimestamp(now / 1000, tz).date()
    nth = {(received - datetime(2026, 10, d).date()).days + 1 for d in (1, 2)}
    replies = [dlt645.decode_reply(cut_frames(payload_bytes(p.payload), 9, 12)[0].data) for p in dlt]
    assert {r.di for r in replies} == {dlt645.DAILY_FROZEN_FORWARD | n for n in nth}  # 050601NN, N days back
    water = [p for p in pubs if p.gateway == "gw-dtu-188"]
    assert len(water) == 2 * 2 * 96


def test_a_gap_loses_timeless_polls_and_backfills_timed_ones() -> None:
    tz = SITE.tz
    gap = Gap("gw-dtu-188", datetime(2026, 10, 1, 3, tzinfo=tz), datetime(2026, 10, 1, 5, tzinfo=tz), True)
    lost = Gap("gw-dtu-645", datetime(2026, 10, 1, 23, 0, tzinfo=tz), datetime(2026, 10, 2, 1, tzinfo=tz), True)
    pubs = list(generate_frames(SITE, 3, START, END, faults=FaultPlan(gaps=(gap, lost))))
    check_against_parser(SITE, pubs)
    status = [(p.gateway, p.payload) for p in pubs if p.is_status]
    assert status == [
        ("gw-dtu-188", b"offline"),
        ("gw-dtu-188", b"online"),
        ("gw-dtu-645", b"offline"),
        ("gw-dtu-645", b"online"),
    ]
    back = [p for p in pubs if p.gateway == "gw-dtu-188" and p.due_ms == int(gap.end.timestamp() * 1000)]
    assert len(back) >= 2 * 8  # every water frame of the gap, sent at its end, stamped with the meters' clocks
    clean = summarise(generate_frames(SITE, 3, START, END))
    gapped = summarise(pubs)
    missing = set(clean.expected) - set(gapped.expected)
    assert missing and all(meter.startswith("P1-E") for meter, _ in missing)  # only timeless DL/T 645 polls
    midnight = int(datetime(2026, 10, 2, tzinfo=tz).timestamp() * 1000)
    assert ("P1-E-EV1", midnight) in gapped.expected  # the freeze read after the gap fills 00:00


def test_same_seed_same_bytes() -> None:
    one = list(generate_frames(SITE, 5, START, END, options=FrameOptions(corrupt_rate=0.1)))
    two = list(generate_frames(SITE, 5, START, END, options=FrameOptions(corrupt_rate=0.1)))
    three = list(generate_frames(SITE, 6, START, END, options=FrameOptions(corrupt_rate=0.1)))
    assert one == two
    assert [p.payload for p in one] != [p.payload for p in three]


def test_battery_low_can_be_placed() -> None:
    at = datetime(2026, 10, 2, 12, tzinfo=SITE.tz)
    pubs = generate_frames(SITE, 3, START, END, options=FrameOptions(battery_low_from={"B1-W-WC": at}))
    flagged = {
        (r.meter, r.ts_ms >= at.timestamp() * 1000, r.flags) for p in pubs for r in p.readings if r.flags is not None
    }
    assert flagged == {
        ("B1-W-WC", False, ()),
        ("B1-W-WC", True, ("battery_low",)),
        ("B1-W-HOT", False, ()),
        ("B1-W-HOT", True, ()),
    }


def test_json_generator_and_fault_plan_leave_transparent_gateways_alone() -> None:
    pubs = list(generate_site(SITE, 3, START, END))
    assert {p.gateway for p in pubs} == {"gw-a"}
    start, end = datetime(2026, 10, 1, tzinfo=SITE.tz), datetime(2026, 10, 3, tzinfo=SITE.tz)
    plan = default_plan(SITE, start, end, ["all"], 3)
    assert {g.gateway for g in plan.gaps} | {s.gateway for s in plan.skews} == {"gw-a"}
    named = {x.meter for x in (*plan.leaks, *plan.replacements, *plan.rollovers)}
    assert named and all(SITE.meter_by_id[m].address is None for m in named)
    both = list(site_publications(SITE, 3, START, END))
    assert {p.gateway for p in both} == {"gw-a", "gw-dtu-645", "gw-dtu-188"}
    assert [p.due_ms for p in both] == sorted(p.due_ms for p in both)


def test_demo_site_has_one_transparent_gateway_of_each_protocol(demo_site: SiteConfig) -> None:
    transparent = [g.id for g in demo_site.gateways if is_transparent(demo_site, g)]
    assert transparent == ["gw-dtu-645", "gw-dtu-188"]
    pubs = list(site_publications(demo_site, 1, datetime(2026, 10, 1), datetime(2026, 10, 1, 2)))
    protocols = Counter(topics.frame_protocol_of(p.topic) for p in pubs)
    assert protocols["dlt645"] > 0 and protocols["cjt188"] > 0 and protocols[None] > 0
    check_against_parser(demo_site, [p for p in pubs if topics.frame_protocol_of(p.topic)])


def test_meters_that_cannot_be_framed_are_refused() -> None:
    doc = SITE.model_dump(mode="json")
    doc["meters"][5]["address"] = "202300009999"  # a water meter with a DL/T 645 address
    with pytest.raises(ValueError, match="a water meter cannot speak dlt645"):
        list(generate_frames(parse_site(doc), 1, START, END))
    doc = SITE.model_dump(mode="json")
    doc["meters"][5]["resolution"] = 0.001
    with pytest.raises(ValueError, match=r"in steps of 0\.01"):
        list(generate_frames(parse_site(doc), 1, START, END))
    with pytest.raises(ValueError, match="within"):
        FrameOptions(corrupt_rate=1.5)
