"""A small site for unit tests of the ingest stage."""

from __future__ import annotations

from core.config import SiteConfig, parse_site


def small_site(site_id: str = "t1") -> SiteConfig:
    """Two buildings, five meters, two gateways."""
    return parse_site(
        {
            "site": {"id": site_id, "name": "Test site"},
            "buildings": [
                {"id": "B1", "name": "Office", "floor_area_m2": 1000, "occupants": 50},
                {"id": "B2", "name": "Canteen", "use": "canteen", "floor_area_m2": 300, "occupants": 5},
            ],
            "meters": [
                {
                    "id": "B1-E",
                    "building": "B1",
                    "kind": "electricity",
                    "item": "01E",
                    "multiplier": 80,
                    "rollover": 999999.99,
                },
                {"id": "B1-L", "building": "B1", "kind": "electricity", "item": "01A"},
                {
                    "id": "B1-W",
                    "building": "B1",
                    "kind": "water",
                    "item": "02",
                    "resolution": 0.001,
                    "rollover": 99999.999,
                },
                {"id": "B2-E", "building": "B2", "kind": "electricity", "item": "01E"},
                {"id": "B2-W", "building": "B2", "kind": "water", "item": "02"},
            ],
            "gateways": [
                {"id": "gw-a", "meters": ["B1-E", "B1-L", "B1-W"]},
                {"id": "gw-b", "meters": ["B2-E", "B2-W"]},
            ],
        }
    )
