"""A small site with addressed meters on transparent gateways, for frame tests."""

from __future__ import annotations

from core.config import SiteConfig, parse_site

ELEC = {"kind": "electricity", "resolution": 0.01, "rollover": 999999.99}
WATER = {"kind": "water", "item": "02", "resolution": 0.01, "rollover": 999999.99}


def frames_site(site_id: str = "t1") -> SiteConfig:
    """gw-645: two DL/T 645 meters (one with multiplier 20), a water meter with a 12-digit address;
    gw-188: two CJ/T 188 water meters; gw-json: an unaddressed meter and an addressed one of another gateway's kind.
    """
    return parse_site(
        {
            "site": {"id": site_id, "name": f"Frame test site {site_id}", "timezone": "Asia/Shanghai"},
            "buildings": [
                {"id": "B1", "name": "Office", "use": "office", "floor_area_m2": 5000, "occupants": 200},
                {"id": "P1", "name": "Car park", "use": "car_park", "floor_area_m2": 8000, "occupants": 2},
            ],
            "meters": [
                {"id": "B1-E-MAIN", "building": "B1", "item": "01E", "multiplier": 80.0, **ELEC},
                {"id": "B1-W-MAIN", "building": "B1", **{**WATER, "resolution": 0.001, "rollover": 99999.999}},
                {"id": "E1", "building": "B1", "item": "01A", "address": "000000000001", **ELEC},
                {"id": "EV1", "building": "P1", "item": "01D", "multiplier": 20.0, "address": "202300001001", **ELEC},
                {"id": "W-ODD", "building": "P1", "address": "999999999999", **WATER},
                {"id": "W1", "building": "B1", "address": "78330011223344", **WATER},
                {"id": "W2", "building": "P1", "address": "30220400001201", **{**WATER, "rollover": 9999.99}},
                {"id": "E-OTHER", "building": "B1", "item": "01C", "address": "000000000002", **ELEC},
            ],
            "gateways": [
                {"id": "gw-json", "meters": ["B1-E-MAIN", "B1-W-MAIN", "E-OTHER"]},
                {"id": "gw-645", "meters": ["E1", "EV1", "W-ODD"]},
                {"id": "gw-188", "meters": ["W1", "W2"]},
            ],
        },
        source="tests/ingest/frames/site.py",
    )


def transparent_site(site_id: str) -> SiteConfig:
    """One JSON gateway and two transparent ones (DL/T 645 and CJ/T 188) whose meters are all addressed."""
    return parse_site(
        {
            "site": {"id": site_id, "name": f"Transparent gateways {site_id}", "timezone": "Asia/Shanghai"},
            "buildings": [
                {"id": "B1", "name": "Office", "use": "office", "floor_area_m2": 5000, "occupants": 200},
                {"id": "P1", "name": "Car park", "use": "car_park", "floor_area_m2": 8000, "occupants": 2},
            ],
            "meters": [
                {"id": "B1-E-MAIN", "building": "B1", "item": "01E", "multiplier": 80.0, **ELEC},
                {"id": "B1-E-LGT", "building": "B1", "item": "01A", **ELEC},
                {"id": "B1-W-MAIN", "building": "B1", **WATER},
                {
                    "id": "P1-E-EV1",
                    "building": "P1",
                    "item": "01D",
                    "multiplier": 20.0,
                    "address": "202300001001",
                    **ELEC,
                },
                {"id": "P1-E-EV2", "building": "P1", "item": "01D", "address": "202300001002", **ELEC},
                {"id": "B1-W-WC", "building": "B1", "address": "30220400001201", **WATER},
                {"id": "B1-W-HOT", "building": "B1", "name": "Hot water", "address": "30220400001202", **WATER},
            ],
            "gateways": [
                {"id": "gw-a", "meters": ["B1-E-MAIN", "B1-E-LGT", "B1-W-MAIN"]},
                {"id": "gw-dtu-645", "meters": ["P1-E-EV1", "P1-E-EV2"]},
                {"id": "gw-dtu-188", "meters": ["B1-W-WC", "B1-W-HOT"]},
            ],
        },
        source="tests/ingest/frames/site.py",
    )
