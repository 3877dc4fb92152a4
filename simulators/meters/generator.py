"""The pure generator: a site, a seed and a fault plan in; every publication of every gateway out, labelled."""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

import orjson

from core import topics
from core.config import Gateway, SiteConfig
from simulators.meters.clock import MS_PER_DAY, format_rfc3339, to_ms
from simulators.meters.faults import FaultPlan
from simulators.meters.malformed import BadContext, Entry, bad_entry, bad_payload
from simulators.meters.model import LoadModel
from simulators.meters.registers import choose_units, register_format
from simulators.meters.seeding import rng_for
from simulators.meters.series import MeterSeries, RawReading
from simulators.meters.transforms import duplicates, monotonic_due, reorder
from simulators.meters.transparent import is_transparent
from simulators.meters.truth import BadPart, Publication, TruthReading

#: Maps the time a publication is due (simulated UTC ms) to when the collector will receive it (wall UTC ms).
ReceiveClock = Callable[[int], int]
PROTOCOL_MAX_BATCH = 1000
OPEN_END_MS = 2**62  # stands for "no end"


@dataclass(frozen=True, slots=True)
class GenOptions:
    """How gateways package their readings."""

    batch_intervals: int = 1  # reading intervals per publication (split further at the batch limit)
    shape: Literal["batch", "single"] = "batch"  # {"readings": [...]} or one reading object per publication
    ts_format: Literal["rfc3339", "epoch_ms", "mixed"] = "rfc3339"  # mixed: alternate gateways
    units: Mapping[str, str] = field(default_factory=dict)  # meter id -> unit, overrides the defaults
    mixed_units: bool = False  # a stable few meters in Wh / MWh / L instead of kWh / m3
    with_seq: bool = True
    chunk_days: int = 7  # generation granularity; does not change the output

    def __post_init__(self) -> None:
        if self.batch_intervals < 1 or self.chunk_days < 1:
            raise ValueError("GenOptions.batch_intervals and chunk_days must be >= 1")


@dataclass(frozen=True, slots=True)
class _Window:
    due_ms: int
    readings: tuple[RawReading, ...]
    fault: str | None = None


def generate_site(
    site: SiteConfig,
    seed: int,
    start: datetime,
    end: datetime | None,
    *,
    faults: FaultPlan | None = None,
    options: GenOptions | None = None,
    receive_ms: ReceiveClock | None = None,
) -> Iterator[Publication]:
    """Yield every JSON gateway's publications for [start, end), merged in send order; naive times are site-local.

    With `end` None the stream never ends (it is lazy: one chunk of a few days per gateway at a time).

    `receive_ms` tells the labeller when the collector will see a publication due at a given simulated time
    (default: at that time, as a live gateway); it decides which timestamps count as future or too old.
    """
    faults = faults or FaultPlan()
    options = options or GenOptions()
    start_ms = to_ms(start, site.tz)
    end_ms = OPEN_END_MS if end is None else to_ms(end, site.tz)
    if end_ms <= start_ms:
        raise ValueError("end must be after start")
    if not site.gateways:
        raise ValueError(f"site {site.site.id} has no gateways")
    faults.check(site)
    unknown = sorted(set(options.units) - set(site.meter_by_id))
    if unknown:
        raise ValueError(f"GenOptions.units: unknown meter(s) {unknown}")
    units = choose_units(site.meters, options.units, options.mixed_units)
    formats = {m.id: register_format(m, units[m.id]) for m in site.meters}
    model = LoadModel(site, seed, faults.leaks)
    clock = receive_ms or (lambda due: due)
    streams = [
        _GatewayRun(site, gw, i, model, formats, faults, options, start_ms, end_ms, clock).publications()
        for i, gw in enumerate(site.gateways)
        if not is_transparent(site, gw)  # those forward raw meter frames: simulators.meters.transparent
    ]
    yield from heapq.merge(*streams, key=lambda p: p.due_ms)


class _GatewayRun:
    """One gateway's pipeline: readings -> windows -> gaps -> payloads -> duplicates -> reordering."""

    def __init__(
        self,
        site: SiteConfig,
        gateway: Gateway,
        index: int,
        model: LoadModel,
        formats: Mapping[str, Any],
        faults: FaultPlan,
        options: GenOptions,
        start_ms: int,
        end_ms: int,
        receive_ms: ReceiveClock,
    ) -> None:
        self.site, self.gw, self.faults, self.opts = site, gateway, faults, options
        self.start_ms, self.end_ms, self.receive_ms = start_ms, end_ms, receive_ms
        self.seed = model.seed
        meters = [site.meter_by_id[m] for m in gateway.meters]
        self.window_ms = options.batch_intervals * min(m.interval_s for m in meters) * 1000
        chunk_ms = -(-options.chunk_days * MS_PER_DAY // self.window_ms) * self.window_ms
        self.series = MeterSeries(model, meters, dict(formats), faults, start_ms, end_ms, chunk_ms)
        self.topic = topics.gateway_readings(site.site.id, gateway.id)
        self.status_topic = topics.gateway_status(site.site.id, gateway.id)
        self.max_batch = min(PROTOCOL_MAX_BATCH, site.ingest.max_batch)
        epoch = options.ts_format == "epoch_ms" or (options.ts_format == "mixed" and index % 2 == 1)
        self.format_ts: Callable[[int], str | int] = (
            (lambda ms: ms) if epoch else lru_cache(maxsize=8192)(lambda ms: format_rfc3339(ms, site.tz))
        )
        self.gaps = sorted((g for g in faults.gaps if g.gateway == gateway.id), key=lambda g: g.start)
        self._gap_ms = [(to_ms(g.start, site.tz), to_ms(g.end, site.tz), g.backfill) for g in self.gaps]
        for (_, prev_end, _), (nxt, _, _) in zip(self._gap_ms, self._gap_ms[1:], strict=False):
            if nxt < prev_end:
                raise ValueError(f"gaps of gateway {gateway.id} overlap")
        self.skews = [
            (
                -(2**62) if s.start is None else to_ms(s.start, site.tz),
                2**62 if s.end is None else to_ms(s.end, site.tz),
                s.offset_s * 1000,
            )
            for s in faults.skews
            if s.gateway == gateway.id
        ]
        own = set(gateway.meters)
        self.bad_ctx = BadContext(
            own_meters=tuple(gateway.meters),
            foreign_meters=tuple(m.id for m in site.meters if m.id not in own and m.id in site.gateway_of_meter),
            kinds={m.id: m.kind for m in site.meters},
            format_ts=self.format_ts,
            tz=site.tz,
            receive_ms=0,
            max_age_days=site.ingest.max_age_days,
            max_payload_bytes=site.ingest.max_payload_bytes,
            max_batch=self.max_batch,
        )
        self.rng_bad = rng_for(self.seed, "bad", gateway.id)
        self.rng_dup = rng_for(self.seed, "duplicate", gateway.id)
        self.rng_reorder = rng_for(self.seed, "reorder", gateway.id)

    def publications(self) -> Iterator[Publication]:
        """All of this gateway's publications in send order, with non-decreasing due times."""
        pubs = self._encoded()
        pubs = duplicates(pubs, self.faults.duplicate_rate, self.faults.duplicate_window, self.rng_dup)
        pubs = reorder(pubs, self.faults.reorder_rate, self.faults.reorder_window, self.rng_reorder)
        return monotonic_due(pubs)

    # -- windows and gaps ------------------------------------------------------------------------

    def _windows(self) -> Iterator[_Window]:
        for chunk in self.series.chunks():
            group: list[RawReading] = []
            key = None
            for reading in chunk:
                k = (reading.true_ts_ms - self.start_ms) // self.window_ms
                if group and k != key:
                    yield _Window(max(r.true_ts_ms for r in group), tuple(group))
                    group = []
                key = k
                group.append(reading)
            if group:
                yield _Window(max(r.true_ts_ms for r in group), tuple(group))

    def _scheduled(self) -> Iterator[_Window | Publication]:
        """Windows as sent: those due while the gateway is offline are lost or held for back-fill."""
        self._next_gap, self._in_gap = 0, False
        backlog: list[_Window] = []
        for window in self._windows():
            yield from self._gap_events(window.due_ms, backlog)
            if self._in_gap:
                if self._gap_ms[self._next_gap][2]:
                    backlog.append(window)
                continue
            yield window
        yield from self._gap_events(self.end_ms - 1, backlog)

    def _gap_events(self, now: int, backlog: list[_Window]) -> Iterator[_Window | Publication]:
        """Status changes up to `now`; on coming back online, the back-fill of the gap."""
        while self._next_gap < len(self._gap_ms):
            start, end, _ = self._gap_ms[self._next_gap]
            if not self._in_gap:
                if start > now:
                    return
                self._in_gap = True
                yield self._status("offline", start)
            if end > now:
                return
            yield self._status("online", end)
            yield from (dataclasses.replace(w, due_ms=end, fault="backfill") for w in backlog)
            backlog.clear()
            self._in_gap = False
            self._next_gap += 1

    def _status(self, text: str, due: int) -> Publication:
        return Publication(self.status_topic, text.encode(), self.gw.id, True, (), "gap", retain=True, due_ms=due)

    # -- payloads ----------------------------------------------------------------------------------

    def _encoded(self) -> Iterator[Publication]:
        for item in self._scheduled():
            if isinstance(item, Publication):
                yield item
                continue
            receive = self.receive_ms(item.due_ms)
            rows = [self._row(r, receive) for r in item.readings]
            fault = item.fault
            if any(row.ts_ms != r.true_ts_ms for row, r in zip(rows, item.readings, strict=True)):
                fault = _join(fault, "clock_skew")
            if self.opts.shape == "single":
                groups = [[row] for row in rows]
            else:
                size = self.max_batch - (1 if self.faults.bad_reading_rate else 0)
                groups = [rows[i : i + size] for i in range(0, len(rows), size)]
            for group in groups:
                yield from self._pack(self._mix_bad(group, receive), item.due_ms, fault)
                yield from self._extras(group, item.due_ms, receive)

    def _row(self, r: RawReading, receive: int) -> _Row:
        """The reading's JSON entry, its truth if acceptable, else why a correct collector refuses it."""
        sent = r.true_ts_ms
        if self.skews:
            sent += sum(off for lo, hi, off in self.skews if lo <= r.true_ts_ms < hi)
        entry: Entry = {"meter": r.meter, "ts": self.format_ts(sent), "value": r.raw, "unit": r.unit}
        if self.opts.with_seq:
            entry["seq"] = r.seq
        if sent > receive + self.site.ingest.max_future_skew_s * 1000:
            return _Row(entry, sent, None, "future", f"ts {sent} > receive {receive} + max_future_skew_s")
        if sent < receive - self.site.ingest.max_age_days * MS_PER_DAY:
            return _Row(entry, sent, None, "too_old", f"ts {sent} < receive {receive} - max_age_days")
        seq = r.seq if self.opts.with_seq else None
        return _Row(entry, sent, TruthReading(r.meter, sent, r.raw, r.unit, seq, r.value, r.true_ts_ms))

    def _mix_bad(self, rows: list[_Row], receive: int) -> list[_Row]:
        """Maybe insert one bad reading at a random position of a batch."""
        if self.opts.shape != "batch" or not self.faults.entry_kinds or not self.faults.bad_reading_rate:
            return rows
        if self.rng_bad.random() >= self.faults.bad_reading_rate:
            return rows
        kind = self.faults.entry_kinds[int(self.rng_bad.integers(len(self.faults.entry_kinds)))]
        base = rows[int(self.rng_bad.integers(len(rows)))]
        ctx = dataclasses.replace(self.bad_ctx, receive_ms=receive)
        kind, entry, detail = bad_entry(kind, base.entry, base.ts_ms, ctx, self.rng_bad)
        rows = list(rows)
        rows.insert(int(self.rng_bad.integers(len(rows) + 1)), _Row(entry, base.ts_ms, None, kind, detail, True))
        return rows

    def _pack(self, rows: list[_Row], due: int, fault: str | None) -> Iterator[Publication]:
        """Encode rows as one publication, split in halves while over the payload size limit."""
        single = self.opts.shape == "single"
        body: Any = rows[0].entry if single else {"readings": [r.entry for r in rows]}
        payload = orjson.dumps(body)
        if len(payload) > self.site.ingest.max_payload_bytes and len(rows) > 1:
            half = len(rows) // 2
            yield from self._pack(rows[:half], due, fault)
            yield from self._pack(rows[half:], due, fault)
            return
        for row in rows:
            if row.mixed:
                fault = _join(fault, f"malformed:{row.why}")
        bad = tuple(BadPart(None if single else i, r.why, r.detail) for i, r in enumerate(rows) if r.why is not None)
        truths = tuple(r.truth for r in rows if r.truth is not None)
        yield Publication(self.topic, payload, self.gw.id, not bad, truths, fault, bad, due_ms=due)

    def _extras(self, rows: list[_Row], due: int, receive: int) -> Iterator[Publication]:
        """Malformed publications of their own after a good one; single-reading gateways send bad readings so."""
        ctx = dataclasses.replace(self.bad_ctx, receive_ms=receive)
        chances = [(self.faults.malformed_rate, self.faults.malformed_kinds)]
        if self.opts.shape == "single":
            chances.append((self.faults.bad_reading_rate, self.faults.entry_kinds))
        for rate, kinds in chances:
            if not rate or not kinds or self.rng_bad.random() >= rate:
                continue
            kind = kinds[int(self.rng_bad.integers(len(kinds)))]
            base = rows[int(self.rng_bad.integers(len(rows)))]
            kind, payload, detail = bad_payload(kind, base.entry, base.ts_ms, ctx, self.rng_bad)
            bad = (BadPart(None, kind, detail),)
            yield Publication(self.topic, payload, self.gw.id, False, (), f"malformed:{kind}", bad, due_ms=due)


@dataclass(frozen=True, slots=True)
class _Row:
    """One entry of a payload with its label."""

    entry: Entry
    ts_ms: int  # timestamp as sent
    truth: TruthReading | None
    why: str | None = None  # refusal reason; None for an acceptable reading
    detail: str = ""
    mixed: bool = False  # a deliberately malformed reading, as opposed to one refused for its time


def _join(fault: str | None, more: str) -> str:
    return more if fault is None else f"{fault}+{more}"
