"""Perimeter coverage: which stretches of the boundary healthy cameras watch, and which nobody does."""

from alerts.coverage.codec import coverage_from_json, coverage_to_json
from alerts.coverage.model import CameraView, Coverage
from alerts.coverage.monitor import CoverageMonitor, MonitorSettings
from alerts.coverage.plan import build_plan
from alerts.coverage.render import render_svg

__all__ = [
    "CameraView",
    "Coverage",
    "CoverageMonitor",
    "MonitorSettings",
    "build_plan",
    "coverage_from_json",
    "coverage_to_json",
    "render_svg",
]
