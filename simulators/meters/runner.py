"""Run a whole site: generate every gateway's publications and publish them, fast or paced in real time."""

from __future__ import annotations

import dataclasses
import heapq
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from core.config import SiteConfig
from simulators.meters.clock import to_ms
from simulators.meters.faults import FaultPlan
from simulators.meters.generator import GenOptions, ReceiveClock, generate_site
from simulators.meters.publisher import GatewayStats, connect_all, pace
from simulators.meters.transparent import FrameOptions, generate_frames
from simulators.meters.truth import Manifest, ManifestBuilder, Publication

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run published (the manifest counts only publications actually handed to the broker)."""

    manifest: Manifest
    gateways: tuple[GatewayStats, ...]
    elapsed_s: float
    stopped: bool  # True if `stop` ended the run early

    @property
    def acked(self) -> int:
        """PUBACKs received, status messages included."""
        return sum(g.acked for g in self.gateways)

    @property
    def refused(self) -> int:
        """PUBACKs with a failure reason code."""
        return sum(g.refused for g in self.gateways)

    def summary(self) -> str:
        """One line for humans."""
        m = self.manifest
        distinct = f"{m.distinct} distinct expected" if m.expected or not m.readings_sent else "distinct not kept"
        return (
            f"{len(self.gateways)} gateways: {m.publications} publications ({m.malformed_publications} malformed), "
            f"{m.readings_sent} readings sent, {distinct}, {m.status_messages} status; "
            f"acked {self.acked}, refused {self.refused}, {self.elapsed_s:.1f} s{' (stopped)' if self.stopped else ''}"
        )


def receive_clock(mode: Literal["fast", "realtime"], start_ms: int, speed: float, now_ms: int) -> ReceiveClock:
    """When the collector will see a publication due at simulated time t: now (fast), or its paced wall time."""
    if mode == "fast":
        return lambda due: now_ms
    return lambda due: max(now_ms + round((due - start_ms) / speed), due)


def site_publications(
    site: SiteConfig,
    seed: int,
    start: datetime,
    end: datetime | None,
    *,
    faults: FaultPlan | None = None,
    options: GenOptions | None = None,
    frames: FrameOptions | None = None,
    receive_ms: ReceiveClock | None = None,
) -> Iterator[Publication]:
    """Every gateway's publications, JSON and transparent (raw frames), merged in send order."""
    json = generate_site(site, seed, start, end, faults=faults, options=options, receive_ms=receive_ms)
    raw = generate_frames(site, seed, start, end, faults=faults, options=frames, receive_ms=receive_ms)
    return heapq.merge(json, raw, key=lambda p: p.due_ms)


def run_site(
    site: SiteConfig,
    host: str,
    port: int,
    passwords: Mapping[str, str],
    seed: int,
    start: datetime,
    end: datetime | None,
    mode: Literal["fast", "realtime"] = "fast",
    speed: float = 1.0,
    batch_size: int | None = None,
    faults: FaultPlan | None = None,
    *,
    options: GenOptions | None = None,
    frames: FrameOptions | None = None,
    stop: threading.Event | None = None,
    connect_timeout: float = 10.0,
    ack_timeout: float = 120.0,
    max_inflight: int = 200,
    keep_readings: bool = True,
    on_publication: Callable[[Publication], None] | None = None,
) -> RunResult:
    """Publish the site's simulated readings for [start, end) and wait for every PUBACK.

    `passwords` maps gateway id (the MQTT username) to password. `batch_size` (reading intervals per
    publication) overrides `options.batch_intervals`; `frames` says how transparent gateways package raw
    meter frames (see transparent.py). In realtime mode a publication due at simulated time t
    goes out at wall start + (t - start) / speed, but never before t; `end` None runs until `stop` is set
    (then pass keep_readings=False, so the manifest only counts and memory stays flat).
    """
    if mode not in ("fast", "realtime"):
        raise ValueError(f"mode must be 'fast' or 'realtime', got {mode!r}")
    if end is None and mode == "fast":
        raise ValueError("a fast run needs an end")
    if speed <= 0:
        raise ValueError("speed must be > 0")
    options = options or GenOptions()
    if batch_size is not None:
        options = dataclasses.replace(options, batch_intervals=batch_size)
    stop = stop or threading.Event()
    start_ms = to_ms(start, site.tz)
    clock = receive_clock(mode, start_ms, speed, round(time.time() * 1000))
    pubs = site_publications(site, seed, start, end, faults=faults, options=options, frames=frames, receive_ms=clock)
    began = time.monotonic()
    sims = connect_all(
        site.site.id, [g.id for g in site.gateways], host, port, passwords, connect_timeout, max_inflight=max_inflight
    )
    builder = ManifestBuilder(keep_readings)
    try:
        for pub in pace(pubs, mode, start_ms, speed, stop):
            sims[pub.gateway].publish(pub, timeout=ack_timeout)
            builder.add(pub)
            if on_publication is not None:
                on_publication(pub)
        for sim in sims.values():
            sim.flush(ack_timeout)
    finally:
        for sim in sims.values():
            sim.close()
    result = RunResult(
        builder.build(), tuple(s.stats() for s in sims.values()), time.monotonic() - began, stop.is_set()
    )
    logger.info("site %s: %s", site.site.id, result.summary())
    return result
