"""The pure generator: determinism, packaging, gaps, skew, duplicates, reordering, speed."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from datetime import datetime, timedelta

import orjson
import pytest

from core import topics
from core.config import SiteConfig, parse_site
from simulators.meters import ClockSkew, FaultPlan, Gap, GenOptions, Leak, default_plan, generate_site, summarise
from tests.simulators.conftest import RECEIVE_MS, run

OCT1, OCT4 = datetime(2026, 10, 1), datetime(2026, 10, 4)


def payloads(pubs: list) -> list[tuple[str, bytes]]:
    return [(p.topic, p.payload) for p in pubs]


def test_same_seed_same_bytes_other_seed_other_bytes(demo_site: SiteConfig) -> None:
    start, end = datetime(2026, 10, 1, tzinfo=demo_site.tz), datetime(2026, 10, 4, tzinfo=demo_site.tz)
    plan = default_plan(demo_site, start, end, ["all"], seed=7)
    one = run(demo_site, start, end, seed=7, faults=plan)
    two = run(demo_site, start, end, seed=7, faults=plan)
    three = run(demo_site, start, end, seed=8, faults=plan)
    assert payloads(one) == payloads(two)
    assert one == two  # truth included
    assert payloads(one) != payloads(three)


def test_generation_is_independent_of_chunking(demo_site: SiteConfig) -> None:
    a = run(demo_site, OCT1, OCT4, options=GenOptions(chunk_days=1))
    b = run(demo_site, OCT1, OCT4, options=GenOptions(chunk_days=30))
    assert payloads(a) == payloads(b)


def test_clean_run_has_every_reading_once(demo_site: SiteConfig) -> None:
    pubs = run(demo_site, OCT1, OCT4)
    manifest = summarise(pubs)
    assert manifest.distinct == manifest.readings_sent == 49 * 3 * 96
    assert manifest.malformed_publications == 0 and manifest.status_messages == 0
    assert manifest.publications == 4 * 3 * 96  # one batch per gateway per interval
    first = orjson.loads(pubs[0].payload)["readings"][0]
    assert set(first) == {"meter", "ts", "value", "unit", "seq"}
    assert first["ts"] == "2026-10-01T00:00:00+08:00"
    assert pubs[0].topic == topics.gateway_readings("xdgov", pubs[0].gateway)
    assert [p.due_ms for p in pubs] == sorted(p.due_ms for p in pubs)


def test_batch_intervals_epoch_ms_and_single_objects(demo_site: SiteConfig) -> None:
    batched = run(demo_site, OCT1, OCT4, options=GenOptions(batch_intervals=8, ts_format="epoch_ms"))
    assert len(batched) == 4 * 3 * 96 // 8
    entry = orjson.loads(batched[0].payload)["readings"][0]
    assert entry["ts"] == int(OCT1.replace(tzinfo=demo_site.tz).timestamp() * 1000)
    assert all(len({r.ts_ms for r in p.readings}) == 8 for p in batched)
    single = run(demo_site, OCT1, datetime(2026, 10, 1, 2), options=GenOptions(shape="single"))
    assert len(single) == 49 * 8
    assert all(set(orjson.loads(p.payload)) == {"meter", "ts", "value", "unit", "seq"} for p in single)


def test_batches_respect_the_site_batch_limit(demo_site: SiteConfig) -> None:
    doc = demo_site.model_dump(mode="json")
    doc["ingest"]["max_batch"] = 5
    small = parse_site(doc)
    pubs = run(small, OCT1, datetime(2026, 10, 1, 6), options=GenOptions(batch_intervals=4))
    assert max(len(orjson.loads(p.payload)["readings"]) for p in pubs) == 5
    assert summarise(pubs).distinct == 49 * 24


def test_gap_without_and_with_backfill(demo_site: SiteConfig) -> None:
    tz = demo_site.tz
    lost = Gap("gw-dc", datetime(2026, 10, 2, 3, 0, tzinfo=tz), datetime(2026, 10, 2, 5, 0, tzinfo=tz))
    late = Gap("gw-main", datetime(2026, 10, 2, 3, 0, tzinfo=tz), datetime(2026, 10, 2, 4, 0, tzinfo=tz), True)
    pubs = run(demo_site, OCT1, OCT4, faults=FaultPlan(gaps=(lost, late)))
    status = [(p.gateway, p.payload, p.due_ms) for p in pubs if p.is_status]
    ms = lambda d: int(d.timestamp() * 1000)  # noqa: E731
    assert status == [  # equal due times go out in the site file's gateway order
        ("gw-main", b"offline", ms(late.start)),
        ("gw-dc", b"offline", ms(lost.start)),
        ("gw-main", b"online", ms(late.end)),
        ("gw-dc", b"online", ms(lost.end)),
    ]
    assert all(p.retain for p in pubs if p.is_status)
    manifest = summarise(pubs)
    assert manifest.distinct == 49 * 3 * 96 - 5 * 8  # gw-dc lost 8 intervals of its 5 meters
    dc = [r for r in manifest.expected.values() if r.meter.startswith("D01")]
    assert not [r for r in dc if ms(lost.start) <= r.ts_ms < ms(lost.end)]
    backfill = [p for p in pubs if p.fault == "backfill"]
    assert len(backfill) == 4 and all(p.gateway == "gw-main" and p.due_ms == ms(late.end) for p in backfill)
    order = [p for p in pubs if p.gateway == "gw-main"]
    online = next(i for i, p in enumerate(order) if p.payload == b"online")
    assert [p.fault for p in order[online + 1 : online + 5]] == ["backfill"] * 4


def test_small_skew_is_acceptable_and_clock_reset_is_not(demo_site: SiteConfig) -> None:
    tz = demo_site.tz
    reset_from = datetime(2026, 10, 2, 8, tzinfo=tz)
    skews = (
        ClockSkew("gw-east", 170),
        ClockSkew("gw-dc", -(10**9), reset_from, reset_from + timedelta(hours=1)),
    )
    pubs = list(generate_site(demo_site, 1, OCT1, OCT4, faults=FaultPlan(skews=skews)))  # receive = due
    east = [r for p in pubs if p.gateway == "gw-east" for r in p.readings]
    assert east and all(r.ts_ms - r.true_ts_ms == 170_000 for r in east)
    assert all(p.well_formed for p in pubs if p.gateway == "gw-east")
    reset = [p for p in pubs if p.gateway == "gw-dc" and not p.well_formed]
    assert len(reset) == 4
    assert all(p.readings == () and {b.kind for b in p.bad} == {"too_old"} for p in reset)
    late = list(generate_site(demo_site, 1, OCT1, OCT4, faults=FaultPlan(skews=(ClockSkew("gw-dc", 301),))))
    assert not any(p.well_formed for p in late if p.gateway == "gw-dc")  # > max_future_skew_s ahead
    assert {b.kind for p in late if p.gateway == "gw-dc" for b in p.bad} == {"future"}


def test_duplicates_and_reordering_change_delivery_not_truth(demo_site: SiteConfig) -> None:
    clean = summarise(run(demo_site, OCT1, OCT4))
    plan = FaultPlan(duplicate_rate=0.1, reorder_rate=0.1, reorder_window=5)
    pubs = run(demo_site, OCT1, OCT4, faults=plan)
    noisy = summarise(pubs)
    assert noisy.expected == clean.expected and not noisy.conflicts
    faults = Counter(p.fault for p in pubs)
    assert faults["duplicate"] > 50 and faults["out_of_order"] > 50
    per_gateway: dict[str, list[int]] = {}
    for p in pubs:
        per_gateway.setdefault(p.gateway, []).append(max(r.ts_ms for r in p.readings))
    assert any(b < a for ts in per_gateway.values() for a, b in itertools.pairwise(ts))
    singles = [p for p in pubs if p.fault == "duplicate" and len(p.readings) == 1]
    assert singles and all("readings" not in orjson.loads(p.payload) for p in singles)


def test_callers_mistakes_raise(demo_site: SiteConfig) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        run(demo_site, OCT1, OCT4, options=GenOptions(units={"B01-E-MAIN": "m3"}))
    with pytest.raises(ValueError, match="unknown meter"):
        run(demo_site, OCT1, OCT4, options=GenOptions(units={"B09-E-MAIN": "kWh"}))
    with pytest.raises(ValueError, match="unknown meter"):
        run(demo_site, OCT1, OCT4, faults=FaultPlan(leaks=(Leak("B09-W", OCT1),)))
    with pytest.raises(ValueError, match="not a water meter"):
        run(demo_site, OCT1, OCT4, faults=FaultPlan(leaks=(Leak("B01-E-MAIN", OCT1),)))
    with pytest.raises(ValueError, match="unknown gateway"):
        run(demo_site, OCT1, OCT4, faults=FaultPlan(gaps=(Gap("gw-x", OCT1, OCT4),)))
    with pytest.raises(ValueError, match="end must be after start"):
        run(demo_site, OCT4, OCT1)
    with pytest.raises(ValueError, match="within"):
        FaultPlan(duplicate_rate=2)


def test_a_month_of_the_demo_site_is_quick(demo_site: SiteConfig) -> None:
    began = time.perf_counter()
    manifest = summarise(generate_site(demo_site, 1, datetime(2026, 10, 1), datetime(2026, 10, 31)))
    elapsed = time.perf_counter() - began
    print(f"\n30 days x 49 meters x 15 min: {manifest.readings_sent} readings in {elapsed:.2f} s")
    assert manifest.distinct == 30 * 96 * 49


def test_receive_clock_is_used_for_labels(demo_site: SiteConfig) -> None:
    # a future-dated run: received "now" (2026-11-18), December readings are more than 300 s ahead
    pubs = run(demo_site, datetime(2026, 12, 1), datetime(2026, 12, 1, 1))
    assert pubs and not any(p.well_formed for p in pubs)
    assert min(p.due_ms for p in pubs) > RECEIVE_MS
