"""Which meters add up to which total, so that nothing is counted twice.

A building's supply of a kind is measured by its *main* meters when it has any (the sub-meters under them
only split it up), else by the sum of all its meters of that kind. Main meters are `energy.mains` in the site
file; without that list the rule is: electricity meters of item 01E (main incomer); a building's only water
meter; of several water meters, those whose id or name says "main". A sub-item total (01A lighting & sockets,
...) is the sum of the meters of that item, the mains only when the item has one. Site totals add up the
buildings.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from core.config import Meter, SiteConfig
from core.types import BASE_UNIT, Item, Kind


@dataclass(frozen=True, slots=True)
class Group:
    """Meters whose consumption adds up to one series."""

    name: str  # "total", an item code, a meter id or a building id
    kind: Kind
    item: Item | None  # None: the kind's total
    meters: tuple[str, ...]

    @property
    def unit(self) -> str:
        """kWh or m3."""
        return BASE_UNIT[self.kind]


def default_mains(site: SiteConfig) -> frozenset[str]:
    """Main meters by the default rule (see the module docstring)."""
    mains = {m.id for m in site.meters if m.kind is Kind.ELECTRICITY and m.item is Item.MAIN_INCOMER}
    for building in site.buildings:
        water = [m for m in site.meters if m.building == building.id and m.kind is Kind.WATER]
        if len(water) == 1:
            mains.add(water[0].id)
        else:
            mains.update(m.id for m in water if "main" in f"{m.id} {m.name}".lower())
    return frozenset(mains)


class Topology:
    """The meter groups of a site."""

    def __init__(self, site: SiteConfig) -> None:
        self.site = site
        explicit = site.energy.mains
        self.mains = frozenset(explicit) if explicit is not None else default_mains(site)

    @cached_property
    def _by_building(self) -> dict[str, list[Meter]]:
        out: dict[str, list[Meter]] = {b.id: [] for b in self.site.buildings}
        for meter in self.site.meters:
            out[meter.building].append(meter)
        return out

    def _buildings(self, building: str | None) -> list[str]:
        return [b.id for b in self.site.buildings] if building is None else [building]

    def kinds(self, building: str | None = None) -> list[Kind]:
        """Kinds metered in a building (or the site), electricity first."""
        present = {m.kind for b in self._buildings(building) for m in self._by_building[b]}
        return [k for k in Kind if k in present]

    def total(self, kind: Kind, building: str | None = None) -> Group:
        """A building's (or the site's) whole supply of a kind."""
        meters: list[str] = []
        for b in self._buildings(building):
            of_kind = [m.id for m in self._by_building[b] if m.kind is kind]
            mains = [m for m in of_kind if m in self.mains]
            meters.extend(mains or of_kind)
        return Group("total", kind, None, tuple(meters))

    def item(self, item: Item, building: str | None = None) -> Group:
        """A sub-item's total in a building (or the site)."""
        meters: list[str] = []
        for b in self._buildings(building):
            of_item = [m.id for m in self._by_building[b] if m.item is item]
            mains = [m for m in of_item if m in self.mains]
            meters.extend(mains or of_item)
        kind = Kind.WATER if item is Item.WATER else Kind.ELECTRICITY
        return Group(item.value, kind, item, tuple(meters))

    def items(self, kind: Kind, building: str | None = None) -> list[Group]:
        """The sub-item split of a kind's total: every item with meters, except one that is the total itself."""
        total = set(self.total(kind, building).meters)
        out = []
        for item in Item:
            group = self.item(item, building)
            if group.kind is kind and group.meters and set(group.meters) != total:
                out.append(group)
        return out

    def meter(self, meter_id: str) -> Group:
        """One meter on its own."""
        m = self.site.meter_by_id[meter_id]
        return Group(m.id, m.kind, m.item, (m.id,))

    def meters(self, kind: Kind, building: str | None = None) -> list[Group]:
        """Every meter of a kind in a building (or the site), one group each."""
        return [self.meter(m.id) for b in self._buildings(building) for m in self._by_building[b] if m.kind is kind]

    def buildings(self, kind: Kind) -> list[Group]:
        """Each building's total of a kind, named by the building."""
        out = []
        for b in self.site.buildings:
            group = self.total(kind, b.id)
            if group.meters:
                out.append(Group(b.id, kind, None, group.meters))
        return out
