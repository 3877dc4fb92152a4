"""Ground truth of a simulated run: what was published and what a correct collector must make of it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TruthReading:
    """One acceptable reading as sent; a correct collector stores exactly this for (meter, ts_ms)."""

    meter: str
    ts_ms: int  # timestamp as sent (gateway clock skew included), UTC epoch ms
    raw: float  # value exactly as in the payload, in `unit`
    unit: str
    seq: int | None = None
    value: float = 0.0  # raw in the kind's base unit (kWh or m3) with the multiplier applied
    true_ts_ms: int = 0  # when the meter really read it (differs from ts_ms under clock skew)
    flags: tuple[str, ...] | None = None  # status flags sent with it (CJ/T 188 frames); None: no status


@dataclass(frozen=True, slots=True)
class BadPart:
    """A part of a payload a correct collector must refuse: one reading (index) or the whole payload (None)."""

    index: int | None  # position in a {"readings": [...]} batch; None for the whole payload or a single object
    kind: str  # a faults.MALFORMED_KINDS entry, or "future" / "too_old" for skew-shifted timestamps
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Publication:
    """One MQTT publish with its ground truth."""

    topic: str
    payload: bytes
    gateway: str
    well_formed: bool  # True iff every part of the payload is acceptable
    readings: tuple[TruthReading, ...]  # every acceptable reading in the payload, in payload order
    fault: str | None = None  # e.g. "duplicate", "out_of_order", "backfill", "gap", "malformed:nan"
    bad: tuple[BadPart, ...] = ()
    retain: bool = False
    due_ms: int = 0  # simulated time (UTC ms) at which the gateway sends it
    qos: int = 1

    @property
    def is_status(self) -> bool:
        """True for an online/offline status message rather than readings."""
        return self.topic.endswith("/status")


@dataclass(frozen=True, slots=True)
class Manifest:
    """Summary of a run's publications: what a correct collector ends up storing and refusing."""

    publications: int  # reading publications (status messages excluded)
    status_messages: int
    malformed_publications: int  # publications with at least one bad part
    rejected_payloads: int  # bad parts that spoil a whole payload
    rejected_readings: int  # bad parts that are single readings
    readings_sent: int  # acceptable reading entries sent, duplicates included
    expected: Mapping[tuple[str, int], TruthReading] = field(repr=False)  # (meter, ts_ms) -> last sent; {} if
    # the builder did not keep readings
    conflicts: frozenset[tuple[str, int]] = frozenset()  # (meter, ts_ms) sent with different values
    faults: Mapping[str, int] = field(default_factory=dict)

    @property
    def distinct(self) -> int:
        """How many distinct (meter, ts_ms) points a correct collector stores."""
        return len(self.expected)


class ManifestBuilder:
    """Fold publications into a Manifest one at a time, e.g. while they are being published."""

    def __init__(self, keep_readings: bool = True) -> None:
        self.keep_readings = keep_readings  # False: count only, so an endless run uses constant memory
        self.expected: dict[tuple[str, int], TruthReading] = {}
        self.conflicts: set[tuple[str, int]] = set()
        self.faults: Counter[str] = Counter()
        self.pubs = self.status = self.malformed = self.payloads = self.entries = self.sent = 0

    def add(self, pub: Publication) -> None:
        """Account for one publication."""
        if pub.fault:
            self.faults[pub.fault] += 1
        if pub.is_status:
            self.status += 1
            return
        self.pubs += 1
        self.malformed += not pub.well_formed
        self.payloads += sum(1 for b in pub.bad if b.index is None)
        self.entries += sum(1 for b in pub.bad if b.index is not None)
        self.sent += len(pub.readings)
        if not self.keep_readings:
            return
        for reading in pub.readings:
            key = (reading.meter, reading.ts_ms)
            old = self.expected.get(key)
            if old is not None and (old.raw, old.unit) != (reading.raw, reading.unit):
                self.conflicts.add(key)
            self.expected[key] = reading

    def build(self) -> Manifest:
        """The summary so far."""
        return Manifest(
            self.pubs,
            self.status,
            self.malformed,
            self.payloads,
            self.entries,
            self.sent,
            dict(self.expected),
            frozenset(self.conflicts),
            dict(self.faults),
        )


def summarise(publications: Iterable[Publication]) -> Manifest:
    """Fold publications into a Manifest."""
    builder = ManifestBuilder()
    for pub in publications:
        builder.add(pub)
    return builder.build()


def readings_by_meter(publications: Iterable[Publication]) -> dict[str, list[TruthReading]]:
    """Distinct acceptable readings per meter, sorted by timestamp."""
    out: dict[str, list[TruthReading]] = {}
    for reading in summarise(publications).expected.values():
        out.setdefault(reading.meter, []).append(reading)
    for series in out.values():
        series.sort(key=lambda r: r.ts_ms)
    return out
