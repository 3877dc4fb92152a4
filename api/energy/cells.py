"""Exact bucket totals: consumption steps spread over time buckets in integer micro-units.

Pure functions on `core.consumption.Delta`s. A step of amount A over (t0, t1] is read as the register rising
linearly from t0 to t1: its cumulative part at an instant t is floor(A_u × (t − t0) / (t1 − t0)) micro-units,
and a bucket gets the difference of that at its two ends. Because every bucket edge is cut at the same
instant whatever the bucket size, the parts telescope: hours add up to their day, days to their month,
months to their year, all exactly (they are integers), and a rollup of hours gives the same totals as the
raw register series.

Each part is either measured or estimated: a step `core.consumption` does not trust (a gap, whose timing
is unknown; a replacement or jump, whose amount is assumed; a register going backwards) counts as estimated,
and the time it covers does not count towards completeness.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.consumption import Delta

#: Micro base units per base unit (µkWh per kWh, cm³ per m³).
MICRO = 1_000_000


def to_micro(value: float) -> int:
    """A base-unit amount in integer micro-units."""
    return round(value * MICRO)


def from_micro(value_u: int) -> float:
    """Integer micro-units as a base-unit float (the nearest double to the exact decimal)."""
    return value_u / MICRO


@dataclass(frozen=True, slots=True)
class Tally:
    """What a bucket (of one meter, or added up over several) holds."""

    amount_u: int = 0  # consumption, micro base units
    estimated_u: int = 0  # the part of amount_u that comes from untrusted steps
    measured_ms: int = 0  # meter-time covered by trusted steps
    flags: frozenset[str] = frozenset()  # anomaly kinds of the steps that contributed

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.amount_u + other.amount_u,
            self.estimated_u + other.estimated_u,
            self.measured_ms + other.measured_ms,
            self.flags | other.flags,
        )


def add_all(tallies: Iterable[Tally]) -> Tally:
    """Sum of tallies (exact)."""
    amount = estimated = measured = 0
    flags: set[str] = set()
    for t in tallies:
        amount += t.amount_u
        estimated += t.estimated_u
        measured += t.measured_ms
        flags |= t.flags
    return Tally(amount, estimated, measured, frozenset(flags))


@dataclass(frozen=True, slots=True)
class Cell:
    """One meter's tally over [start_ms, end_ms): an hour or a day of the rollup, or a bucket computed raw."""

    meter: str
    start_ms: int
    end_ms: int
    tally: Tally


def split_exact(deltas: Sequence[Delta], edges_ms: Sequence[int]) -> list[Tally]:
    """Tally of each bucket [edges[i], edges[i+1]) from the steps overlapping it (see the module docstring)."""
    n = len(edges_ms) - 1
    if n <= 0:
        return []
    amount = [0] * n
    estimated = [0] * n
    measured = [0] * n
    flags: list[set[str]] = [set() for _ in range(n)]
    j = 0
    for d in sorted(deltas, key=lambda x: x.start_ms):
        span = d.end_ms - d.start_ms
        if span <= 0:
            continue
        total = to_micro(d.amount)
        trusted = d.trusted
        while j < n and edges_ms[j + 1] <= d.start_ms:
            j += 1
        k = j
        while k < n and edges_ms[k] < d.end_ms:
            lo, hi = max(d.start_ms, edges_ms[k]), min(d.end_ms, edges_ms[k + 1])
            if hi > lo:
                part = total * (hi - d.start_ms) // span - total * (lo - d.start_ms) // span
                amount[k] += part
                if trusted:
                    measured[k] += hi - lo
                else:
                    estimated[k] += part
                flags[k].update(d.flags)
            k += 1
    return [Tally(amount[i], estimated[i], measured[i], frozenset(flags[i])) for i in range(n)]


def into_buckets(cells: Iterable[Cell], edges_ms: Sequence[int]) -> list[Tally]:
    """Add cells up into the buckets [edges[i], edges[i+1]) that contain them; a cell must not straddle an edge."""
    n = len(edges_ms) - 1
    parts: list[list[Tally]] = [[] for _ in range(max(n, 0))]
    for cell in cells:
        i = bisect.bisect_right(edges_ms, cell.start_ms) - 1
        if i < 0 or i >= n:
            continue
        if cell.end_ms > edges_ms[i + 1]:
            raise ValueError(f"cell {cell.meter} [{cell.start_ms}, {cell.end_ms}) straddles edge {edges_ms[i + 1]}")
        parts[i].append(cell.tally)
    return [add_all(p) for p in parts]


def decimal_text(value_u: int) -> str:
    """Integer micro-units as an exact decimal string ("1234.5", "0", "-0.000001")."""
    sign = "-" if value_u < 0 else ""
    whole, frac = divmod(abs(value_u), MICRO)
    text = f"{sign}{whole}.{frac:06d}".rstrip("0").rstrip(".")
    return text if text not in ("", "-") else "0"
