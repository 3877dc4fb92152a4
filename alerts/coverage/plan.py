"""The planning report: the design's own blind spots, single points of failure, and what each failure opens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alerts.coverage.codec import report_to_dict
from alerts.coverage.model import Coverage
from core.types import CoverageReport, Stretch


@dataclass(frozen=True, slots=True)
class CameraSummary:
    """One camera in the plan: how far it sees and how much of the perimeter only it watches."""

    camera: str
    range_m: float
    covered_m: float
    sole_m: float  # watched by this camera alone with every camera healthy
    failure_gap_m: float  # blind length its failure alone opens


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything the planning report shows."""

    perimeter_length_m: float
    cameras: tuple[CameraSummary, ...]
    static: CoverageReport  # every camera healthy
    failures: tuple[tuple[str, CoverageReport], ...]  # each camera failed alone (N-1)
    scenario: CoverageReport | None  # the cameras asked for with --fail failed together


def build_plan(coverage: Coverage, fail: Sequence[str] = ()) -> Plan:
    """Run the static and N-1 analyses (and one chosen failure scenario)."""
    everyone = set(coverage.cameras)
    unknown = set(fail) - everyone
    if unknown:
        raise ValueError(f"unknown cameras: {sorted(unknown)}")
    static = coverage.static
    failures = tuple((cam, coverage.report(everyone - {cam}, 0)) for cam in coverage.cameras)
    summaries = tuple(
        CameraSummary(
            camera=cam,
            range_m=round(coverage.views[cam].range_m, 1),
            covered_m=round(coverage.views[cam].covered_m, 2),
            sole_m=round(sum(s.length_m for s in static.single if s.cameras == (cam,)), 2),
            failure_gap_m=round(_blind_m(report) - _blind_m(static), 2),
        )
        for cam, report in failures
    )
    scenario = coverage.report(everyone - set(fail), 0) if fail else None
    return Plan(round(coverage.length, 2), summaries, static, failures, scenario)


def _blind_m(report: CoverageReport) -> float:
    return sum(s.length_m for s in report.blind)


def format_plan(plan: Plan, coverage: Coverage) -> str:
    """Render the plan as text for a terminal."""
    lines = [
        f"Perimeter coverage plan — site {coverage.site.site.id}",
        f"perimeter {plan.perimeter_length_m:.1f} m ({'closed' if coverage.closed else 'open'}), "
        f"{len(plan.cameras)} cameras, {len(coverage.occluders)} occluders, {len(coverage.zones)} zones",
        "",
        f"{'camera':<12} {'range m':>8} {'sees m':>8} {'alone m':>8} {'gap if it fails m':>18}",
    ]
    for c in plan.cameras:
        lines.append(f"{c.camera:<12} {c.range_m:>8.1f} {c.covered_m:>8.1f} {c.sole_m:>8.1f} {c.failure_gap_m:>18.1f}")
    lines += ["", "Blind spots with every camera healthy (design gaps):"]
    lines += _stretch_lines(plan.static.blind, coverage) or ["  none — the whole perimeter is watched"]
    lines += ["", "Single-covered stretches with every camera healthy (single points of failure):"]
    lines += _stretch_lines(plan.static.single, coverage) or ["  none"]
    lines += ["", "N-1: blind stretches opened by each camera failing alone:"]
    for cam, report in plan.failures:
        opened = [s for s in report.blind if cam in s.cameras]
        total = sum(s.length_m for s in opened)
        lines.append(f"  {cam}: {total:.1f} m" if opened else f"  {cam}: no gap (fully overlapped)")
        lines += ["  " + line for line in _stretch_lines(opened, coverage)]
    if plan.scenario is not None:
        lines += ["", f"Scenario — failed: {', '.join(plan.scenario.unhealthy)}:"]
        lines += _stretch_lines(plan.scenario.blind, coverage) or ["  no blind stretch"]
    return "\n".join(lines) + "\n"


def _stretch_lines(stretches: Sequence[Stretch], coverage: Coverage) -> list[str]:
    out = []
    for s in stretches:
        priority = coverage.priority_of(s)
        zones = ", ".join(s.zones) or "-"
        cams = f"  cameras {', '.join(s.cameras)}" if s.cameras else ""
        out.append(
            f"  {s.start_m:8.1f}–{s.end_m:8.1f} m ({s.length_m:6.1f} m)"
            f"  ({s.start_xy[0]:.1f}, {s.start_xy[1]:.1f})→({s.end_xy[0]:.1f}, {s.end_xy[1]:.1f})"
            f"  zones {zones}{f' (P{priority})' if priority else ''}{cams}"
        )
    return out


def plan_to_dict(plan: Plan) -> dict[str, object]:
    """Return the plan as JSON-ready data (the API can serve it as is)."""
    return {
        "perimeter_length_m": plan.perimeter_length_m,
        "cameras": [
            {
                "camera": c.camera,
                "range_m": c.range_m,
                "covered_m": c.covered_m,
                "sole_m": c.sole_m,
                "failure_gap_m": c.failure_gap_m,
            }
            for c in plan.cameras
        ],
        "static": report_to_dict(plan.static),
        "n_minus_1": {cam: report_to_dict(report)["blind"] for cam, report in plan.failures},
        "scenario": report_to_dict(plan.scenario) if plan.scenario is not None else None,
    }
