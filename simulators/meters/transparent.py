"""Transparent gateways: DTUs that poll their meters over RS-485 and forward the raw meter frames over MQTT.

A gateway is transparent when every one of its meters has a protocol address in the site file: 12 digits
for a DL/T 645-2007 electricity meter, 14 digits for a CJ/T 188-2004 water meter. Its meters' registers come
from the same load model and register series as the JSON gateways', so values are realistic and seeded.

What a transparent gateway sends (one frame per publication, see docs/frame-protocols.md):
- CJ/T 188: the 901F metering reply of every water meter at every reading tick (it carries the meter's clock,
  so late delivery and back-fill are fine);
- DL/T 645: the forward active energy (00010000, or the 0001FF00 block with four tariffs) and the
  instantaneous voltage, current and power of every meter at every tick, but only while live: the reply
  carries no time, so Vigil stamps it with its receipt time and a past register cannot be polled;
  and five minutes after local midnight the last daily freeze (05060101), or, for missed days, the
  N-th last one (050601NN, N <= 62), which is how history and gaps get exact registers.
Frames come raw or as hex text (per gateway), after 0-4 FE preamble bytes, sometimes with FF padding, and
at a chosen rate with one corrupted byte (labelled bad). Gaps (offline, lost or back-filled polls) and clock
skews (of the water meters' clocks) of the fault plan apply; duplicates and reordering do not.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Literal

import numpy as np

from core import topics
from core.config import Gateway, Meter, SiteConfig
from core.types import UNIT_FACTORS, Kind
from ingest.frames import cjt188, dlt645
from ingest.frames.common import FrameError
from simulators.meters.clock import MS_PER_DAY, build_timeline, to_ms
from simulators.meters.model import LoadModel
from simulators.meters.registers import register_format
from simulators.meters.seeding import rng_for
from simulators.meters.series import MeterSeries, RawReading
from simulators.meters.truth import BadPart, Publication, TruthReading

if TYPE_CHECKING:
    from simulators.meters.faults import FaultPlan

#: Frame protocol of a meter, by the number of digits of its address.
PROTOCOL_BY_DIGITS = {dlt645.ADDRESS_DIGITS: "dlt645", cjt188.ADDRESS_DIGITS: "cjt188"}
_KIND = {"dlt645": Kind.ELECTRICITY, "cjt188": Kind.WATER}
FREEZE_DELAY_MS = 300_000  # the gateway reads the daily freeze five minutes after midnight
MAX_REGISTER = 999_999.99  # 4 BCD bytes with 2 decimals
TARIFF_PERCENT = (10, 35, 30, 25)  # share of the total on tariffs T1..T4 (sharp, peak, flat, valley)
_NEVER = 2**62
_CORRUPT_AVOID = frozenset({0x00, 0x68, 0xFE, 0xFF})  # a corrupted byte never turns into framing

Kinds = Literal["energy", "instants", "freeze", "water"]


def frame_protocol(meter: Meter) -> str | None:
    """The frame protocol a meter speaks ("dlt645" or "cjt188"), or None if it has no address."""
    return None if meter.address is None else PROTOCOL_BY_DIGITS.get(len(meter.address))


def is_transparent(site: SiteConfig, gateway: Gateway) -> bool:
    """True if every meter of the gateway has a protocol address: it forwards raw frames, not JSON."""
    return all(site.meter_by_id[m].address is not None for m in gateway.meters)


@dataclass(frozen=True, slots=True)
class FrameOptions:
    """How transparent gateways package frames."""

    corrupt_rate: float | None = None  # chance a frame gets one corrupted byte; None: the plan's malformed_rate
    instants: bool = True  # DL/T 645: also poll voltage, current and power
    max_preamble: int = 4  # FE bytes before a frame: 0..max_preamble
    padding_rate: float = 0.25  # chance of 1-8 FF bytes after a frame
    battery_low_from: Mapping[str, datetime] | None = None  # meter -> its battery runs low; None: seeded

    def __post_init__(self) -> None:
        for name in ("corrupt_rate", "padding_rate"):
            rate = getattr(self, name)
            if rate is not None and not 0.0 <= rate <= 1.0:
                raise ValueError(f"FrameOptions.{name} must be within [0, 1], got {rate}")
        if not 0 <= self.max_preamble <= 16:
            raise ValueError("FrameOptions.max_preamble must be within 0..16")


def generate_frames(
    site: SiteConfig,
    seed: int,
    start: datetime,
    end: datetime | None,
    *,
    faults: FaultPlan | None = None,
    options: FrameOptions | None = None,
    receive_ms: Callable[[int], int] | None = None,
) -> Iterator[Publication]:
    """Yield the transparent gateways' publications for [start, end), in send order; naive times site-local.

    `receive_ms` maps a publication's due time to when the collector receives it (default: when due); it
    decides which DL/T 645 polls are live and which times are refused, exactly as for `generate_site`.
    """
    from simulators.meters.faults import FaultPlan

    faults = faults or FaultPlan()
    options = options or FrameOptions()
    start_ms = to_ms(start, site.tz)
    end_ms = _NEVER if end is None else to_ms(end, site.tz)
    if end_ms <= start_ms:
        raise ValueError("end must be after start")
    gateways = [g for g in site.gateways if is_transparent(site, g)]
    if not gateways:
        return
    model = LoadModel(site, seed, faults.leaks)
    clock = receive_ms or (lambda due: due)
    runs = [_FrameRun(site, gw, model, faults, options, start_ms, end_ms, clock) for gw in gateways]
    yield from heapq.merge(*(run.publications() for run in runs), key=lambda p: p.due_ms)


@dataclass(frozen=True, slots=True)
class _Poll:
    """One poll of one meter, before it is framed: what, when it goes out, and the time its value belongs to."""

    due_ms: int
    meter: Meter
    what: Kinds
    reading: RawReading
    at_ms: int  # tick of the register (energy, water) or the freeze's midnight
    settlement: float = 0.0  # water: register at the last settlement day (the 1st, local midnight)


class _FrameRun:
    """One transparent gateway: register series -> polls -> gaps -> frames -> payloads."""

    def __init__(
        self,
        site: SiteConfig,
        gateway: Gateway,
        model: LoadModel,
        faults: FaultPlan,
        options: FrameOptions,
        start_ms: int,
        end_ms: int,
        receive_ms: Callable[[int], int],
    ) -> None:
        self.site, self.gw, self.model, self.opts = site, gateway, model, options
        self.start_ms, self.end_ms, self.receive_ms = start_ms, end_ms, receive_ms
        self.meters = [site.meter_by_id[m] for m in gateway.meters]
        self.protocol = {m.id: _check_meter(m) for m in self.meters}
        formats = {m.id: register_format(m, "kWh" if m.kind is Kind.ELECTRICITY else "m3") for m in self.meters}
        step = min(m.interval_s for m in self.meters) * 1000
        self.series = MeterSeries(
            model, self.meters, formats, faults, start_ms, end_ms, -(-7 * MS_PER_DAY // step) * step
        )
        seed = model.seed
        self.rng = rng_for(seed, "frames", gateway.id)
        self.rng_corrupt = rng_for(seed, "frames-corrupt", gateway.id)
        style = rng_for(seed, "frames-style", gateway.id)
        self.hex, self.spaced = bool(style.random() < 0.5), bool(style.random() < 0.5)
        self.corrupt_rate = faults.malformed_rate if options.corrupt_rate is None else options.corrupt_rate
        self.di_order: dict[str, cjt188.DiOrder] = {}
        self.battery_low_ms: dict[str, int] = {}
        for m in self.meters:
            r = rng_for(seed, "frames-meter", m.id)
            self.di_order[m.id] = "901F" if r.random() < 0.5 else "1F90"
            low = r.random() < 1 / 3  # a third of the water meters run their battery low within two days
            at = start_ms + int(r.uniform(0, 2 * MS_PER_DAY))
            if options.battery_low_from is not None:
                given = options.battery_low_from.get(m.id)
                low, at = given is not None, 0 if given is None else to_ms(given, site.tz)
            self.battery_low_ms[m.id] = at if low else _NEVER
        self.block = {m.id: i % 2 == 0 for i, m in enumerate(self.meters)}  # 0001FF00 with tariffs, else 00010000
        self.gaps = sorted(
            (to_ms(g.start, site.tz), to_ms(g.end, site.tz), g.backfill) for g in faults.gaps if g.gateway == gateway.id
        )
        self.skews = [
            (
                -_NEVER if s.start is None else to_ms(s.start, site.tz),
                _NEVER if s.end is None else to_ms(s.end, site.tz),
                s.offset_s * 1000,
            )
            for s in faults.skews
            if s.gateway == gateway.id
        ]
        self.status_topic = topics.gateway_status(site.site.id, gateway.id)
        self.ser = itertools.count()

    def publications(self) -> Iterator[Publication]:
        """Every publication of the gateway, in send order."""
        for item in self._gapped(self._polls()):
            if isinstance(item, Publication):
                yield item
            else:
                yield from self._framed(item)

    # -- polls -----------------------------------------------------------------------------------

    def _polls(self) -> Iterator[_Poll]:
        """Polls in non-decreasing due order: one per meter and tick, plus the daily freezes."""
        held: list[tuple[int, int, _Poll]] = []
        order = itertools.count()
        last: dict[str, RawReading] = {}
        settlement: dict[str, float] = {}
        for chunk in self.series.chunks():
            for r in chunk:
                while held and held[0][0] <= r.true_ts_ms:
                    yield heapq.heappop(held)[2]
                meter = self.site.meter_by_id[r.meter]
                prev = last.get(r.meter)
                last[r.meter] = r
                t = r.true_ts_ms
                if self.protocol[r.meter] == "cjt188":
                    month = self._local_midnight(t, first_of_month=True)
                    at_month = _value_at(month, r, prev)
                    if at_month is not None or r.meter not in settlement:
                        settlement[r.meter] = r.raw if at_month is None else at_month.raw
                    yield _Poll(t, meter, "water", r, t, settlement[r.meter])
                    continue
                yield _Poll(t, meter, "energy", r, t)
                if self.opts.instants:
                    yield _Poll(t, meter, "instants", r, t)
                midnight = self._local_midnight(t)
                frozen = _value_at(midnight, r, prev)
                due = max(midnight + FREEZE_DELAY_MS, t)
                if frozen is not None and due < self.end_ms:
                    heapq.heappush(held, (due, next(order), _Poll(due, meter, "freeze", frozen, midnight)))
        while held:
            yield heapq.heappop(held)[2]

    def _local_midnight(self, ts_ms: int, first_of_month: bool = False) -> int:
        day = datetime.fromtimestamp(ts_ms / 1000, self.site.tz).date()
        if first_of_month:
            day = day.replace(day=1)
        return to_ms(datetime.combine(day, time(0), tzinfo=self.site.tz), self.site.tz)

    def _gapped(self, polls: Iterator[_Poll]) -> Iterator[_Poll | Publication]:
        """Polls as sent: during a gap the gateway is offline; with back-fill, timed frames go out after it."""
        gaps = list(self.gaps)
        backlog: list[_Poll] = []
        in_gap = False

        def events(now: int) -> Iterator[_Poll | Publication]:
            nonlocal in_gap
            while gaps:
                start, end, backfill = gaps[0]
                if not in_gap:
                    if start > now:
                        return
                    in_gap = True
                    yield self._status("offline", start)
                if end > now:
                    return
                yield self._status("online", end)
                # DL/T 645 replies carry no time: only timed frames and daily freezes can be sent late.
                yield from (_replace_due(p, end) for p in backlog if backfill and p.what in ("water", "freeze"))
                backlog.clear()
                in_gap = False
                gaps.pop(0)

        for poll in polls:
            yield from events(poll.due_ms)
            if in_gap:
                backlog.append(poll)
                continue
            yield poll
        yield from events(self.end_ms - 1)

    def _status(self, text: str, due: int) -> Publication:
        return Publication(self.status_topic, text.encode(), self.gw.id, True, (), "gap", retain=True, due_ms=due)

    # -- frames ------------------------------------------------------------------------------------

    def _framed(self, poll: _Poll) -> Iterator[Publication]:
        receive = self.receive_ms(poll.due_ms)
        meter, r = poll.meter, poll.reading
        address = meter.address
        assert address is not None
        if poll.what in ("energy", "instants"):
            # A reply without time is stamped with its receipt: only a live poll gives the tick's register.
            if receive // (meter.interval_s * 1000) * meter.interval_s * 1000 != poll.at_ms:
                return
            if poll.what == "instants":
                for di, value in self._instants(meter, poll.at_ms):
                    yield self._publication("dlt645", dlt645.encode_reply(address, di, (value,)), poll.due_ms)
                return
            counts = _counts(r.raw)
            if self.block[meter.id]:
                di, values = dlt645.FORWARD_ACTIVE_BLOCK, (counts, *(counts * p // 100 for p in TARIFF_PERCENT))
            else:
                di, values = dlt645.FORWARD_ACTIVE_TOTAL, (counts,)
            truth = self._truth(meter, poll.at_ms, counts, "kWh", poll.at_ms)
            yield self._publication("dlt645", dlt645.encode_reply(address, di, values), poll.due_ms, truth)
        elif poll.what == "freeze":
            nth = (_local_date(receive, self.site) - _local_date(poll.at_ms, self.site)).days + 1
            if not 1 <= nth <= dlt645.MAX_FROZEN:
                return
            counts = _counts(r.raw)
            values = (counts, *(counts * p // 100 for p in TARIFF_PERCENT)) if self.block[meter.id] else (counts,)
            frame = dlt645.encode_reply(address, dlt645.DAILY_FROZEN_FORWARD | nth, values)
            yield self._publication("dlt645", frame, poll.due_ms, self._truth(meter, poll.at_ms, counts, "kWh", 0))
        else:
            yield from self._water(poll, receive)

    def _water(self, poll: _Poll, receive: int) -> Iterator[Publication]:
        meter, t = poll.meter, poll.at_ms
        sent = t + sum(off for lo, hi, off in self.skews if lo <= t < hi)
        clock = datetime.fromtimestamp(sent // 1000, self.site.tz).replace(tzinfo=None)
        if not 2000 <= clock.year <= 2099:
            return  # the frame cannot carry such a clock
        status = cjt188.Status(0x04 if t >= self.battery_low_ms[meter.id] else 0x00)
        counts = _counts(poll.reading.raw)
        text = "hot" in f"{meter.id} {meter.name}".lower()
        assert meter.address is not None
        reply = cjt188.MeteringReply(
            meter_type=0x11 if text else 0x10,
            address=meter.address,
            ser=next(self.ser) & 0xFF,
            current=counts,
            current_unit="m3",
            settlement=_counts(poll.settlement),
            settlement_unit="m3",
            clock=clock,
            status=status,
            di_order=self.di_order[meter.id],
        )
        limits = self.site.ingest
        why = None
        if sent > receive + limits.max_future_skew_s * 1000:
            why = ("future", f"clock {sent} > receive {receive} + max_future_skew_s")
        elif sent < receive - limits.max_age_days * MS_PER_DAY:
            why = ("too_old", f"clock {sent} < receive {receive} - max_age_days")
        truth = None if why else self._truth(meter, sent, counts, "m3", t, status.flags)
        yield self._publication("cjt188", cjt188.encode_reply(reply), poll.due_ms, truth, why)

    def _instants(self, meter: Meter, tick: int) -> list[tuple[int, int]]:
        """Voltage (0.1 V), current (0.001 A) and power (0.0001 kW) at a tick, on the meter's secondary side."""
        tl = build_timeline(np.array([tick], dtype=np.int64), meter.interval_s, self.site.tz, self.model.seed)
        kw = float(self.model.rate(meter.id, tl)[0]) / meter.multiplier
        noise = rng_for(self.model.seed, "instants", meter.id, tick)
        volts = round(float(np.clip(noise.normal(2200.0, 25.0), 1980, 2420)))
        power = min(round(kw * 10_000), 799_999)
        amps = min(round(power * 1000 / (3 * volts * 0.95)), 799_999)  # three-phase, cos phi 0.95
        return [(dlt645.VOLTAGE_A, volts), (dlt645.CURRENT_A, amps), (dlt645.ACTIVE_POWER_TOTAL, power)]

    def _truth(
        self, meter: Meter, ts_ms: int, counts: int, unit: str, true_ms: int, flags: tuple[str, ...] | None = None
    ) -> TruthReading:
        raw = counts / 100
        value = raw * UNIT_FACTORS[unit][1] * meter.multiplier
        return TruthReading(meter.id, ts_ms, raw, unit, None, value, true_ms or ts_ms, flags)

    def _publication(
        self,
        protocol: str,
        frame: bytes,
        due: int,
        truth: TruthReading | None = None,
        why: tuple[str, str] | None = None,
    ) -> Publication:
        """Package one frame; maybe corrupt a byte first."""
        fault = None
        if self.corrupt_rate and self.rng_corrupt.random() < self.corrupt_rate:
            frame, detail = self._corrupt(protocol, frame)
            truth, why, fault = None, ("corrupt_frame", detail), "malformed:corrupt_frame"
        pre = b"\xfe" * int(self.rng.integers(0, self.opts.max_preamble + 1))
        pad = b"\xff" * int(self.rng.integers(1, 9)) if self.rng.random() < self.opts.padding_rate else b""
        payload = pre + frame + pad
        if self.hex:
            payload = (payload.hex(" ") if self.spaced else payload.hex()).upper().encode()
        topic = topics.gateway_frames(self.site.site.id, self.gw.id, protocol)
        readings = () if truth is None else (truth,)
        bad = () if why is None else (BadPart(None, why[0], why[1]),)
        if why is not None and fault is None:
            fault = "clock_skew"
        return Publication(topic, payload, self.gw.id, why is None, readings, fault, bad, due_ms=due)

    def _corrupt(self, protocol: str, frame: bytes) -> tuple[bytes, str]:
        """Change one byte (never the length byte, never into framing bytes) so the decoder must refuse it."""
        codec = dlt645 if protocol == "dlt645" else cjt188
        while True:
            index = int(self.rng_corrupt.integers(len(frame) - 1))
            index += index >= codec.LENGTH_AT  # skip the length byte: a wrong one misplaces the frame's end
            new = frame[index] ^ int(self.rng_corrupt.integers(1, 256))
            if new in _CORRUPT_AVOID:
                continue
            bad = frame[:index] + bytes([new]) + frame[index + 1 :]
            try:
                codec.decode_reply(bad)
            except FrameError:
                return bad, f"byte {index} 0x{frame[index]:02X} -> 0x{new:02X}"


def _check_meter(meter: Meter) -> str:
    """The meter's frame protocol; raise ValueError if it cannot be simulated as such."""
    protocol = frame_protocol(meter)
    if protocol is None:
        raise ValueError(f"meter {meter.id}: address {meter.address!r} is not 12 (DL/T 645) or 14 (CJ/T 188) digits")
    if meter.kind is not _KIND[protocol]:
        raise ValueError(f"meter {meter.id}: a {meter.kind.value} meter cannot speak {protocol}")
    if (
        meter.rollover > MAX_REGISTER
        or register_format(meter, "kWh" if meter.kind is Kind.ELECTRICITY else "m3").decimals > 2
    ):
        raise ValueError(f"meter {meter.id}: frames carry registers up to {MAX_REGISTER} in steps of 0.01")
    return protocol


def _value_at(moment: int, reading: RawReading, prev: RawReading | None) -> RawReading | None:
    """The register at `moment` if it falls within (prev, reading]: the reading at it, or the one before."""
    if reading.true_ts_ms == moment:
        return reading
    if prev is not None and prev.true_ts_ms < moment < reading.true_ts_ms:
        return prev
    return None


def _replace_due(poll: _Poll, due: int) -> _Poll:
    return _Poll(due, poll.meter, poll.what, poll.reading, poll.at_ms, poll.settlement)


def _counts(raw: float) -> int:
    return round(raw * 100)


def _local_date(ts_ms: int, site: SiteConfig) -> date:
    return datetime.fromtimestamp(ts_ms / 1000, site.tz).date()
