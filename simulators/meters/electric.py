"""Electric load per building use and sub-item: installed capacity and a 0..1 utilisation profile."""

from __future__ import annotations

import numpy as np

from core.config import Building
from core.types import Item
from simulators.meters import shapes as s
from simulators.meters.clock import Timeline

# Design loads per use, W/m² of floor area, chosen so an office lands near 80 kWh/m²/year,
# a canteen near 250, a data room in the thousands and a car park near 50.
_W_PER_M2: dict[str, dict[Item, float]] = {
    "office": {Item.LIGHTING_SOCKETS: 5.0, Item.HVAC: 25.0, Item.POWER: 3.0, Item.SPECIAL: 2.0},
    "canteen": {Item.LIGHTING_SOCKETS: 10.0, Item.HVAC: 30.0, Item.POWER: 5.0, Item.SPECIAL: 90.0},
    "data_room": {Item.LIGHTING_SOCKETS: 10.0, Item.HVAC: 160.0, Item.POWER: 5.0, Item.SPECIAL: 400.0},
    "car_park": {Item.LIGHTING_SOCKETS: 2.5, Item.HVAC: 2.0, Item.POWER: 1.5, Item.SPECIAL: 17.5},
}
_USE_SCALE = {"service": ("office", 0.6), "other": ("office", 0.5)}
_SOCKET_W_PER_OCCUPANT = {"office": 100.0}

#: Relative noise per interval, by use; EV charging is burstier than anything else.
NOISE: dict[str, float] = {"office": 0.05, "canteen": 0.08, "data_room": 0.01, "car_park": 0.05}
EV_NOISE = 0.15
#: Main incomer = sum of sub-meters x (1 + losses): cables and transformer.
MAIN_LOSSES = 0.02


def base_use(use: str) -> str:
    """Map a building use to the use whose model it borrows (service and other behave like a small office)."""
    return _USE_SCALE.get(use, (use, 1.0))[0]


def capacity_kw(building: Building, item: Item) -> float:
    """Installed load of one sub-item in a building, kW at utilisation 1.0."""
    use, scale = _USE_SCALE.get(building.use, (building.use, 1.0))
    watts = _W_PER_M2[use][item] * building.floor_area_m2 * scale
    if item is Item.LIGHTING_SOCKETS:
        watts += _SOCKET_W_PER_OCCUPANT.get(use, 0.0) * building.occupants * scale
    return watts / 1000.0


def profile(use: str, item: Item, tl: Timeline, daily: np.ndarray) -> np.ndarray:
    """Utilisation 0..1 of a sub-item for every interval; `daily` is the day-to-day activity factor."""
    use = base_use(use)
    if use == "canteen":
        return _canteen(item, tl, daily)
    if use == "data_room":
        return _data_room(item, tl)
    if use == "car_park":
        return _car_park(item, tl, daily)
    return _office(item, tl, daily)


def _office(item: Item, tl: Timeline, daily: np.ndarray) -> np.ndarray:
    occ = s.day_shape(tl, s.OFFICE_WORK, s.OFFICE_OFF) * daily
    if item is Item.HVAC:
        running = s.day_shape(tl, s.HVAC_WORK, s.HVAC_OFF)
        return 0.03 + running * (0.15 + 0.85 * s.hvac_season(tl))
    if item is Item.POWER:
        return 0.2 + 0.8 * occ
    if item is Item.SPECIAL:
        return 0.35 + 0.65 * occ
    return 0.12 + 0.88 * occ


def _canteen(item: Item, tl: Timeline, daily: np.ndarray) -> np.ndarray:
    meals = s.day_shape(tl, s.MEALS_WORK, s.MEALS_OFF) * daily
    opened = s.day_shape(tl, s.CANTEEN_OPEN_WORK, s.CANTEEN_OPEN_OFF)
    if item is Item.HVAC:
        return 0.03 + opened * (0.15 + 0.85 * s.hvac_season(tl)) * (0.5 + 0.5 * meals)
    if item is Item.POWER:
        return 0.25 + 0.75 * opened
    if item is Item.SPECIAL:
        return 0.08 + 0.92 * meals
    return 0.1 + 0.9 * opened


def _data_room(item: Item, tl: Timeline) -> np.ndarray:
    occ = s.day_shape(tl, s.OFFICE_WORK, s.OFFICE_OFF)
    if item is Item.HVAC:
        return np.clip(0.75 + 0.02 * (tl.temp_c - 17.0), 0.55, 1.0)
    if item is Item.POWER:
        return 0.8 + 0.2 * occ
    if item is Item.SPECIAL:
        return 0.97 + 0.03 * occ
    return 0.3 + 0.7 * occ


def _car_park(item: Item, tl: Timeline, daily: np.ndarray) -> np.ndarray:
    if item is Item.HVAC:
        return 0.1 + 0.45 * s.hvac_season(tl)
    if item is Item.POWER:
        return 0.25 + 0.75 * s.day_shape(tl, s.TRAFFIC_WORK, s.TRAFFIC_OFF)
    if item is Item.SPECIAL:
        ev = s.interp(s.EV_WORK, tl.hour)
        return np.where(tl.workday, ev, 0.1 * ev) * daily
    return s.interp(s.CARPARK_LIGHT, tl.hour)
