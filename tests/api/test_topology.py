"""Which meters add up to which total: mains versus sub-meters, never counted twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.energy.topology import Topology, default_mains
from core.config import SiteConfig, load_site, parse_site
from core.types import Item, Kind
from tests.conftest import build_test_site

ROOT = Path(__file__).resolve().parents[2]


def test_mains_carry_the_building_total_and_sub_items_split_it() -> None:
    topo = Topology(build_test_site("t"))
    assert topo.total(Kind.ELECTRICITY, "B1").meters == ("B1-E-MAIN",)
    assert [g.name for g in topo.items(Kind.ELECTRICITY, "B1")] == ["01A", "01B"]  # not 01E: that is the total
    # B2 has no main incomer: its total is the sum of its meters, which are then its items
    assert topo.total(Kind.ELECTRICITY, "B2").meters == ("B2-E-PWR", "B2-E-KIT")
    assert topo.total(Kind.ELECTRICITY).meters == ("B1-E-MAIN", "B2-E-PWR", "B2-E-KIT")
    assert topo.total(Kind.WATER).meters == ("B1-W-MAIN", "B2-W-MAIN")
    assert topo.items(Kind.WATER) == []  # item 02 is the water total itself
    assert topo.item(Item.MAIN_INCOMER).meters == ("B1-E-MAIN",)


def test_water_sub_meters_under_a_main_are_not_added_to_it() -> None:
    site = load_site(ROOT / "sites" / "demo.yaml")
    topo = Topology(site)
    water = topo.total(Kind.WATER, "B01").meters
    assert water == ("B01-W-MAIN",)
    assert "B01-W-WC" in {m.id for m in site.meters if m.building == "B01" and m.kind is Kind.WATER}
    assert topo.item(Item.WATER, "B01").meters == ("B01-W-MAIN",)
    mains = default_mains(site)
    for building in site.buildings:  # every demo building has exactly one main of each kind it meters
        for kind in topo.kinds(building.id):
            assert len([m for m in topo.total(kind, building.id).meters if m in mains]) == 1


def _site(mains: list[str] | None) -> SiteConfig:
    doc = build_test_site("t").model_dump(mode="json")
    doc["energy"] = {"mains": mains}
    return parse_site(doc)


def test_explicit_mains_override_the_rule() -> None:
    topo = Topology(_site(["B2-E-PWR"]))
    assert topo.total(Kind.ELECTRICITY, "B2").meters == ("B2-E-PWR",)
    assert topo.total(Kind.ELECTRICITY, "B1").meters == ("B1-E-MAIN", "B1-E-LGT", "B1-E-HVAC")  # no main listed
    with pytest.raises(ValueError, match=r"energy\.mains\.0: unknown meter 'nope'"):
        _site(["nope"])


def test_targets_must_name_known_buildings() -> None:
    doc = build_test_site("t").model_dump(mode="json")
    doc["energy"] = {"targets": {"buildings": {"B9": {"kwh_per_m2": 50}}}}
    with pytest.raises(ValueError, match="unknown building 'B9'"):
        parse_site(doc)
    doc["energy"] = {"coal": {"electricity_kgce_per_kwh": -1}}
    with pytest.raises(ValueError, match="electricity_kgce_per_kwh"):
        parse_site(doc)
