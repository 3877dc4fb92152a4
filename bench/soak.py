"""Soak test: the simulated site under load for N minutes while the broker, InfluxDB and a collector fail.

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 2000] [--cameras 16] ...

Starts the platform the way `vigil run` does (ops.stack: Mosquitto, InfluxDB, the collector, the camera
simulators, the video analyzer, the alert engine with coverage, the API; each a real process) on free
loopback ports in a temp dir, and publishes meter readings itself, as every gateway of the site, at a fixed
rate with deliberate duplicates and malformed parts. Every reading has a distinct (meter, ts), and the
publisher keeps which ones the broker acknowledged. During the run it restarts the broker, restarts
InfluxDB and kills -9 the collector (then starts it again), at spread-out times, and makes alert events:
a camera goes black or disconnects (camera simulator), or a gateway goes offline (its Last Will).

At the end: every acknowledged reading must be in InfluxDB (exact (meter, ts) sets), duplicates must have
collapsed, every malformed part must be dead-lettered, and each service's RSS after warm-up and at the end
is compared with a bound. The last line is `RESULT lost=<n> rss_growth_mb=<n> alert_p95_s=<s>`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/soak.py`, this file's folder comes first on sys.path: put the project root there.
if Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import functools
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import yaml

from bench.ingest import bench_logging, in_workdir, wait_stored
from bench.soak_observe import (
    DRIVER,
    AlertEvent,
    Memory,
    Watcher,
    machine_cpu,
    slope_mb_per_min,
)
from bench.soak_traffic import GatewayClient, Ledger, Pacer
from core.config import load_site
from ingest.deadletter import DeadLetterStore
from ingest.influx import InfluxClient, InfluxSettings
from ops.cli import scrape
from ops.servers import ServerProcess, free_port
from ops.stack import Stack, StackSettings

logger = logging.getLogger("bench.soak")

ROOT = Path(__file__).resolve().parent.parent
VIGIL_SERVICES = ("collector", "camera-simulator", "video-analyzer", "alerts", "api")
SERVERS = ("mosquitto", "influxd")


# --- the run ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    """Everything the report prints."""

    seconds: float = 0.0
    published: int = 0
    acked: int = 0
    stored: int = 0
    lost: int = 0
    unexpected: int = 0
    unacked: int = 0
    dead_letters: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    collector: dict[str, float] = field(default_factory=dict)  # the collector's metrics at the end
    collector_killed: dict[str, float] = field(default_factory=dict)  # ... of the process killed, just before
    faults: list[str] = field(default_factory=list)
    events: list[AlertEvent] = field(default_factory=list)
    memory: Memory = field(default_factory=Memory)
    warmup_s: float = 0.0
    behind_s: float = 0.0
    loads: list[float] = field(default_factory=list)
    machine: list[tuple[float, float, float]] = field(default_factory=list)  # after warm-up, at the end
    opened: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def soak_site_file(site_path: Path, camera_port: int, out: Path) -> Path:
    """Copy the site file with its simulated cameras' URLs pointing at this run's camera simulator."""
    doc = load_site(site_path).model_dump(mode="json")
    for camera in doc.get("cameras", []):
        camera["url"] = re.sub(r"^http://127\.0\.0\.1:\d+/", f"http://127.0.0.1:{camera_port}/", camera["url"])
    out.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def stack_settings(args: argparse.Namespace, site_file: Path, camera_port: int, workdir: Path) -> StackSettings:
    """Free loopback ports for everything; the site's first --cameras cameras; no meter simulator."""
    site = load_site(site_file)
    cameras = tuple(c.id for c in site.cameras[: args.cameras])
    return StackSettings(
        site_path=site_file,
        var=workdir / "var",
        mqtt_port=free_port(),
        influx_port=free_port(),
        collector_metrics_port=free_port(),
        alerts_metrics_port=free_port(),
        api_port=free_port(),
        camera_port=camera_port,
        video_http_port=free_port(),
        cameras=cameras,
        camera_size=args.camera_size,
        camera_fps=args.camera_fps,
        simulate_meters=False,
        api=not args.no_api,
    )


class Soak:
    """One soak run on a started stack: publish, make faults and events, sample, then check."""

    def __init__(self, args: argparse.Namespace, stack: Stack) -> None:
        self.args = args
        self.stack = stack
        self.site = stack.site
        s = stack.settings
        self.ledger = Ledger([m.id for m in self.site.meters])
        self.clients = {
            g.id: GatewayClient(self.site.site.id, g.id, "127.0.0.1", s.mqtt_port, stack.passwords[g.id], self.ledger)
            for g in self.site.gateways
        }
        every = {"duplicate": args.duplicate_every, "bad": args.bad_every}
        self.pacer = Pacer(self.site, self.clients, args.rate, args.per_message, every)
        self.watcher = Watcher(self.site.site.id, "127.0.0.1", s.mqtt_port, stack.passwords["vigil-service"])
        self.out = Outcome(warmup_s=args.warmup)
        self.influx = InfluxClient(InfluxSettings(url=stack.influx_url, database=s.database, timeout_s=60))
        self.timers: list[tuple[threading.Timer, GatewayClient]] = []
        self.warm_at = math.inf
        self.broker_restarted = -math.inf
        self.targets = {
            "camera": [] if args.no_camera_events else list(stack.cameras),
            "gateway": [] if args.no_gateway_events else [g.id for g in self.site.gateways],
        }
        self._turn = {"camera": 0, "gateway": 0}

    # -- schedule ----------------------------------------------------------------------------------------

    def schedule(self, duration: float) -> list[tuple[float, str, Callable[[], None]]]:
        """Faults at 30 %, 55 % and 80 % of the time after warm-up; alert events every --event-every s."""
        a = self.args
        window = duration - a.warmup
        plan: list[tuple[float, str, Callable[[], None]]] = []
        broker = self.stack.service("mosquitto")
        influx = self.stack.service("influxd")
        collector = self.stack.service("collector")
        t_broker, t_influx, t_kill = (a.warmup + f * window for f in (0.30, 0.55, 0.80))
        plan.append((t_broker, "broker restart", lambda: self._restart_broker(broker, 1.0)))
        plan.append((t_influx, "InfluxDB stop", lambda: self._stop_server(influx)))
        plan.append((t_influx + a.influx_down, "InfluxDB start", lambda: self._start(influx)))
        plan.append((t_kill, "collector kill -9", lambda: self._kill(collector)))
        plan.append((t_kill + 2.0, "collector start", lambda: self._start(collector)))
        kinds = [kind for kind, targets in self.targets.items() if targets]
        # An event must end, and so be alerted (holds are shorter than the failures), while the run watches.
        lasts = {"camera": a.camera_fail_s, "gateway": a.gateway_off_s}
        t, n = a.warmup + a.event_every / 2, 0
        while kinds and t + 10 < duration:
            kind = kinds[n % len(kinds)]
            if t + lasts[kind] + 5 < duration:
                plan.append((t, f"{kind} failure", functools.partial(self._event, kind)))
            t, n = t + a.event_every, n + 1
        return sorted(plan, key=lambda p: p[0])

    @property
    def _collector_metrics(self) -> str:
        return f"http://127.0.0.1:{self.stack.settings.collector_metrics_port}/metrics"

    # -- faults ------------------------------------------------------------------------------------------

    def _restart_broker(self, server: ServerProcess, down_s: float) -> None:
        started = time.monotonic()
        server.stop()
        time.sleep(down_s)
        server.start()
        server.wait_ready(60)
        self.broker_restarted = time.monotonic()
        self.out.faults.append(f"{server.name} restarted (down {time.monotonic() - started:.1f} s)")

    def _stop_server(self, server: ServerProcess) -> None:
        server.stop()
        self.out.faults.append(f"{server.name} stopped")

    def _kill(self, server: ServerProcess) -> None:
        try:  # what the process did until now (its counters die with it)
            self.out.collector_killed = scrape(self._collector_metrics)
        except httpx.HTTPError as exc:
            logger.warning("collector metrics unavailable before the kill: %s", exc)
        server.kill()
        self.out.faults.append(f"{server.name} killed with SIGKILL")

    def _start(self, server: ServerProcess) -> None:
        started = time.monotonic()
        server.start()
        server.wait_ready(60)
        self.out.faults.append(f"{server.name} started again ({time.monotonic() - started:.1f} s to ready)")

    # -- alert events ------------------------------------------------------------------------------------

    def _pick(self, kind: str) -> str | None:
        """The next device of `kind` in turn that no open alert names (and, for a camera, is healthy)."""
        targets = self.targets[kind]
        for _ in range(len(targets)):
            target = targets[self._turn[kind] % len(targets)]
            self._turn[kind] += 1
            if self.watcher.busy(target):
                continue
            if kind == "gateway" and (self.clients[target].paused or not self.clients[target].client.is_connected()):
                continue
            return target
        return None

    def _event(self, kind: str) -> None:
        a = self.args
        if kind == "gateway" and time.monotonic() - self.broker_restarted < 15.0:
            # Every gateway just dropped and reconnected; an event now would measure the restart.
            self.out.faults.append("a gateway event skipped: the broker restarted less than 15 s before")
            return
        target = self._pick(kind)
        if target is None:
            self.out.faults.append(f"a {kind} event skipped: every {kind} is already named by an open alert")
            return
        if kind == "camera":
            n = sum(1 for e in self.out.events if e.kind == "camera")
            tamper = a.tamper_types[n % len(a.tamper_types)]
            at = time.time()
            url = f"http://127.0.0.1:{self.stack.settings.camera_port}/cam/{target}/tamper"
            response = httpx.post(url, json={"type": tamper, "duration_s": a.camera_fail_s, "seed": n}, timeout=5)
            response.raise_for_status()
            self.out.events.append(AlertEvent(kind, target, f"{tamper} {a.camera_fail_s:g} s", at))
        else:
            client = self.clients[target]
            at = client.go_offline()
            self.out.events.append(AlertEvent(kind, target, f"offline {a.gateway_off_s:g} s", at))
            timer = threading.Timer(a.gateway_off_s, client.go_online)
            timer.start()
            self.timers.append((timer, client))

    # -- main loop ---------------------------------------------------------------------------------------

    def run(self) -> Outcome:
        """Publish for --minutes with the schedule, then drain and check everything."""
        a = self.args
        duration = a.minutes * 60
        for client in self.clients.values():
            client.connect()
        plan = self.schedule(duration)
        logger.info("schedule: %s", "; ".join(f"{t:.0f} s {what}" for t, what, _ in plan))
        self.pacer.start()
        next_sample = 0.0
        while (elapsed := time.monotonic() - self.pacer.started) < duration:
            while plan and plan[0][0] <= elapsed:
                _, what, action = plan.pop(0)
                logger.info("t=%.0f s: %s", elapsed, what)
                try:
                    action()
                except Exception as exc:
                    self.out.errors.append(f"{what} failed: {exc}")
                    logger.exception("%s failed", what)
            if elapsed >= next_sample:
                if elapsed >= a.warmup and not self.out.machine:
                    self.out.machine.append(machine_cpu())
                    self.warm_at = time.time()
                self.out.memory.sample(self.stack.services, elapsed)
                self.out.loads.append(os.getloadavg()[0])
                next_sample = elapsed + a.sample_every
            time.sleep(0.1)
        self.pacer.stop()
        self.out.machine.append(machine_cpu())
        self.out.seconds = time.monotonic() - self.pacer.started
        self.out.behind_s = self.pacer.behind_s
        self._finish()
        return self.out

    def _finish(self) -> None:
        """Drain publishers, wait for storage, take the last samples, and compare the sets."""
        a = self.args
        for timer, client in self.timers:
            timer.cancel()
            if client.paused:  # an event still running: bring the gateway back
                client.go_online()
        for client in self.clients.values():
            if not client.drain(a.drain_timeout):
                self.out.errors.append(f"gateway {client.gateway}: {client.in_flight} publications never acknowledged")
        self.out.acked = self.ledger.distinct(self.ledger.acked)
        self.out.published = self.ledger.distinct(self.ledger.published)
        wait_stored(self.influx, self.out.acked, 1.0, a.drain_timeout, stall_s=60.0)
        time.sleep(a.settle)
        for event in self.out.events:
            event.alert = self.watcher.first_alert(event.target, event.at)
            if event.kind == "camera":
                event.detected_at = self.watcher.first_unhealthy(event.target, event.at)
                own = self.watcher.first_alert(event.target, event.at, key=f"camera_stream_lost:{event.target}")
                event.own_alert_at = own.at if own else None
        self.out.memory.sample(self.stack.services, time.monotonic() - self.pacer.started)
        self.out.opened = self.watcher.opened_by_kind(self.warm_at)
        try:
            self.out.collector = scrape(self._collector_metrics)
        except httpx.HTTPError as exc:
            self.out.errors.append(f"collector metrics unavailable: {exc}")
        self._compare()
        self.out.counts = dict(self.ledger.counts)
        for client in self.clients.values():
            client.close()
        self.watcher.close()

    def _stored_ts(self, meter: str, page: int = 20_000) -> set[int]:
        found: set[int] = set()
        after = 0
        quoted = meter.replace("\\", "\\\\").replace("'", "\\'")
        while True:
            series = self.influx.query(
                f'SELECT "value" FROM "meter_register" WHERE "meter" = \'{quoted}\' AND time > {after}ms'
                f" ORDER BY time LIMIT {page}"
            )
            values = series[0]["values"] if series else []
            found.update(int(row[0]) for row in values)
            if len(values) < page:
                return found
            after = int(values[-1][0])

    def _compare(self) -> None:
        lost = unexpected = stored = unacked = 0
        examples: list[str] = []
        for meter in self.ledger.published:
            published = set(self.ledger.published[meter])
            acked = set(self.ledger.acked[meter])
            have = self._stored_ts(meter)
            stored += len(have & published)
            missing = acked - have
            lost += len(missing)
            unexpected += len(have - published)
            unacked += len(published - acked)
            examples.extend(f"{meter}@{ts}" for ts in sorted(missing)[:2])
        self.out.stored, self.out.lost, self.out.unexpected, self.out.unacked = stored, lost, unexpected, unacked
        if lost:
            self.out.errors.append(f"{lost} acknowledged readings are not in InfluxDB, e.g. {examples[:5]}")
        if unexpected:
            self.out.errors.append(f"{unexpected} readings in InfluxDB were never published")
        path = self.stack.settings.var.resolve() / "collector" / "deadletter.db"
        store = DeadLetterStore(path)
        try:
            self.out.dead_letters = store.count()
        finally:
            store.close()
        if self.out.dead_letters != self.ledger.counts["bad_acked"]:
            self.out.errors.append(
                f"dead-letter store holds {self.out.dead_letters} distinct rejections,"
                f" expected {self.ledger.counts['bad_acked']}"
            )

    def wait_warm(self) -> None:
        """Before the clock starts: wait until every analysed camera has reported its health."""
        deadline = time.monotonic() + self.args.camera_ready_timeout
        wanted = set(self.stack.cameras)
        while wanted and time.monotonic() < deadline:
            if wanted <= set(self.watcher.camera_states()):
                return
            time.sleep(0.5)
        if wanted - set(self.watcher.camera_states()):
            logger.warning("cameras without health yet: %s", sorted(wanted - set(self.watcher.camera_states())))


# --- report ----------------------------------------------------------------------------------------------


def p95(values: list[float]) -> float:
    """95th percentile (nearest rank); inf for an empty list."""
    if not values:
        return math.inf
    ranked = sorted(values)
    return ranked[max(0, math.ceil(0.95 * len(ranked)) - 1)]


def memory_report(out: Outcome, bound_mb: float) -> float:
    """Print each service's RSS at start (after warm-up) and end; return the largest growth of a Vigil service."""
    print(f"{'service':<18}{'pid(s)':>16}{'RSS start MB':>13}{'RSS end MB':>11}{'growth':>8}{'MB/min':>8}{'CPU %':>7}")
    worst = 0.0
    for name in (*VIGIL_SERVICES, *SERVERS, DRIVER):
        samples = out.memory.after(name, out.warmup_s)
        if not samples:
            continue
        first, last = samples[0], samples[-1]
        pids = list(dict.fromkeys(s.pid for s in samples))
        same = [s for s in samples if s.pid == last.pid]
        growth = last.rss_mb - first.rss_mb
        span = same[-1].at - same[0].at
        cpu = 100 * (same[-1].cpu_s - same[0].cpu_s) / span if span > 0 else 0.0
        note = "" if len(pids) == 1 else "  (restarted: start and end are different processes)"
        print(
            f"{name:<18}{','.join(map(str, pids)):>16}{first.rss_mb:>13.1f}{last.rss_mb:>11.1f}{growth:>+8.1f}"
            f"{slope_mb_per_min(same):>+8.2f}{cpu:>7.0f}{note}"
        )
        if name in VIGIL_SERVICES:
            worst = max(worst, growth)
            if growth > bound_mb:
                out.errors.append(f"{name}: RSS grew {growth:.1f} MB, above the bound of {bound_mb:.0f} MB")
    print(
        f"bound: each Vigil service may grow at most {bound_mb:.0f} MB from warm-up to the end;"
        " Mosquitto, InfluxDB and this script are shown, not judged (the servers' caches follow the data)"
    )
    return worst


def alert_report(out: Outcome) -> float:
    """Print every alert event and its latency; return the p95 (inf if any alert never appeared)."""
    latencies: list[float] = []
    for e in out.events:
        if e.alert is None:
            first = "NO ALERT"
            out.errors.append(f"no alert named {e.target} after its {e.kind} failure at {time.ctime(e.at)}")
        else:
            first = f"{e.alert.at - e.at:5.1f} s  {e.alert.key.split(':')[0]}"
        extra = ""
        if e.detected_at is not None:
            extra += f"; health not ok after {e.detected_at - e.at:.1f} s"
        if e.own_alert_at is not None:
            extra += f"; camera_stream_lost after {e.own_alert_at - e.at:.1f} s"
        print(f"  {e.kind:<8}{e.target:<13}{e.detail:<18} first alert {first}{extra}")
        latencies.append(e.latency if e.latency is not None else math.inf)
    for kind in ("camera", "gateway"):
        some = [e.latency for e in out.events if e.kind == kind and e.latency is not None]
        if some:
            median = sorted(some)[len(some) // 2]
            print(f"  {kind} events: {len(some)}, latency median {median:.1f} s, p95 {p95(some):.1f} s")
    return p95(latencies)


def print_report(args: argparse.Namespace, out: Outcome, load_before: float) -> tuple[float, float]:
    """Print the whole report; return (rss growth, alert p95)."""
    c = out.counts
    rate = out.acked / out.seconds if out.seconds else 0.0
    print(
        f"soak: {out.seconds:.0f} s of publishing, warm-up {out.warmup_s:.0f} s; target {args.rate:.0f} readings/s"
        f" in messages of {args.per_message}; {args.cameras} cameras at {args.camera_size}, {args.camera_fps:g} fps"
    )
    print(
        f"readings: published {out.published:,} distinct, acknowledged {out.acked:,} ({rate:,.0f}/s achieved),"
        f" stored {out.stored:,}; lost {out.lost}, never acknowledged {out.unacked}, unexpected {out.unexpected}"
    )
    if out.behind_s > 1.0:
        print(f"  the publisher ended {out.behind_s:.1f} s behind its schedule: the rate was limited by CPU")
    print(
        f"messages: {c.get('messages', 0):,} published, {c.get('messages_acked', 0):,} acknowledged,"
        f" {c.get('refused', 0)} refused by the broker"
    )
    print(
        f"duplicates: {c.get('dup_published', 0):,} readings re-published on purpose, {c.get('dup_acked', 0):,}"
        f" acknowledged; InfluxDB holds {out.stored:,} = the distinct acknowledged readings, so all collapsed"
        if out.stored == out.acked
        else f"duplicates: {c.get('dup_acked', 0):,} acknowledged; stored {out.stored:,} != acknowledged {out.acked:,}"
    )
    print(
        f"dead-lettered: {out.dead_letters} distinct in the collector's store, {c.get('bad_acked', 0)} malformed"
        f" parts acknowledged"
    )
    for label, figures in (("killed, just before", out.collector_killed), ("running at the end", out.collector)):
        col = {k.removeprefix("vigil_").removesuffix("_total"): v for k, v in figures.items()}
        print(
            f"collector process {label}: messages {col.get('messages_received', 0):,.0f},"
            f" written {col.get('readings_written', 0):,.0f}, spooled {col.get('readings_spooled', 0):,.0f},"
            f" replayed {col.get('readings_replayed', 0):,.0f}"
        )
    print("faults: " + "; ".join(out.faults))
    print("alert events (failure made -> first open alert naming the device on MQTT vigil/{site}/alerts/...):")
    alert_p95 = alert_report(out)
    print("alerts opened after warm-up, by kind: " + (", ".join(f"{k} {n}" for k, n in out.opened.items()) or "none"))
    growth = memory_report(out, args.rss_bound_mb)
    mean_load = sum(out.loads) / len(out.loads) if out.loads else 0.0
    print(
        f"load average (1 min): {load_before:.2f} before start, mean {mean_load:.2f} during the run,"
        f" {os.getloadavg()[0]:.2f} at the end; {os.cpu_count()} CPUs"
    )
    if len(out.machine) == 2:
        (b0, w0, t0), (b1, w1, t1) = out.machine
        print(
            f"machine CPU after warm-up (all processes, this run's and others'): {100 * (b1 - b0) / (t1 - t0):.0f} %"
            f" busy, {100 * (w1 - w0) / (t1 - t0):.0f} % iowait of {os.cpu_count()} CPUs"
        )
    return growth, alert_p95


# --- command line ----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = argparse.ArgumentParser(prog="bench/soak.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--site", default=str(ROOT / "sites" / "demo.yaml"), help="site file (YAML)")
    p.add_argument("--minutes", type=float, default=10.0, help="minutes of publishing, warm-up included")
    p.add_argument("--rate", type=float, default=2000.0, help="readings per second")
    p.add_argument("--per-message", type=int, default=10, help="readings per MQTT message")
    p.add_argument("--cameras", type=int, default=16, help="cameras simulated and analysed (the site's first N)")
    p.add_argument("--camera-size", default="320x180", help="camera simulator picture, WIDTHxHEIGHT")
    p.add_argument("--camera-fps", type=float, default=4.0, help="camera simulator frames per second")
    p.add_argument("--no-api", action="store_true", help="do not run the API")
    p.add_argument("--warmup", type=float, default=60.0, help="seconds before faults, events and the RSS baseline")
    p.add_argument("--event-every", type=float, default=30.0, help="seconds between alert events (kinds alternate)")
    p.add_argument("--camera-fail-s", type=float, default=40.0, help="seconds a camera stays failed")
    p.add_argument(
        "--gateway-off-s",
        type=float,
        default=45.0,
        help="seconds a gateway stays offline (the site's gateway_offline open hold is 30 s by default)",
    )
    p.add_argument(
        "--tamper-types", type=lambda s: s.split(","), default=["black", "disconnect"], help="camera failures, in turn"
    )
    p.add_argument("--no-camera-events", action="store_true")
    p.add_argument("--no-gateway-events", action="store_true")
    p.add_argument("--influx-down", type=float, default=20.0, help="seconds InfluxDB stays stopped")
    p.add_argument("--duplicate-every", type=int, default=50, help="re-publish every N-th message; 0: never")
    p.add_argument("--bad-every", type=int, default=200, help="a malformed part every N messages; 0: never")
    p.add_argument("--rss-bound-mb", type=float, default=50.0, help="allowed RSS growth of each Vigil service")
    p.add_argument("--sample-every", type=float, default=5.0, help="seconds between RSS samples")
    p.add_argument("--drain-timeout", type=float, default=300.0, help="seconds to wait for acks and storage")
    p.add_argument("--settle", type=float, default=2.0, help="seconds to wait before the final checks")
    p.add_argument("--camera-ready-timeout", type=float, default=90.0, help="seconds to wait for first health")
    p.add_argument("--workdir", help="keep everything here instead of a deleted temp dir")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO")
    return p


def run(args: argparse.Namespace, workdir: Path) -> Outcome:
    """Start the stack, soak it, stop it."""
    workdir.mkdir(parents=True, exist_ok=True)
    camera_port = free_port()
    site_file = soak_site_file(Path(args.site), camera_port, workdir / "site.yaml")
    stack = Stack(stack_settings(args, site_file, camera_port, workdir))
    try:
        stack.start(progress=lambda line: logger.info("%s", line.strip()))
        soak = Soak(args, stack)
        soak.wait_warm()
        return soak.run()
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the soak, print the report and, last, the RESULT line; return 1 if anything was wrong."""
    args = build_parser().parse_args(argv)
    bench_logging(args.verbose, logger)
    if args.minutes * 60 <= args.warmup:
        raise SystemExit("--minutes must be longer than --warmup")
    load_before = os.getloadavg()[0]
    out = in_workdir(args.workdir, "vigil-soak-", lambda workdir: run(args, workdir))
    growth, alert_p95 = print_report(args, out, load_before)
    for error in out.errors:
        print(f"ERROR: {error}")
    print(f"RESULT lost={out.lost} rss_growth_mb={growth:.1f} alert_p95_s={alert_p95:.1f}")
    return 1 if out.errors else 0


if __name__ == "__main__":
    sys.exit(main())
