"""What goes wrong, and when: a deterministic fault plan for the meter simulators."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.config import SiteConfig
from core.types import Kind
from simulators.meters.seeding import rng_for

#: Malformed kinds that spoil a whole payload; only ever sent as a publication of their own.
PAYLOAD_KINDS = ("invalid_json", "bad_shape", "huge_payload", "too_many_readings", "nan")
#: Malformed kinds that spoil one reading; sent alone or mixed into an otherwise good batch.
ENTRY_KINDS = (
    "wrong_type",
    "unknown_meter",
    "foreign_meter",
    "negative_value",
    "nan",
    "missing_field",
    "wrong_unit",
    "tag_injection",
    "no_offset",
    "far_future",
    "too_old",
)
MALFORMED_KINDS = tuple(dict.fromkeys(PAYLOAD_KINDS + ENTRY_KINDS))

#: Names accepted by `default_plan` and the CLI's --faults.
FAULT_NAMES = (
    "leak",
    "gaps",
    "backfill",
    "duplicates",
    "reorder",
    "skew",
    "clock-reset",
    "malformed",
    "bad-readings",
    "replacement",
    "rollover",
)


@dataclass(frozen=True, slots=True)
class Leak:
    """Constant extra flow on a water meter (and the building main above it) from `start`."""

    meter: str
    start: datetime
    flow_m3h: float = 0.3
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class Gap:
    """Gateway offline in [start, end): status offline, no readings, then online (and optionally back-fill).

    A publication is lost (or held for back-fill) when its due time falls in the gap; a gap still open at
    the end of the run never comes back online and its back-fill is never sent.
    """

    gateway: str
    start: datetime
    end: datetime
    backfill: bool = False


@dataclass(frozen=True, slots=True)
class Replacement:
    """Meter swapped at `at`: from the first reading at or after it the register restarts at `start_value`."""

    meter: str
    at: datetime
    start_value: float = 0.0  # register units of the new meter


@dataclass(frozen=True, slots=True)
class Rollover:
    """Start the meter near its rollover so the register wraps to ~0 in the interval ending at `at`."""

    meter: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ClockSkew:
    """Gateway clock off by `offset_s`: sent timestamps are true time + offset, within [start, end)."""

    gateway: str
    offset_s: int
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Every fault of a run; rates are per publication and drawn from seeded streams, so runs repeat."""

    leaks: tuple[Leak, ...] = ()
    gaps: tuple[Gap, ...] = ()
    replacements: tuple[Replacement, ...] = ()
    rollovers: tuple[Rollover, ...] = ()
    skews: tuple[ClockSkew, ...] = ()
    duplicate_rate: float = 0.0  # chance a publication is sent again (whole, or one of its readings)
    duplicate_window: int = 3  # the copy goes out 0..window publications later
    reorder_rate: float = 0.0  # chance a publication is held back
    reorder_window: int = 4  # ...by 1..window publications
    malformed_rate: float = 0.0  # chance a malformed publication follows a good one
    bad_reading_rate: float = 0.0  # chance one bad reading is mixed into a good batch
    malformed_kinds: tuple[str, ...] = MALFORMED_KINDS

    def __post_init__(self) -> None:
        for name in ("duplicate_rate", "reorder_rate", "malformed_rate", "bad_reading_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"FaultPlan.{name} must be within [0, 1], got {rate}")
        if self.duplicate_window < 0 or self.reorder_window < 1:
            raise ValueError("FaultPlan.duplicate_window must be >= 0 and reorder_window >= 1")
        unknown = set(self.malformed_kinds) - set(MALFORMED_KINDS)
        if unknown or not self.malformed_kinds:
            raise ValueError(f"FaultPlan.malformed_kinds: unknown or empty {sorted(unknown)}")
        for gap in self.gaps:
            if gap.end <= gap.start:
                raise ValueError(f"gap of {gap.gateway}: end must be after start")
        for leak in self.leaks:
            if leak.flow_m3h <= 0:
                raise ValueError(f"leak on {leak.meter}: flow_m3h must be > 0")

    def check(self, site: SiteConfig) -> None:
        """Raise ValueError if the plan names a meter or gateway the site does not have."""
        gateways = site.gateway_ids
        for what, gateway in [("Gap", g.gateway) for g in self.gaps] + [("ClockSkew", s.gateway) for s in self.skews]:
            if gateway not in gateways:
                raise ValueError(f"{what}: unknown gateway {gateway!r}")
        named = [("Leak", x.meter) for x in self.leaks] + [("Replacement", x.meter) for x in self.replacements]
        for what, meter in named + [("Rollover", x.meter) for x in self.rollovers]:
            if meter not in site.meter_by_id:
                raise ValueError(f"{what}: unknown meter {meter!r}")
        for leak in self.leaks:
            if site.meter_by_id[leak.meter].kind is not Kind.WATER:
                raise ValueError(f"leak on {leak.meter}: not a water meter")

    @property
    def entry_kinds(self) -> tuple[str, ...]:
        """The chosen malformed kinds that can be mixed into a batch."""
        return tuple(k for k in self.malformed_kinds if k in ENTRY_KINDS)


def default_plan(site: SiteConfig, start: datetime, end: datetime, names: Iterable[str], seed: int) -> FaultPlan:
    """Build a representative plan with the named faults on seeded choices of meters and gateways."""
    chosen = set(names)
    if "all" in chosen:
        chosen = set(FAULT_NAMES)
    unknown = chosen - set(FAULT_NAMES)
    if unknown:
        raise ValueError(f"unknown fault names {sorted(unknown)}; choose from {', '.join(FAULT_NAMES)}")
    rng = rng_for(seed, "fault-plan")
    span = end - start

    def at(fraction: float) -> datetime:
        return start + span * fraction

    # Faults go to the JSON gateways and their meters; transparent ones (every meter addressed) stay clean.
    meters = [m for m in site.meters if m.address is None]
    water_subs = [m.id for m in meters if m.kind is Kind.WATER and "main" not in m.id.lower()]
    water = water_subs or [m.id for m in meters if m.kind is Kind.WATER]
    electric = [m.id for m in meters if m.kind is Kind.ELECTRICITY]
    json_gateways = [g for g in site.gateways if any(site.meter_by_id[m].address is None for m in g.meters)]
    order = [json_gateways[int(i)].id for i in rng.permutation(len(json_gateways))]

    def pick(options: list[str]) -> str:
        return options[int(rng.integers(len(options)))]

    def gateway(slot: int) -> str:  # spread the gateway faults over different gateways
        return order[slot % len(order)]

    leaks = (Leak(pick(water), at(0.6), 0.25),) if "leak" in chosen and water else ()
    gaps: list[Gap] = []
    if "gaps" in chosen and order:
        gaps.append(Gap(gateway(0), at(0.4), at(0.4) + min(timedelta(hours=6), span * 0.05)))
    if "backfill" in chosen and order:
        gaps.append(Gap(gateway(1), at(0.2), at(0.2) + min(timedelta(hours=2), span * 0.02), backfill=True))
    skews: list[ClockSkew] = []
    if "skew" in chosen and order:  # small enough that the readings stay acceptable
        skews.append(ClockSkew(gateway(2), int(rng.choice([-170, -95, 95, 170]))))
    if "clock-reset" in chosen and order:  # RTC battery gone: the clock jumps back to 2000
        reset = -int((at(0.7) - datetime(2000, 1, 1, tzinfo=start.tzinfo)).total_seconds())
        skews.append(ClockSkew(gateway(3), reset, at(0.7), at(0.7) + min(timedelta(hours=1), span * 0.01)))
    return FaultPlan(
        leaks=leaks,
        gaps=tuple(gaps),
        replacements=(Replacement(pick(electric), at(0.5)),) if "replacement" in chosen and electric else (),
        rollovers=(Rollover(pick(electric), at(0.3)),) if "rollover" in chosen and electric else (),
        skews=tuple(skews),
        duplicate_rate=0.02 if "duplicates" in chosen else 0.0,
        reorder_rate=0.02 if "reorder" in chosen else 0.0,
        malformed_rate=0.01 if "malformed" in chosen else 0.0,
        bad_reading_rate=0.01 if "bad-readings" in chosen else 0.0,
    )
