"""Daily load shapes (0..1 by local hour) for working and non-working days, and HVAC season weights."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from simulators.meters.clock import Timeline

Knots = tuple[tuple[float, float], ...]

# Office occupancy: arrive 07:30-08:30, lunch dip 12:00-13:30, leave 17:30, a few stay late.
OFFICE_WORK: Knots = (
    (0, 0), (6.5, 0), (7.5, 0.15), (8.5, 1.0), (11.75, 1.0), (12.25, 0.6), (13.25, 0.6),
    (13.75, 1.0), (17.5, 1.0), (18.5, 0.35), (20, 0.12), (21.5, 0.03), (22.5, 0), (24, 0),
)  # fmt: skip
OFFICE_OFF: Knots = ((0, 0), (8, 0), (9.5, 0.07), (16, 0.07), (17.5, 0), (24, 0))

# HVAC plant: pre-start at 07:00, stop at 18:00.
HVAC_WORK: Knots = ((0, 0), (7, 0), (7.5, 0.8), (8.5, 1.0), (17.5, 1.0), (18.5, 0.2), (19, 0), (24, 0))
HVAC_OFF: Knots = ((0, 0), (8.5, 0), (9, 0.06), (17, 0.06), (17.5, 0), (24, 0))

# Canteen kitchen: breakfast, lunch (prep from 10:00), dinner; a skeleton service on rest days.
MEALS_WORK: Knots = (
    (0, 0), (5.5, 0), (6.25, 0.5), (6.75, 0.8), (8.25, 0.6), (8.75, 0.1), (10, 0.3), (11, 1.0),
    (12.5, 1.0), (13.25, 0.35), (14, 0.1), (16.5, 0.15), (17, 0.6), (18.25, 0.6), (19, 0.15), (20, 0), (24, 0),
)  # fmt: skip
MEALS_OFF: Knots = ((0, 0), (7, 0), (7.5, 0.1), (12.5, 0.15), (13, 0.05), (17, 0.05), (18, 0), (24, 0))
CANTEEN_OPEN_WORK: Knots = ((0, 0), (5.5, 0), (6, 1.0), (19.5, 1.0), (20, 0), (24, 0))
CANTEEN_OPEN_OFF: Knots = ((0, 0), (7, 0), (7.5, 0.3), (17.5, 0.3), (18, 0), (24, 0))

# Car park: traffic peaks, night-time lighting dimmed by presence sensors, EV charging after arrival.
TRAFFIC_WORK: Knots = (
    (0, 0), (6.5, 0), (7.5, 0.7), (8.5, 1.0), (9.5, 0.4), (12, 0.3), (16.5, 0.4), (17.5, 1.0),
    (19, 0.3), (21, 0.05), (24, 0),
)  # fmt: skip
TRAFFIC_OFF: Knots = ((0, 0), (8, 0), (9, 0.15), (17, 0.15), (18, 0), (24, 0))
CARPARK_LIGHT: Knots = ((0, 0.6), (5.5, 0.6), (6, 1.0), (23, 1.0), (23.5, 0.6), (24, 0.6))
EV_WORK: Knots = (
    (0, 0.03), (7.5, 0.03), (8.5, 0.6), (9.5, 1.0), (12, 0.9), (14, 0.5), (16, 0.25), (18, 0.15),
    (20, 0.05), (24, 0.03),
)  # fmt: skip

# Water draw-off: washrooms follow occupancy, kitchens follow meal preparation and washing-up.
WASHROOM_WORK: Knots = (
    (0, 0), (7, 0), (7.5, 0.3), (9, 1.0), (10.5, 0.8), (11.5, 0.6), (12.5, 1.2), (13.5, 1.0), (15, 0.8),
    (17.5, 0.7), (18.5, 0.2), (19.5, 0), (24, 0),
)  # fmt: skip
WASHROOM_OFF: Knots = ((0, 0), (9, 0), (9.5, 1.0), (16.5, 1.0), (17, 0), (24, 0))
KITCHEN_WATER_WORK: Knots = (
    (0, 0), (5.5, 0), (6, 0.7), (7, 1.0), (8.5, 0.6), (9, 0.2), (10, 0.8), (11.5, 1.0), (13.5, 1.2),
    (14.5, 0.3), (16.5, 0.6), (18, 0.8), (19.5, 0.6), (20.5, 0), (24, 0),
)  # fmt: skip
KITCHEN_WATER_OFF: Knots = ((0, 0), (7, 0), (7.5, 1.0), (13.5, 1.0), (14, 0), (24, 0))
CLEANING: Knots = ((0, 0), (6, 0), (6.25, 1.0), (7.25, 1.0), (7.5, 0), (24, 0))
ZERO: Knots = ((0, 0), (24, 0))

COOLING_MONTHS = frozenset({6, 7, 8, 9})
HEATING_MONTHS = frozenset({12, 1, 2})


def interp(knots: Knots, hour: np.ndarray) -> np.ndarray:
    """Piecewise-linear shape value at each local hour."""
    xs = np.fromiter((k[0] for k in knots), dtype=np.float64)
    ys = np.fromiter((k[1] for k in knots), dtype=np.float64)
    return np.interp(hour, xs, ys)


def day_shape(tl: Timeline, work: Knots, off: Knots) -> np.ndarray:
    """Working-day shape on working days, rest-day shape otherwise (weekends and public holidays)."""
    return np.where(tl.workday, interp(work, tl.hour), interp(off, tl.hour))


@lru_cache(maxsize=128)
def daily_mean(knots: Knots) -> float:
    """Mean of a shape over 24 h, used to turn a daily volume into a flow rate."""
    hours = np.linspace(0, 24, 24 * 60 + 1)
    return float(np.trapezoid(interp(knots, hours), hours) / 24)


def hvac_season(tl: Timeline) -> np.ndarray:
    """HVAC demand 0..1: cooling Jun-Sep and heating Dec-Feb, scaled by outdoor temperature; 0 in between."""
    month = tl.month
    cooling = np.isin(month, list(COOLING_MONTHS))
    heating = np.isin(month, list(HEATING_MONTHS))
    cool = np.clip((tl.temp_c - 20.0) / 10.0, 0.15, 1.0)
    heat = np.clip((14.0 - tl.temp_c) / 12.0, 0.15, 0.9)
    return np.where(cooling, cool, np.where(heating, heat, 0.0))
