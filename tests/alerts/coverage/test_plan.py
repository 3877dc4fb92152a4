"""The planning report on the demo site: full coverage with every camera, real gaps for single failures."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from alerts.coverage.__main__ import main
from alerts.coverage.model import Coverage
from alerts.coverage.plan import build_plan, format_plan
from alerts.coverage.render import render_svg
from core.config import load_site

DEMO = Path(__file__).resolve().parents[3] / "sites" / "demo.yaml"


@pytest.fixture(scope="module")
def demo() -> Coverage:
    return Coverage(load_site(DEMO))


def test_demo_design_has_no_static_blind_spot(demo: Coverage) -> None:
    assert demo.static.blind == ()
    assert 1200 <= demo.length <= 1600
    assert 12 <= len(demo.cameras) <= 16


def test_demo_single_failures_open_real_gaps(demo: Coverage) -> None:
    plan = build_plan(demo)
    gaps = {c.camera: c.failure_gap_m for c in plan.cameras}
    # The main gate has its own camera on top of the wall cameras: losing it opens nothing.
    assert gaps.pop("cam-gate") == 0
    assert min(gaps.values()) > 10, gaps


def test_demo_cam_s3_failure_matches_hand_computation(demo: Coverage) -> None:
    # With cam-s3 down the south wall east of the gate is left to cam-gate at (190,40), looking south
    # with 100°. The guard house (204..214, 8..16) hides 190 + 14·40/32 = 207.5 (corner 204,8) to
    # 190 + 24·40/24 = 230 (corner 214,16). cam-gate's field ends at 190 + 40·tan 50° = 237.67, and
    # cam-s4 at (272,2) with 60° first sees the wall 2/tan 30° = 3.46 m ahead, at 275.46.
    report = demo.report(set(demo.cameras) - {"cam-s3"}, 0)
    got = [(s.start_m, s.end_m, s.cameras) for s in report.blind]
    expected = [(207.5, 230.0), (190 + 40 * math.tan(math.radians(50)), 272 + 2 / math.tan(math.radians(30)))]
    assert len(got) == 2, got
    for (a, b, cams), (ea, eb) in zip(got, expected, strict=True):
        assert a == pytest.approx(ea, abs=0.05) and b == pytest.approx(eb, abs=0.05) and cams == ("cam-s3",)
    assert all(s.zones == ("S-WALL-E",) for s in report.blind)


def test_demo_gates_are_double_covered(demo: Coverage) -> None:
    assert not any({"GATE-MAIN", "GATE-SIDE"} & set(s.zones) for s in demo.static.single)


def test_plan_text_lists_n_minus_1(demo: Coverage) -> None:
    text = format_plan(build_plan(demo, ["cam-s3"]), demo)
    assert "none — the whole perimeter is watched" in text
    assert "cam-gate: no gap (fully overlapped)" in text
    assert "Scenario — failed: cam-s3" in text


def test_cli_plan_json_and_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svg = tmp_path / "cov.svg"
    assert main(["plan", "--site", str(DEMO), "--json", "--fail", "cam-s3", "--svg", str(svg)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["static"]["blind"] == []
    assert len(data["n_minus_1"]["cam-s3"]) == 2
    assert [round(s["start_m"], 1) for s in data["scenario"]["blind"]] == [207.5, 237.7]
    root = ET.fromstring(svg.read_text(encoding="utf-8"))
    assert root.tag.endswith("svg")
    assert "blind 207.5" in svg.read_text(encoding="utf-8")


def test_cli_refuses_unknown_camera(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--site", str(DEMO), "--fail", "nope"]) == 2
    assert "unknown cameras" in capsys.readouterr().err


def test_cli_exits_1_when_the_design_leaves_blind_spots(tmp_path: Path) -> None:
    text = DEMO.read_text(encoding="utf-8").replace("range_m: 60\n", "range_m: 30\n", 1)
    site = tmp_path / "site.yaml"
    site.write_text(text, encoding="utf-8")
    assert main(["plan", "--site", str(site)]) == 1


def test_render_svg_is_pure_and_well_formed(demo: Coverage) -> None:
    report = demo.report(set(demo.cameras) - {"cam-e1"}, 0)
    first = render_svg(demo.site, report, coverage=demo)
    assert first == render_svg(demo.site, report)
    root = ET.fromstring(first)
    ns = "{http://www.w3.org/2000/svg}"
    titles = [t.text or "" for t in root.iter(f"{ns}title")]
    assert sum(t.startswith("blind") for t in titles) == 1
    assert sum(t.startswith("camera ") for t in titles) >= 16
