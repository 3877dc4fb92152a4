"""Consumption cells computed straight from the raw register series (`core.consumption` + exact split)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from api.energy.cells import Cell, split_exact
from api.energy.store import EnergyStore
from core.config import SiteConfig
from core.consumption import RegisterSpec, compute

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class RawOptions:
    """How much is read around a range."""

    context_ms: int = DAY_MS  # read this much before the range too, so its first steps are judged in context
    edge_lookup_ms: int = 31 * DAY_MS  # how far to look for the reading before / after the range


def cells_from_series(
    site: SiteConfig, series: Mapping[str, Sequence[tuple[int, float]]], edges_ms: Sequence[int]
) -> list[Cell]:
    """Each meter's cells on the buckets [edges[i], edges[i+1]), from its (ts_ms, register) readings."""
    cells: list[Cell] = []
    for meter_id, points in series.items():
        result = compute(points, RegisterSpec.of(site.meter_by_id[meter_id]))
        tallies = split_exact(result.deltas, edges_ms)
        cells.extend(Cell(meter_id, edges_ms[i], edges_ms[i + 1], t) for i, t in enumerate(tallies))
    return cells


class RawReader:
    """Read registers for a range and turn them into cells."""

    def __init__(self, site: SiteConfig, store: EnergyStore, options: RawOptions | None = None) -> None:
        self.site = site
        self.store = store
        self.options = options or RawOptions()

    def cells(self, meters: Sequence[str], edges_ms: Sequence[int]) -> list[Cell]:
        """Cells of `meters` on the buckets [edges[i], edges[i+1]) (every meter, every bucket, zeros included)."""
        if len(edges_ms) < 2 or not meters:
            return []
        series = self.store.registers(
            meters, edges_ms[0] - self.options.context_ms, edges_ms[-1], self.options.edge_lookup_ms
        )
        return cells_from_series(self.site, series, edges_ms)
