"""Efficiency against last year and targets, and the monthly building report in every format."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest

from api.auth import KeyStore
from core.config import SiteConfig, parse_site
from ops.servers import free_port
from tests.api.conftest import Env, load, make_env
from tests.conftest import InfluxTarget

COAL_WATER = 0.2571  # kgce per m³ of fresh water (GB/T 2589): set here so water counts towards kgce


@pytest.fixture
def target_site(test_site: SiteConfig) -> SiteConfig:
    """The test site with coal coefficients and targets."""
    doc = test_site.model_dump(mode="json")
    doc["energy"] = {
        "coal": {"electricity_kgce_per_kwh": 0.1229, "water_kgce_per_m3": COAL_WATER},
        "targets": {
            "site": {"kwh_per_m2": 100.0, "water_m3_per_person": 12.0},
            "buildings": {"B1": {"kwh_per_m2": 90.0, "kgce_per_person": 60.0}},
        },
    }
    return parse_site(doc)


@pytest.fixture
def two_years(target_site: SiteConfig, influx_db: InfluxTarget, keys: KeyStore) -> Iterator[Env]:
    """A week of February/March in 2023 and in 2024, the 2024 one rolled up."""
    with make_env(target_site, influx_db, keys) as env:
        load(env.site, env.influx, datetime(2023, 2, 20), datetime(2023, 3, 3, 1), seed=21)
        load(env.site, env.influx, datetime(2024, 2, 20), datetime(2024, 3, 3, 1), seed=22)
        env.roll_up(datetime(2024, 2, 20), datetime(2024, 3, 3))
        yield env


def total(env: Env, building: str | None, kind: str, start: str, end: str) -> float:
    path = f"consumption/buildings/{building}" if building else "consumption/site"
    body = env.get(path, start=start, end=end, kind=kind, bucket="year").json()
    value: float = body["series"][0]["total"]["amount"]
    return value


@pytest.mark.integration
def test_efficiency_against_last_year_and_targets(two_years: Env) -> None:
    env = two_years
    body = env.get("efficiency", start="2024-02-22", end="2024-03-01").json()
    assert (body["last_year_start"], body["last_year_end"]) == (
        "2023-02-22T00:00:00+08:00",
        "2023-03-01T00:00:00+08:00",
    )
    assert body["coal"]["electricity_kgce_per_kwh"] == 0.1229
    entities = {e["id"]: e for e in body["entities"]}
    assert list(entities) == ["B1", "B2", env.site.site.id]
    b1 = entities["B1"]
    kwh = total(env, "B1", "electricity", "2024-02-22", "2024-03-01")
    water = total(env, "B1", "water", "2024-02-22", "2024-03-01")
    cur = b1["current"]
    assert cur["electricity_kwh"] == kwh and cur["water_m3"] == water
    assert cur["kwh_per_m2"] == pytest.approx(kwh / 5000)
    assert cur["kgce"] == pytest.approx(kwh * 0.1229 + water * COAL_WATER)
    assert cur["kgce_per_m2"] == pytest.approx(cur["kgce"] / 5000)
    assert cur["kgce_per_person"] == pytest.approx(cur["kgce"] / 200)
    assert cur["water_m3_per_person"] == pytest.approx(water / 200)
    old_kwh = total(env, "B1", "electricity", "2023-02-22", "2023-03-01")
    assert b1["last_year"]["electricity_kwh"] == old_kwh > 0
    assert b1["change_pct"]["kwh_per_m2"] == pytest.approx(100 * (kwh - old_kwh) / old_kwh)
    # annual targets prorated to 8 days of 2024 (a leap year)
    assert b1["target"]["kwh_per_m2"] == pytest.approx(90.0 * 8 / 366)
    assert b1["target"]["kgce_per_m2"] is None
    assert b1["vs_target_pct"]["kwh_per_m2"] == pytest.approx(100 * (kwh / 5000 - 90 * 8 / 366) / (90 * 8 / 366))
    site = entities[env.site.site.id]
    assert site["floor_area_m2"] == 5800 and site["occupants"] == 220
    assert site["current"]["electricity_kwh"] == total(env, None, "electricity", "2024-02-22", "2024-03-01")
    assert site["target"]["water_m3_per_person"] == pytest.approx(12.0 * 8 / 366)
    exported = env.get("efficiency", start="2024-02-22", end="2024-03-01", format="csv").text
    csv_rows = list(csv.DictReader(io.StringIO(exported)))
    assert [r["id"] for r in csv_rows] == ["B1", "B2", env.site.site.id]
    assert float(csv_rows[0]["kwh_per_m2"]) == pytest.approx(cur["kwh_per_m2"])


@pytest.mark.integration
def test_efficiency_without_last_year_data_says_so(two_years: Env) -> None:
    body = two_years.get("efficiency", start="2024-02-22", end="2024-03-01", building="B2").json()
    assert [e["id"] for e in body["entities"]] == ["B2"]  # one building: no site row
    none_before = two_years.get("efficiency", start="2023-02-25", end="2023-02-28").json()
    site = none_before["entities"][-1]
    assert site["last_year"]["electricity_kwh"] is None  # no data in 2022: unknown, not zero
    assert site["change_pct"]["kwh_per_m2"] is None


@pytest.mark.integration
def test_monthly_report_in_every_format(two_years: Env) -> None:
    env = two_years
    body = env.get("reports/buildings/B1/monthly", month="2024-02").json()
    assert body["month"] == "2024-02" and body["building"]["id"] == "B1"
    assert len(body["days"]) == 29  # 2024 is a leap year
    assert body["days"][0]["electricity_kwh"] == 0 and body["days"][0]["electricity_completeness_pct"] == 0
    days = [d for d in body["days"] if d["date"] >= "2024-02-20"]
    assert all(d["electricity_completeness_pct"] == 100 for d in days)
    feb = total(env, "B1", "electricity", "2024-02-01", "2024-03-01")
    assert body["total"]["electricity_kwh"] == feb
    assert Decimal(repr(feb)) == sum(Decimal(repr(d["electricity_kwh"])) for d in body["days"])
    items = body["items_kwh"]
    assert set(items) == {"01A", "01B"}
    assert Decimal(repr(body["other_kwh"])) == Decimal(repr(feb)) - sum(Decimal(repr(v)) for v in items.values())
    last_feb = total(env, "B1", "electricity", "2023-02-01", "2023-03-01")
    assert body["efficiency"]["last_year"]["electricity_kwh"] == last_feb
    assert body["efficiency"]["target"]["kwh_per_m2"] == pytest.approx(90.0 * 29 / 366)
    assert body["previous_month"]["electricity_kwh"] is None  # nothing in January 2024
    assert {m["meter"] for m in body["meters"]} == {"B1-E-MAIN", "B1-E-LGT", "B1-E-HVAC", "B1-W-MAIN"}

    response = env.get("reports/buildings/B1/monthly", month="2024-02", format="csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert f"energy-report_{env.site.site.id}_B1_2024-02.csv" in response.headers["content-disposition"]
    assert response.text.startswith("\ufeff")  # Excel opens it as UTF-8
    rows = list(csv.DictReader(io.StringIO(response.text.removeprefix("\ufeff"))))
    assert [r["date"] for r in rows] == [d["date"] for d in body["days"]] + ["total"]
    assert sum(Decimal(r["electricity_kwh"]) for r in rows[:-1]) == Decimal(rows[-1]["electricity_kwh"])
    assert Decimal(rows[-1]["electricity_kwh"]) == Decimal(repr(feb))
    assert sum(Decimal(r["01A_kwh"]) + Decimal(r["01B_kwh"]) + Decimal(r["other_kwh"]) for r in rows[:-1]) == Decimal(
        repr(feb)
    )

    page = env.get("reports/buildings/B1/monthly", month="2024-02", format="html")
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Office (B1) — energy report 2024-02</h1>" in page.text
    assert "Electricity by sub-item" in page.text and "0.1229 kgce/kWh" in page.text
    md = env.get("reports/buildings/B1/monthly", month="2024-02", format="md").text
    assert md.startswith("# Office (B1) — energy report 2024-02")
    assert "## Day by day" in md and "| 2024-02-29 |" in md


@pytest.mark.integration
def test_influxdb_down_is_a_503(test_site: SiteConfig, keys: KeyStore) -> None:
    dead = InfluxTarget(f"http://127.0.0.1:{free_port()}", "nothing")
    with make_env(test_site, dead, keys) as env:
        response = env.get("consumption/site", start="2024-03-01", end="2024-03-02")
        assert response.status_code == 503
        assert "unavailable" in response.json()["detail"]
        assert env.get("health", role=None).json()["status"] == "degraded"
