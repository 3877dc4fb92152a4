"""Smoke test of bench/soak.py: a half-minute soak with every fault, tiny rate, no cameras."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.soak import p95
from bench.soak_observe import Sample, named_devices, slope_mb_per_min
from bench.soak_traffic import Sent
from core.config import load_site

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RESULT = re.compile(r"^RESULT lost=(\d+) rss_growth_mb=(-?\d+\.\d) alert_p95_s=(\d+\.\d|inf)$")


def _site_without_gateway_hold(out: Path) -> Path:
    """The demo site with gateway_offline opening at once, so a 2 s outage is seen in a half-minute run."""
    doc = load_site(ROOT / "sites" / "demo.yaml").model_dump(mode="json")
    doc["alerts"]["flap"]["by_kind"]["gateway_offline"] = {"open_hold_s": 0, "clear_hold_s": 60}
    out.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return out


@pytest.mark.timeout(60)
def test_a_tiny_soak_loses_nothing_and_ends_with_the_result_line(tmp_path: Path) -> None:
    args = [
        *("--minutes", "0.45", "--warmup", "6", "--rate", "300", "--cameras", "0", "--no-api"),
        *("--event-every", "4", "--gateway-off-s", "2", "--influx-down", "2", "--sample-every", "1"),
        *("--duplicate-every", "10", "--bad-every", "20", "--drain-timeout", "20", "--settle", "0.5"),
        *("--workdir", str(tmp_path)),
        *("--site", str(_site_without_gateway_hold(tmp_path / "site-no-hold.yaml"))),
    ]
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), *args], capture_output=True, text=True, timeout=58
    )
    lines = run.stdout.strip().splitlines()
    assert lines, run.stderr[-3000:]
    match = RESULT.match(lines[-1])
    assert match, f"last line {lines[-1]!r}"
    assert match.group(1) == "0"
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = run.stdout
    # Every fault happened, duplicates and malformed parts were sent, and an alert event was measured.
    assert "mosquitto restarted" in report and "influxd started again" in report and "collector killed" in report
    assert "collector process killed, just before: messages " in report
    assert re.search(r"duplicates: [1-9][\d,]* readings re-published on purpose", report)
    assert re.search(r"dead-lettered: ([1-9]\d*) distinct in the collector's store, \1 malformed", report)
    assert re.search(r"gateway +gw-\S+ +offline 2 s +first alert +\d+\.\d s +gateway_offline", report)
    assert match.group(3) != "inf"


def test_p95_is_nearest_rank() -> None:
    assert p95([1.0]) == 1.0
    assert p95([float(i) for i in range(1, 21)]) == 19.0
    assert p95([float(i) for i in range(1, 101)]) == 95.0
    assert p95([]) == float("inf")


def test_alerts_name_their_device_and_a_blind_spot_its_cameras() -> None:
    assert named_devices({"key": "gateway_offline:gw-a"}) == {"gw-a"}
    assert named_devices({"key": "camera_stream_lost:cam-1", "evidence": {"camera": "cam-1"}}) == {"cam-1"}
    blind = {"key": "blind_spot:12.0-48.5", "evidence": {"cameras": ["cam-1", "cam-2"]}}
    assert named_devices(blind) == {"cam-1", "cam-2"}
    assert named_devices({"key": "leak:B01-W-MAIN"}) == {"B01-W-MAIN"}


def test_memory_trend_is_a_least_squares_slope() -> None:
    flat = [Sample(at=60.0 * i, pid=1, rss_mb=100.0, cpu_s=0.0) for i in range(5)]
    rising = [Sample(at=60.0 * i, pid=1, rss_mb=100.0 + 2 * i, cpu_s=0.0) for i in range(5)]
    assert slope_mb_per_min(flat) == 0.0
    assert slope_mb_per_min(rising) == pytest.approx(2.0)
    assert slope_mb_per_min(rising[:2]) == 0.0  # too few samples to tell


def test_a_status_message_is_not_counted_as_a_reading() -> None:
    assert Sent() == Sent(readings=(), duplicate_readings=0, bad_parts=0)
    assert Sent(readings=(("m", 1),)) != Sent()
