"""The main job's stack: every service starts, readings flow end to end, and stop leaves nothing running."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ops.cli import scrape, summary_line
from ops.servers import free_port
from ops.stack import Stack, StackSettings
from tests.collectors.helpers import wait_for

pytestmark = pytest.mark.integration

DEMO = Path(__file__).resolve().parents[2] / "sites" / "demo.yaml"


def test_stack_runs_the_demo_site_and_stops_cleanly(tmp_path: Path) -> None:
    settings = StackSettings(
        site_path=DEMO,
        var=tmp_path / "var",
        mqtt_port=free_port(),
        influx_port=free_port(),
        collector_metrics_port=free_port(),
        sim_speed=3000.0,
    )
    stack = Stack(settings)
    lines: list[str] = []
    url = f"http://127.0.0.1:{settings.collector_metrics_port}/metrics"
    try:
        stack.start(progress=lines.append)
        assert any("ok   MQTT broker" in line for line in lines)

        def stored() -> float:
            return scrape(url).get("vigil_readings_written_total", 0.0)

        assert wait_for(lambda: stored() >= 200, timeout=60, every=0.5), stack.dead()
        assert wait_for(lambda: scrape(url).get("vigil_readings_rejected_total", 0.0) > 0, timeout=60, every=0.5)
        assert "InfluxDB up" in summary_line(scrape(url), None, 5.0)
        # The alert engine hears the coverage monitor (no camera health yet: the whole fence is blind).
        alerts_url = f"http://127.0.0.1:{settings.alerts_metrics_port}/metrics"
        assert wait_for(lambda: scrape(alerts_url).get("vigil_alert_messages_total", 0.0) > 0, timeout=30, every=0.5)
        # The API answers with the demo key, and serves the screen.
        api = f"http://127.0.0.1:{settings.api_port}"
        headers = {"X-API-Key": stack.demo_key}
        assert httpx.get(f"{api}/api/v1/whoami", headers=headers, timeout=5).json()["role"] == "operator"
        assert httpx.get(f"{api}/api/v1/whoami", timeout=5).status_code == 401
        assert (
            httpx.get(f"{api}/screen/login?key={stack.demo_key}", timeout=5, follow_redirects=True).status_code == 200
        )

        # The camera simulators stream, the analyzer judges them, and their health reaches the API.
        def judged() -> int:
            cams = httpx.get(f"{api}/api/v1/cameras", headers=headers, timeout=5).json()
            return sum(1 for c in cams if c["state"] is not None)

        assert wait_for(lambda: judged() == len(stack.site.cameras), timeout=60, every=1.0)
        assert not stack.dead()
        assert (tmp_path / "var" / "secrets.json").stat().st_mode & 0o077 == 0
    finally:
        services = list(stack.services)
        stack.stop()
    assert services and not any(s.running for s in services)


def test_a_stack_can_watch_a_subset_of_the_cameras_and_refuses_unknown_ones(tmp_path: Path) -> None:
    some = Stack(StackSettings(site_path=DEMO, var=tmp_path, cameras=("cam-s2", "cam-s1")))
    assert some.cameras == ["cam-s1", "cam-s2"]  # in the site file's order
    assert len(Stack(StackSettings(site_path=DEMO, var=tmp_path)).cameras) == len(some.site.cameras)
    assert Stack(StackSettings(site_path=DEMO, var=tmp_path, cameras=())).cameras == []
    with pytest.raises(ValueError, match="unknown camera"):
        Stack(StackSettings(site_path=DEMO, var=tmp_path, cameras=("cam-nowhere",)))
    with pytest.raises(KeyError):
        some.service("collector")  # nothing started yet
