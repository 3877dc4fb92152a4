"""The site's load model: mean power (kW) or flow (m³/h) of every meter over each interval, deterministic."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.config import Meter, SiteConfig
from core.types import Item, Kind
from simulators.meters import electric, water
from simulators.meters.clock import MS_PER_DAY, Timeline, to_ms
from simulators.meters.faults import Leak
from simulators.meters.seeding import rng_for

Memo = dict[str, np.ndarray]
_SUB_ITEMS = (Item.LIGHTING_SOCKETS, Item.HVAC, Item.POWER, Item.SPECIAL)


@dataclass(frozen=True, slots=True)
class MeterRole:
    """How one meter is modelled: what it feeds, its share of the building's sub-item load, its noise."""

    meter: str
    building: str
    kind: Kind
    item: Item
    role: str  # "sub" or "main" for electricity; a water.ROLES entry for water
    share: float  # fraction of the building's capacity for this item (electric sub-meters)
    noise: float
    children: tuple[str, ...] = ()  # meters whose flow a main adds up


class LoadModel:
    """Deterministic per-interval mean rate of each meter of a site, given a seed and leaks."""

    def __init__(self, site: SiteConfig, seed: int, leaks: Sequence[Leak] = ()) -> None:
        self.site = site
        self.seed = seed
        self.roles = _roles(site, seed)
        self._leaks: dict[str, list[tuple[int, int | None, float]]] = defaultdict(list)
        for leak in leaks:
            end = None if leak.end is None else to_ms(leak.end, site.tz)
            self._leaks[leak.meter].append((to_ms(leak.start, site.tz), end, leak.flow_m3h))

    def rate(self, meter_id: str, tl: Timeline, memo: Memo | None = None) -> np.ndarray:
        """Mean kW (electricity) or m³/h (water) over each interval of `tl`, leaks included."""
        memo = {} if memo is None else memo
        if meter_id not in memo:
            memo[meter_id] = self._rate(self.roles[meter_id], tl, memo)
        return memo[meter_id]

    def energy(self, meter_id: str, tl: Timeline, memo: Memo | None = None) -> np.ndarray:
        """Primary kWh or m³ consumed in each interval of `tl`."""
        return self.rate(meter_id, tl, memo) * (tl.interval_s / 3600.0)

    def _rate(self, role: MeterRole, tl: Timeline, memo: Memo) -> np.ndarray:
        building = self.site.building_by_id[role.building]
        noise = 1.0 + role.noise * self._noise(role.meter, tl)
        if role.kind is Kind.ELECTRICITY:
            if role.role == "main":
                subs = sum((self.rate(c, tl, memo) for c in role.children), np.zeros(len(tl)))
                return np.maximum(subs * role.share * (1.0 + electric.MAIN_LOSSES) * noise, 0.0)
            daily = self._daily(building.id, tl, 0.06)
            util = electric.profile(building.use, role.item, tl, daily)
            return np.maximum(electric.capacity_kw(building, role.item) * role.share * util * noise, 0.0)
        own = sum((water.flow_m3h(d, tl) for d in water.draws(role.role, building)), np.zeros(len(tl)))
        flow = np.maximum(own * self._daily(role.meter, tl, 0.08) * noise, 0.0)
        flow = flow + sum((self.rate(c, tl, memo) for c in role.children), np.zeros(len(tl)))
        return flow + self._leak_m3h(role.meter, tl)

    def _noise(self, meter_id: str, tl: Timeline) -> np.ndarray:
        """Standard normals keyed by (meter, UTC day, slot), so a value never depends on the run's start."""
        ms = tl.interval_s * 1000
        slots = -(-MS_PER_DAY // ms)
        days = (tl.ts_ms - 1) // MS_PER_DAY
        out = np.empty(len(tl))
        for day in np.unique(days).tolist():
            mask = days == day
            draws = rng_for(self.seed, "noise", meter_id, tl.interval_s, day).standard_normal(slots)
            out[mask] = draws[((tl.ts_ms[mask] - 1) % MS_PER_DAY) // ms]
        return np.clip(out, -3.0, 3.0)

    def _daily(self, key: str, tl: Timeline, sigma: float) -> np.ndarray:
        """Day-to-day activity factor around 1.0, one draw per local day."""
        out = np.empty(len(tl))
        for day in np.unique(tl.day).tolist():
            out[tl.day == day] = rng_for(self.seed, "daily", key, day).normal(1.0, sigma)
        return np.clip(out, 1.0 - 3 * sigma, 1.0 + 3 * sigma)

    def _leak_m3h(self, meter_id: str, tl: Timeline) -> np.ndarray:
        """Leak flow averaged over each interval: exact overlap of the leak window with the interval."""
        out = np.zeros(len(tl))
        ms = tl.interval_s * 1000
        for start, end, flow in self._leaks.get(meter_id, ()):
            lo = np.maximum(tl.ts_ms - ms, start)
            hi = tl.ts_ms if end is None else np.minimum(tl.ts_ms, end)
            out += flow * np.clip(hi - lo, 0, ms) / ms
        return out


def _roles(site: SiteConfig, seed: int) -> dict[str, MeterRole]:
    """Work out each meter's role, share and children from the site file alone."""
    roles: dict[str, MeterRole] = {}
    by_building: dict[str, list[str]] = defaultdict(list)
    for meter in site.meters:
        by_building[meter.building].append(meter.id)
    for building_id, ids in by_building.items():
        building = site.building_by_id[building_id]
        meters = [site.meter_by_id[i] for i in ids]
        elec = [m for m in meters if m.kind is Kind.ELECTRICITY]
        subs = [m for m in elec if m.item is not Item.MAIN_INCOMER]
        use = electric.base_use(building.use)
        for item in {m.item for m in subs}:
            same = [m for m in subs if m.item is item]
            weights = [float(rng_for(seed, "share", m.id).uniform(0.7, 1.3)) for m in same]
            for m, w in zip(same, weights, strict=True):
                noise = electric.EV_NOISE if (use == "car_park" and item is Item.SPECIAL) else electric.NOISE[use]
                roles[m.id] = MeterRole(m.id, building_id, m.kind, item, "sub", w / sum(weights), noise)
        mains = [m for m in elec if m.item is Item.MAIN_INCOMER]
        children = tuple(m.id for m in subs)
        if mains and not children:  # an unmetered building: the main carries synthetic sub-items
            children = tuple(f"{building_id}#{item.value}" for item in _SUB_ITEMS)
            for child, item in zip(children, _SUB_ITEMS, strict=True):
                roles[child] = MeterRole(child, building_id, Kind.ELECTRICITY, item, "sub", 1.0, electric.NOISE[use])
        for m in mains:
            roles[m.id] = MeterRole(m.id, building_id, m.kind, m.item, "main", 1.0 / len(mains), 0.002, children)
        _water_roles(site, building_id, [m for m in meters if m.kind is Kind.WATER], roles)
    return roles


def _water_roles(site: SiteConfig, building_id: str, meters: list[Meter], roles: dict[str, MeterRole]) -> None:
    """Classify a building's water meters; a main adds up the other (non-main) water meters."""
    building = site.building_by_id[building_id]
    kinds = {m.id: water.role_of(m, building, meters) for m in meters}
    subs = tuple(i for i, r in kinds.items() if r not in ("main", "total"))
    for meter_id, role in kinds.items():
        children = subs if role == "main" else ()
        roles[meter_id] = MeterRole(meter_id, building_id, Kind.WATER, Item.WATER, role, 1.0, water.NOISE, children)
