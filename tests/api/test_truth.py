"""Consumption from the API against the energy the simulator actually put through each meter.

The simulator's load model gives the primary energy of every 15-minute interval; its registers show it
quantised (floor to the register step), wrapped at the rollover and restarted at a replacement. Whatever the
faults on the way (duplicates, reordering, an outage back-filled later, a rollover, a meter swap, a leak), each
local day of each meter must come out within one register step at each end of the true energy.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from core.config import SiteConfig
from simulators.meters.clock import build_timeline
from simulators.meters.faults import default_plan
from simulators.meters.model import LoadModel
from tests.api.conftest import Env, load

SEED = 11
START, END = datetime(2024, 2, 26), datetime(2024, 3, 4)
FAULTS = ("duplicates", "reorder", "backfill", "replacement", "rollover", "leak")


def true_daily(site: SiteConfig, model: LoadModel, meter_id: str, days: list[str]) -> list[float]:
    """Energy of each local day: the intervals ending in (00:00, 24:00]."""
    tz = site.tz
    out = []
    for day in days:
        lo = int(datetime.fromisoformat(day).replace(tzinfo=tz).timestamp() * 1000)
        ticks = np.arange(lo + 900_000, lo + 86_400_000 + 1, 900_000, dtype=np.int64)
        out.append(float(model.energy(meter_id, build_timeline(ticks, 900, tz, SEED)).sum()))
    return out


@pytest.mark.integration
@pytest.mark.parametrize("source", ["auto", "raw"])
def test_each_day_of_each_meter_matches_the_simulated_energy(env: Env, source: str) -> None:
    site = env.site
    plan = default_plan(site, START, END, FAULTS, SEED)
    assert plan.replacements and plan.rollovers and plan.gaps and plan.leaks
    load(site, env.influx, START, END + timedelta(hours=1), seed=SEED, faults=plan)
    env.roll_up(START, END)
    model = LoadModel(site, SEED, plan.leaks)
    body = env.get(
        "consumption/site", start="2024-02-26", end="2024-03-04", bucket="day", breakdown="meter", source=source
    ).json()
    checked = swaps = 0
    for series in body["series"][1:]:
        if series["name"] == "total" or len(series["meters"]) != 1:
            continue
        meter = site.meter_by_id[series["name"]]
        step = meter.resolution * meter.multiplier
        days = [b["start"][:10] for b in series["buckets"]]
        truth = true_daily(site, model, meter.id, days)
        for bucket, expected in zip(series["buckets"], truth, strict=True):
            assert bucket["amount"] == pytest.approx(expected, abs=2 * step), (meter.id, bucket["start"])
            if "replacement" in bucket["flags"]:  # the swap interval's energy is assumed (new register from 0)
                assert bucket["completeness_pct"] == pytest.approx(100 - 100 * 15 / 1440, abs=1e-3)
                swaps += 1
            else:  # the back-filled outage left no hole
                assert bucket["completeness_pct"] == 100.0, (meter.id, bucket["start"])
            checked += 1
        assert series["total"]["amount"] == pytest.approx(sum(truth), abs=2 * step)
    assert checked == 7 * len(site.meters) and swaps == 1
