"""Small sites for coverage tests."""

from __future__ import annotations

from typing import Any

from core.config import SiteConfig, parse_site


def make_site(cameras: list[dict[str, Any]], perimeter: dict[str, Any], site_id: str = "cov") -> SiteConfig:
    """A minimal valid site around the given cameras and perimeter."""
    return parse_site(
        {
            "site": {"id": site_id, "name": "Coverage test"},
            "buildings": [{"id": "B1", "name": "Office", "floor_area_m2": 100, "occupants": 1}],
            "meters": [{"id": "M1", "building": "B1", "kind": "electricity", "item": "01E"}],
            "cameras": cameras,
            "perimeter": perimeter,
        }
    )


def disc(cam_id: str, x: float, y: float, r: float) -> dict[str, Any]:
    """An all-round camera: its coverage of a straight fence through it is exactly x ± r."""
    return {
        "id": cam_id,
        "url": f"http://127.0.0.1:8554/cam/{cam_id}.mjpg",
        "position": [x, y],
        "hfov_deg": 360,
        "range_m": r,
    }
