"""Water draw-off per meter role: daily volume and a daily shape that is zero at night."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.config import Building, Meter
from simulators.meters import shapes as s
from simulators.meters.clock import Timeline
from simulators.meters.electric import base_use

ROLES = ("main", "washroom", "kitchen", "cleaning", "total")
NOISE = 0.25  # draw-off is bursty: relative noise per interval
_MEALS_PER_M2 = 0.45  # meals served per day per m² of canteen floor


@dataclass(frozen=True, slots=True)
class Draw:
    """One component of a meter's water use: workday and rest-day volume (m³/day) spread over a shape."""

    work_m3: float
    off_m3: float
    work: s.Knots
    off: s.Knots
    summer_boost: float = 0.0  # extra fraction Jun-Sep (cooling-tower make-up)


def role_of(meter: Meter, building: Building, water_meters: list[Meter]) -> str:
    """Classify a water meter: building main (sum of the others plus extra), a sub-meter role, or total."""
    text = f"{meter.id} {meter.name}".lower()
    if len(water_meters) == 1:
        return "total"
    if "main" in text:
        return "main"
    if "kit" in text:
        return "kitchen"
    if "wc" in text or "washroom" in text or "toilet" in text:
        return "washroom"
    return {"canteen": "kitchen", "car_park": "cleaning"}.get(base_use(building.use), "washroom")


def draws(role: str, building: Building) -> tuple[Draw, ...]:
    """The components a meter of `role` measures itself (a main adds its sub-meters on top)."""
    use = base_use(building.use)
    meals = building.floor_area_m2 * _MEALS_PER_M2 if use == "canteen" else 0.0
    per_person = {"data_room": 0.05}.get(use, 0.035)
    washroom = Draw(
        building.occupants * per_person + meals * 0.003,
        building.occupants * per_person * 0.06 + meals * 0.0003,
        s.WASHROOM_WORK,
        s.WASHROOM_OFF,
    )
    kitchen = Draw(meals * 0.012, meals * 0.0012, s.KITCHEN_WATER_WORK, s.KITCHEN_WATER_OFF)
    cleaning = Draw(building.floor_area_m2 * 0.0001, building.floor_area_m2 * 0.00005, s.CLEANING, s.CLEANING)
    if role == "washroom":
        return (washroom,)
    if role == "kitchen":
        return (kitchen,)
    if role == "cleaning":
        return (cleaning,)
    if role == "main":  # pantries, cleaning and make-up water not behind any sub-meter
        extra = Draw(
            building.occupants * 0.012 + meals * 0.002,
            building.occupants * 0.001,
            s.OFFICE_WORK,
            s.OFFICE_OFF,
            summer_boost=0.5 if use == "office" else 0.0,
        )
        return (extra,)
    by_use = {"canteen": (kitchen, washroom), "car_park": (cleaning,)}
    return by_use.get(use, (washroom,))


def flow_m3h(draw: Draw, tl: Timeline) -> np.ndarray:
    """Mean flow (m³/h) of one component over each interval, before noise."""
    work = draw.work_m3 * s.interp(draw.work, tl.hour) / (24 * max(s.daily_mean(draw.work), 1e-9))
    off = draw.off_m3 * s.interp(draw.off, tl.hour) / (24 * max(s.daily_mean(draw.off), 1e-9))
    flow = np.where(tl.workday, work, off)
    if draw.summer_boost:
        flow = flow * np.where(np.isin(tl.month, list(s.COOLING_MONTHS)), 1 + draw.summer_boost, 1.0)
    return flow
