"""Alert rules: each turns its inputs into the complete truth of a scope of conditions (a `RuleOutput`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from alerts.engine.model import Condition


@dataclass(frozen=True, slots=True)
class RuleOutput:
    """Every condition true now in `scope`; keys in `unknown` could not be judged (leave them as they are)."""

    scope: str
    conditions: tuple[Condition, ...] = ()
    unknown: tuple[str, ...] = ()


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of some values (at least one)."""
    if not values:
        raise ValueError("quantile of no values")
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def median(values: Sequence[float]) -> float:
    """Median of some values (at least one)."""
    return quantile(values, 0.5)


def r4(x: float) -> float:
    """Round for evidence: enough digits to act on, few enough to read and to compare between evaluations."""
    return round(x, 4)
