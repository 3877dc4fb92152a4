"""Cumulative meter registers: integrate energy, quantise to the resolution, wrap at rollover, convert units."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from core.config import Meter
from core.types import UNIT_FACTORS, Kind

_SCALE_FROM_BASE = {
    "Wh": Decimal(1000),
    "kWh": Decimal(1),
    "MWh": Decimal("0.001"),
    "L": Decimal(1000),
    "m3": Decimal(1),
}


@dataclass(frozen=True, slots=True)
class RegisterFormat:
    """How a meter's register counts print in its unit: value = counts * step / 10**decimals, exactly."""

    unit: str
    step: int
    decimals: int

    def values(self, counts: np.ndarray) -> list[float]:
        """Register values in the unit; division by a power of ten is correctly rounded, as when parsing text."""
        values: list[float] = ((counts * self.step) / (10**self.decimals)).tolist()
        return values


def register_format(meter: Meter, unit: str) -> RegisterFormat:
    """Describe the printing of `meter`'s register in `unit`; raise ValueError if the unit does not fit its kind."""
    if unit not in UNIT_FACTORS or UNIT_FACTORS[unit][0] is not meter.kind:
        raise ValueError(f"meter {meter.id}: unit {unit!r} does not fit a {meter.kind.value} meter")
    step = Decimal(repr(meter.resolution)) * _SCALE_FROM_BASE[unit]
    _sign, digits, exponent = step.normalize().as_tuple()
    assert isinstance(exponent, int)
    mantissa = int("".join(map(str, digits)))
    if exponent >= 0:
        return RegisterFormat(unit, mantissa * 10**exponent, 0)
    return RegisterFormat(unit, mantissa, -exponent)


def choose_units(meters: list[Meter], overrides: Mapping[str, str], mixed: bool) -> dict[str, str]:
    """Unit per meter: kWh / m3, or a stable mix (about 1 in 7 electricity meters in Wh or MWh, 1 in 3 water in L)."""
    units: dict[str, str] = {}
    for i, meter in enumerate(meters):
        if meter.kind is Kind.ELECTRICITY:
            unit = ("Wh" if i % 14 == 3 else "MWh" if i % 14 == 10 else "kWh") if mixed else "kWh"
        else:
            unit = ("L" if i % 3 == 1 else "m3") if mixed else "m3"
        units[meter.id] = overrides.get(meter.id, unit)
    return units


class Register:
    """The running register of one meter in register units (primary energy / multiplier)."""

    def __init__(self, meter: Meter, initial: float) -> None:
        self.meter = meter
        self.exact = float(initial)
        self.wrap_counts = round((meter.rollover + meter.resolution) / meter.resolution)

    def advance(self, primary: np.ndarray, resets: Mapping[int, float] | None = None) -> np.ndarray:
        """Add each interval's primary energy; return the displayed register counts after each interval.

        `resets` maps an index to the value the register holds just before that interval's energy is added
        (a meter replacement).
        """
        cum = self.exact + np.cumsum(primary / self.meter.multiplier)
        for index, base in sorted((resets or {}).items()):
            before = cum[index - 1] if index > 0 else self.exact
            cum[index:] += base - before
        if len(cum):
            self.exact = float(cum[-1])
        counts = np.floor(cum / self.meter.resolution + 1e-9).astype(np.int64)
        return counts % self.wrap_counts
