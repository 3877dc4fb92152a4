"""Small sites for coverage tests, and the coverage monitor as a process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.config import SiteConfig, parse_site
from ops.broker import SERVICE
from ops.stack import PythonService
from tests.conftest import Broker


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


def monitor_process(site_file: Path, broker: Broker, log: Path, heartbeat_s: float = 0.5) -> PythonService:
    """`python -m alerts.coverage run` as a child process (kill() is a SIGKILL), started and connected."""
    service = PythonService(
        "coverage",
        [
            "alerts.coverage",
            "run",
            "--site",
            str(site_file),
            "--mqtt-port",
            str(broker.port),
            "--client-id",
            f"coverage-{log.stem}",
            "--settle",
            "0.2",
            "--heartbeat",
            str(heartbeat_s),
        ],
        log,
        env={"VIGIL_MQTT_PASSWORD": broker.passwords[SERVICE]},
    )
    service.start()
    return service
