"""The consumption endpoints against a real InfluxDB loaded with simulator data (with faults)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from api.auth import Role
from core.types import Kind
from simulators.meters.faults import FaultPlan, Gap, default_plan
from tests.api.conftest import KEYS, Env, load

START, END = datetime(2024, 2, 26), datetime(2024, 3, 5)  # site-local; spans 29 February and a month end
FAULTS = ("duplicates", "reorder", "gaps", "replacement", "rollover")


def dsum(values: list[float]) -> Decimal:
    """Exact decimal sum of JSON amounts (each is an exact decimal with at most 6 places)."""
    return sum((Decimal(repr(v)) for v in values), Decimal(0))


@pytest.fixture
def loaded(env: Env) -> FaultPlan:
    """A week of the test site with faults, rolled up."""
    plan = default_plan(env.site, START, END, FAULTS, 7)
    load(env.site, env.influx, START, END + timedelta(hours=1), seed=7, faults=plan)  # + the reading at END
    env.roll_up(START, END)
    return plan


@pytest.mark.integration
@pytest.mark.parametrize("bucket", ["hour", "day", "week", "month", "year"])
def test_rollups_give_exactly_the_raw_answer(env: Env, loaded: FaultPlan, bucket: str) -> None:
    params = {"start": "2024-02-26", "end": "2024-03-05", "bucket": bucket, "breakdown": "meter"}
    fast = env.get("consumption/site", **params).json()
    slow = env.get("consumption/site", **params, source="raw").json()
    assert (fast["source"], slow["source"]) == ("rollup", "raw")
    assert fast["series"] == slow["series"]
    # past the rollups' end the rest is computed raw, seamlessly
    mixed = env.get("consumption/site", **{**params, "end": "2024-03-06"}).json()
    assert mixed["source"] == "rollup+raw"
    assert (
        mixed["series"] == env.get("consumption/site", **{**params, "end": "2024-03-06"}, source="raw").json()["series"]
    )


@pytest.mark.integration
def test_sub_periods_and_parts_add_up_exactly(env: Env, loaded: FaultPlan) -> None:
    hours = env.get("consumption/site", start="2024-02-29", end="2024-03-01", bucket="hour").json()
    day = env.get("consumption/site", start="2024-02-29", end="2024-03-01", bucket="day").json()
    for h, d in zip(hours["series"], day["series"], strict=True):
        assert len(h["buckets"]) == 24
        assert dsum([b["amount"] for b in h["buckets"]]) == Decimal(repr(d["total"]["amount"])) > 0
        assert dsum([b["estimated"] for b in h["buckets"]]) == Decimal(repr(d["total"]["estimated"]))
    months = env.get("consumption/site", start="2024-02-26", end="2024-03-05", bucket="month").json()
    year = env.get("consumption/site", start="2024-02-26", end="2024-03-05", bucket="year").json()
    for m, y in zip(months["series"], year["series"], strict=True):
        assert [b["start"][:10] for b in m["buckets"]] == ["2024-02-26", "2024-03-01"]
        assert dsum([b["amount"] for b in m["buckets"]]) == Decimal(repr(y["buckets"][0]["amount"]))
    split = env.get("consumption/site", start="2024-02-26", end="2024-03-05", breakdown="building").json()
    for kind in (Kind.ELECTRICITY, Kind.WATER):
        series = [s for s in split["series"] if s["kind"] == kind.value]
        total, buildings = series[0], series[1:]
        assert [s["name"] for s in buildings] == ["B1", "B2"]
        assert dsum([s["total"]["amount"] for s in buildings]) == Decimal(repr(total["total"]["amount"]))
        for i, bucket in enumerate(total["buckets"]):
            assert dsum([s["buckets"][i]["amount"] for s in buildings]) == Decimal(repr(bucket["amount"]))


@pytest.mark.integration
def test_days_are_local_calendar_days(env: Env, loaded: FaultPlan) -> None:
    body = env.get("consumption/buildings/B1", start="2024-02-27", end="2024-03-02", kind="electricity").json()
    assert body["timezone"] == "Asia/Shanghai"
    starts = [b["start"] for b in body["series"][0]["buckets"]]
    assert starts == [
        "2024-02-27T00:00:00+08:00",
        "2024-02-28T00:00:00+08:00",
        "2024-02-29T00:00:00+08:00",
        "2024-03-01T00:00:00+08:00",
    ]
    utc = env.get("consumption/buildings/B1", start="2024-02-26T16:00:00Z", end="2024-03-02", kind="electricity")
    assert utc.json()["series"] == body["series"]  # 16:00 UTC is local midnight


@pytest.mark.integration
def test_faults_are_flagged_never_negative(env: Env, loaded: FaultPlan) -> None:
    body = env.get("consumption/site", start="2024-02-26", end="2024-03-05", bucket="hour", breakdown="meter").json()
    meters = {s["name"]: s for s in body["series"] if s["name"] not in ("total",)}
    assert all(b["amount"] >= 0 for s in body["series"] for b in s["buckets"])
    assert "rollover" in meters[loaded.rollovers[0].meter]["total"]["flags"]
    assert "replacement" in meters[loaded.replacements[0].meter]["total"]["flags"]
    gateway = next(g for g in env.site.gateways if g.id == loaded.gaps[0].gateway)
    for meter in gateway.meters:
        series = meters[meter]
        blind = [b for b in series["buckets"] if b["completeness_pct"] == 0 and "gap" in b["flags"]]
        assert len(blind) >= 4  # a 6-hour outage: the hours wholly inside it have no reading at all
        assert all(b["estimated"] == b["amount"] for b in blind)
        assert 0 < series["total"]["completeness_pct"] < 100
        assert series["total"]["estimated"] > 0
    untouched = next(m for m in env.site.meters if m.id not in gateway.meters and m.id != loaded.replacements[0].meter)
    assert meters[untouched.id]["total"]["completeness_pct"] == pytest.approx(100.0)


@pytest.mark.integration
def test_meter_item_and_building_scopes(env: Env, loaded: FaultPlan) -> None:
    params = {"start": "2024-03-01", "end": "2024-03-02"}
    meter = env.get("consumption/meters/B1-E-LGT", **params).json()
    assert (meter["scope"], meter["id"], meter["series"][0]["meters"]) == ("meter", "B1-E-LGT", ["B1-E-LGT"])
    item = env.get("consumption/items/01A", **params).json()
    assert item["series"][0]["total"] == meter["series"][0]["total"]
    b2 = env.get("consumption/buildings/B2", **params, kind="electricity", breakdown="item").json()
    names = [s["name"] for s in b2["series"]]
    assert names == ["total", "01C", "01D"]  # no main incomer: the total is the sum of the two
    assert dsum([s["total"]["amount"] for s in b2["series"][1:]]) == Decimal(repr(b2["series"][0]["total"]["amount"]))
    mains = env.get("consumption/items/01E", **params).json()
    assert mains["series"][0]["meters"] == ["B1-E-MAIN"]
    water = env.get("consumption/site", **params, kind="water", breakdown="item").json()
    assert [s["name"] for s in water["series"]] == ["total"]  # item 02 is the total itself: not listed twice


@pytest.mark.integration
def test_csv_export_has_the_same_buckets(env: Env, loaded: FaultPlan) -> None:
    params = {"start": "2024-02-26", "end": "2024-03-05", "bucket": "day", "breakdown": "item"}
    body = env.get("consumption/buildings/B1", **params).json()
    response = env.get("consumption/buildings/B1", **params, format="csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="consumption_building_B1_day.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == sum(len(s["buckets"]) for s in body["series"])
    for series in body["series"]:
        mine = [r for r in rows if r["series"] == series["name"] and r["kind"] == series["kind"]]
        assert [r["start"] for r in mine] == [b["start"] for b in series["buckets"]]
        assert sum(Decimal(r["amount"]) for r in mine) == Decimal(repr(series["total"]["amount"]))
        assert {r["unit"] for r in mine} == {series["unit"]}


@pytest.mark.integration
@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("consumption/site", {"start": "2024-03-01T10:30", "end": "2024-03-02"}, 422, "whole local hour"),
        ("consumption/site", {"start": "2024-03-02", "end": "2024-03-01"}, 422, "end must be after start"),
        ("consumption/site", {"start": "March", "end": "2024-03-01"}, 422, "expected a date"),
        ("consumption/site", {"start": "2024-03-01"}, 422, "Field required"),
        ("consumption/site", {"start": "2024-03-01", "end": "2024-03-02", "bucket": "fortnight"}, 422, "'hour'"),
        ("consumption/site", {"start": "2000-01-01", "end": "2024-01-01", "bucket": "hour"}, 422, "at most"),
        ("consumption/site", {"start": "1900-01-01", "end": "2024-01-01"}, 422, "year out of range"),
        ("consumption/site", {"start": "2024-03-01", "end": "2024-03-02", "kind": "gas"}, 422, "electricity"),
        (
            "consumption/site",
            {"start": "2024-03-01", "end": "2024-03-02", "kind": "water", "item": "01A"},
            422,
            "not a water item",
        ),
        (
            "consumption/buildings/B1",
            {"start": "2024-03-01", "end": "2024-03-02", "breakdown": "building"},
            422,
            "cannot be broken down",
        ),
        ("consumption/buildings/B9", {"start": "2024-03-01", "end": "2024-03-02"}, 404, "unknown building 'B9'"),
        ("consumption/meters/nope", {"start": "2024-03-01", "end": "2024-03-02"}, 404, "unknown meter 'nope'"),
        ("consumption/items/99", {"start": "2024-03-01", "end": "2024-03-02"}, 422, "'01A'"),
        ("consumption/site", {"start": "2024-03-01", "end": "2024-03-02", "format": "xml"}, 422, "'csv'"),
        ("reports/buildings/B1/monthly", {"month": "2024-13"}, 422, "should match pattern"),
        ("reports/buildings/B1/monthly", {"month": "0000-01"}, 422, "year out of range"),
        ("efficiency", {"start": "2024-03-01", "end": "2024-03-02", "building": "X"}, 404, "unknown building"),
    ],
)
def test_bad_requests_get_a_clear_4xx(env: Env, path: str, params: dict[str, str], status: int, message: str) -> None:
    response = env.get(path, **params)
    assert response.status_code == status, response.text
    assert message in response.text


@pytest.mark.integration
def test_admin_rebuilds_the_rollups(env: Env) -> None:
    load(env.site, env.influx, datetime(2024, 3, 1), datetime(2024, 3, 3), seed=3)
    before = env.get("consumption/site", start="2024-03-01", end="2024-03-03").json()
    assert before["source"] == "raw"
    response = env.client.post(
        "/api/v1/admin/rollup", json={"start": "2024-03-01"}, headers={"X-API-Key": KEYS[Role.ADMIN]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["meter_hours"] > 0 and response.json()["start"] == "2024-03-01T00:00:00+08:00"
    site = env.get("site").json()
    assert site["rollup_from"] == "2024-03-01T00:00:00+08:00" and site["rollup_until"].startswith("2024-03-09")
    after = env.get("consumption/site", start="2024-03-01", end="2024-03-03").json()
    assert after["source"] == "rollup" and after["series"] == before["series"]
    bad = env.client.post("/api/v1/admin/rollup", json={"start": "soon"}, headers={"X-API-Key": KEYS[Role.ADMIN]})
    assert bad.status_code == 422 and "expected a date" in bad.text


@pytest.mark.integration
def test_the_rollup_job_picks_up_late_readings(env: Env) -> None:
    gateway = env.site.gateways[0].id
    outage = FaultPlan(gaps=(Gap(gateway, datetime(2024, 3, 8, 2), datetime(2024, 3, 8, 8)),))
    load(env.site, env.influx, datetime(2024, 3, 7), datetime(2024, 3, 9, 20), seed=5, faults=outage)
    assert env.rollup.run() is not None  # first run: from the first reading up to NOW - settle
    gap = env.get("consumption/site", start="2024-03-08", end="2024-03-09", breakdown="meter").json()
    assert gap["source"] == "rollup" and "gap" in gap["series"][0]["total"]["flags"]
    # the gateway's buffered readings arrive late (everything again, now without the outage)
    load(env.site, env.influx, datetime(2024, 3, 7), datetime(2024, 3, 9, 20), seed=5)
    assert env.rollup.run() is not None  # within the look-back: recomputed
    fixed = env.get("consumption/site", start="2024-03-08", end="2024-03-09", breakdown="meter").json()
    assert fixed["source"] == "rollup"
    assert "gap" not in fixed["series"][0]["total"]["flags"]
    raw = env.get("consumption/site", start="2024-03-08", end="2024-03-09", breakdown="meter", source="raw")
    assert fixed["series"] == raw.json()["series"]


@pytest.mark.integration
def test_openapi_documents_the_endpoints_and_the_key(env: Env) -> None:
    spec = env.client.get("/api/v1/openapi.json").json()
    assert "/api/v1/consumption/buildings/{building_id}" in spec["paths"]
    assert "/api/v1/reports/buildings/{building_id}/monthly" in spec["paths"]
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    assert env.client.get("/api/v1/docs").status_code == 200
