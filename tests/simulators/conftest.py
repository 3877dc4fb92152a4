"""Fixtures for the simulator tests: the demo site and a few generated runs, built once per session."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from core.config import SiteConfig, load_site
from simulators.meters import FaultPlan, GenOptions, Publication, default_plan, generate_site

ROOT = Path(__file__).resolve().parents[2]
#: Fixed "collector receive time" for labelling, so the runs do not depend on the wall clock.
RECEIVE_MS = 1_795_000_000_000  # 2026-11-18


@pytest.fixture(scope="session")
def demo_site() -> SiteConfig:
    """The demo compound: 7 buildings, 49 meters, 4 gateways."""
    return load_site(ROOT / "sites" / "demo.yaml")


def run(
    site: SiteConfig,
    start: datetime,
    end: datetime,
    seed: int = 1,
    faults: FaultPlan | None = None,
    options: GenOptions | None = None,
) -> list[Publication]:
    """Generate a whole run with the fixed receive time."""
    return list(generate_site(site, seed, start, end, faults=faults, options=options, receive_ms=lambda _: RECEIVE_MS))


@pytest.fixture(scope="session")
def all_faults_run(demo_site: SiteConfig) -> list[Publication]:
    """Ten days of the demo site with every fault of the default plan, at high rates."""
    start, end = datetime(2026, 10, 1, tzinfo=demo_site.tz), datetime(2026, 10, 11, tzinfo=demo_site.tz)
    plan = default_plan(demo_site, start, end, ["all"], seed=3)
    plan = replace(plan, duplicate_rate=0.05, reorder_rate=0.05, malformed_rate=0.05, bad_reading_rate=0.05)
    return run(demo_site, start, end, seed=3, faults=plan, options=GenOptions(ts_format="mixed", mixed_units=True))
