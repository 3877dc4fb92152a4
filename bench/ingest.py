"""Ingest throughput: the real collector against a count-only subscriber and raw InfluxDB writes, in one run.

    .venv/bin/python bench/ingest.py [--single N] [--batched N] [--per-message N] ...

Starts its own Mosquitto (configured from the site file, as in production) and InfluxDB on free loopback
ports in a temp dir, then measures, on the same broker and database server:

  a. count-only subscriber: a paho MQTT v5 QoS 1 subscriber with the collector's session settings that only
     counts (auto-ack), draining N preloaded one-reading messages: the consumer-side limit;
  b. end-to-end single: the collector (in-process) draining the same kind of N preloaded messages, timed from
     start() until all N readings are queryable in InfluxDB;
  c. raw /write: the batched readings, pre-encoded as line protocol, posted in fixed-size batches;
  d. end-to-end batched: the collector draining preloaded `{"readings": [...]}` messages until all are queryable.

Messages are preloaded into the collector's (or the counter's) persistent session before the clock starts, so
the figures measure the consumer, not the publishers. The last line is `RESULT single_ratio=.. batched_rps=..`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/ingest.py`, this file's own folder comes first on sys.path, and this script would
# shadow the `ingest` package: put the project root there instead.
if Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import logging
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from collectors.meters import MeterCollector, MqttSettings
from core import topics
from core.config import SiteConfig, load_site
from core.types import Kind
from ingest.deadletter import DeadLetterStore
from ingest.influx import InfluxClient, InfluxSettings
from ingest.lineprotocol import to_line_protocol
from ingest.payload import parse_payload
from ingest.pipeline import Ingestor
from ingest.spool import Spool
from ops.broker import COLLECTOR, broker_accounts, write_broker_config
from ops.secrets import load_or_create_secrets
from ops.servers import InfluxDB, Mosquitto, create_database, free_port

logger = logging.getLogger("bench.ingest")

ROOT = Path(__file__).resolve().parent.parent
COUNT_QUERY = 'SELECT count("value") FROM "meter_register"'
UNITS = {Kind.ELECTRICITY: "kWh", Kind.WATER: "m3"}


class BenchError(RuntimeError):
    """A phase could not complete (timeout, refused connection, lost or duplicated data)."""


@dataclass(frozen=True, slots=True)
class Stack:
    """The broker and database server of this run."""

    site: SiteConfig
    host: str
    mqtt_port: int
    passwords: dict[str, str]
    influx_url: str
    workdir: Path


@dataclass(slots=True)
class Phase:
    """The outcome of one measured phase."""

    name: str
    messages: int | None
    readings: int
    seconds: float
    cpu_s: float  # CPU time of this process (the consumer; not the servers) while timed
    preload_s: float | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def msgs_per_s(self) -> float | None:
        return None if self.messages is None else self.messages / self.seconds

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.seconds


# --- servers ---------------------------------------------------------------------------------------------


@contextmanager
def running_stack(site: SiteConfig, workdir: Path) -> Iterator[Stack]:
    """Run Mosquitto (the site's generated config) and InfluxDB on free loopback ports under `workdir`."""
    passwords = load_or_create_secrets(workdir / "secrets.json", broker_accounts(site))
    port = free_port()
    broker = Mosquitto(write_broker_config(workdir / "mosquitto", site, passwords, port), port)
    influx = InfluxDB(workdir / "influx", free_port())
    try:
        broker.start()
        influx.start()
        broker.wait_ready()
        influx.wait_ready()
        yield Stack(site, "127.0.0.1", port, passwords, influx.url, workdir)
    finally:
        broker.stop()
        influx.stop()


# --- messages --------------------------------------------------------------------------------------------


def make_payloads(
    site: SiteConfig, first: int, messages: int, per_message: int, base_ms: int
) -> dict[str, list[bytes]]:
    """Build payloads round-robin over the site's gateways, each with its own meters.

    Reading number k (counted from `first`) has ts = base_ms - k s, so (meter, ts) is unique across the run.
    """
    by_gateway: dict[str, list[bytes]] = {g.id: [] for g in site.gateways}
    k = first
    for i in range(messages):
        gateway = site.gateways[i % len(site.gateways)]
        readings = []
        for _ in range(per_message):
            meter = site.meter_by_id[gateway.meters[k % len(gateway.meters)]]
            value = round(1000.0 + (k % 90_000) * 0.25, 2)
            readings.append({"meter": meter.id, "ts": base_ms - k * 1000, "value": value, "unit": UNITS[meter.kind]})
            k += 1
        doc = readings[0] if per_message == 1 else {"readings": readings}
        by_gateway[gateway.id].append(orjson.dumps(doc))
    return by_gateway


def encode_lines(site: SiteConfig, by_gateway: dict[str, list[bytes]]) -> list[str]:
    """Parse and encode payloads exactly as the collector would, for the raw-write baseline."""
    now_ms = int(time.time() * 1000)
    lines: list[str] = []
    for gateway, payloads in by_gateway.items():
        topic = topics.gateway_readings(site.site.id, gateway)
        for payload in payloads:
            result = parse_payload(topic, payload, site, now_ms)
            if result.rejections:
                raise BenchError(f"generated payload refused: {result.rejections[0].reason}")
            lines.extend(to_line_protocol(r) for r in result.readings)
    return lines


# --- MQTT helpers ----------------------------------------------------------------------------------------


def _client(stack: Stack, user: str, client_id: str) -> mqtt.Client:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        reconnect_on_failure=False,  # a failure must show, not be retried behind the timing
    )
    client.username_pw_set(user, stack.passwords[user])
    return client


def _session_props(settings: MqttSettings) -> Properties:
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = settings.session_expiry_s
    props.ReceiveMaximum = settings.receive_maximum
    return props


def _connect(client: mqtt.Client, stack: Stack, clean_start: bool, props: Properties | None) -> None:
    """Connect, start the network thread and wait for a successful CONNACK."""
    connected = threading.Event()
    outcome: list[Any] = []

    def on_connect(_c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        outcome.append(reason)
        connected.set()

    client.on_connect = on_connect
    client.connect(stack.host, stack.mqtt_port, keepalive=30, clean_start=clean_start, properties=props)
    client.loop_start()
    if not connected.wait(10) or outcome[0].is_failure:
        client.loop_stop()
        raise BenchError(f"broker refused an MQTT connection: {outcome[:1] or 'no CONNACK'}")


def open_session(stack: Stack, client_id: str, settings: MqttSettings) -> None:
    """Create a persistent session subscribed to every gateway's readings, then leave it offline."""
    client = _client(stack, COLLECTOR, client_id)
    subscribed = threading.Event()
    client.on_subscribe = lambda *_a: subscribed.set()
    _connect(client, stack, clean_start=True, props=_session_props(settings))
    client.subscribe(topics.all_gateway_readings(stack.site.site.id), qos=1)
    if not subscribed.wait(10):
        raise BenchError(f"no SUBACK for {client_id}")
    client.disconnect()
    client.loop_stop()


def drop_session(stack: Stack, client_id: str) -> None:
    """End a persistent session, so later preloads are not queued for it too."""
    client = _client(stack, COLLECTOR, client_id)
    _connect(client, stack, clean_start=True, props=None)  # no expiry interval: the session ends now
    client.disconnect()
    client.loop_stop()


def _publish_gateway(stack: Stack, gateway: str, payloads: list[bytes], errors: list[str]) -> None:
    client = _client(stack, gateway, f"bench-pub-{gateway}")
    client.max_inflight_messages_set(0)  # paho caps a publisher at 20 in flight by default
    done = threading.Event()
    acked = [0]

    def on_publish(_c: mqtt.Client, _u: Any, _mid: int, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            errors.append(f"{gateway}: PUBACK {reason}")
        acked[0] += 1
        if acked[0] == len(payloads):
            done.set()

    client.on_publish = on_publish
    _connect(client, stack, clean_start=True, props=None)
    topic = topics.gateway_readings(stack.site.site.id, gateway)
    for payload in payloads:
        info = client.publish(topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            errors.append(f"{gateway}: publish failed: {mqtt.error_string(info.rc)}")
            break
    if not done.wait(120):
        errors.append(f"{gateway}: only {acked[0]} of {len(payloads)} PUBACKs")
    client.disconnect()
    client.loop_stop()


def preload(stack: Stack, by_gateway: dict[str, list[bytes]]) -> float:
    """Publish every payload QoS 1 from its gateway's account, in parallel; return once all are PUBACKed."""
    errors: list[str] = []
    threads = [
        threading.Thread(target=_publish_gateway, args=(stack, gw, payloads, errors), name=f"pub-{gw}")
        for gw, payloads in by_gateway.items()
        if payloads
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise BenchError("preload failed: " + "; ".join(errors[:5]))
    return time.perf_counter() - started


# --- phases ----------------------------------------------------------------------------------------------


def bench_count_only(stack: Stack, by_gateway: dict[str, list[bytes]], timeout_s: float, settle_s: float) -> Phase:
    """Limit 1: drain preloaded messages with a subscriber that only counts them (auto-ack)."""
    client_id = "bench-count-only"
    settings = MqttSettings(client_id=client_id)
    expected = sum(len(p) for p in by_gateway.values())
    open_session(stack, client_id, settings)
    preload_s = preload(stack, by_gateway)

    client = _client(stack, COLLECTOR, client_id)
    received = [0]
    done = threading.Event()

    def on_message(_c: mqtt.Client, _u: Any, _msg: mqtt.MQTTMessage) -> None:
        received[0] += 1
        if received[0] == expected:
            done.set()

    client.on_message = on_message
    started, cpu_started = time.perf_counter(), time.process_time()
    _connect(client, stack, clean_start=False, props=_session_props(settings))
    # Resubscribe as the collector does on every connect, so both pay the same.
    client.subscribe(topics.all_gateway_readings(stack.site.site.id), qos=1)
    finished = done.wait(timeout_s)
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    time.sleep(settle_s)  # anything arriving now would be a duplicate
    client.disconnect()
    client.loop_stop()
    drop_session(stack, client_id)
    phase = Phase("a  count-only subscriber", expected, expected, seconds, cpu_s, preload_s)
    if not finished or received[0] != expected:
        phase.errors.append(f"count-only subscriber received {received[0]} messages, expected {expected}")
    return phase


def count_stored(client: InfluxClient) -> int:
    """Return how many meter_register points the database holds."""
    series = client.query(COUNT_QUERY)
    return int(series[0]["values"][0][1]) if series else 0


def bench_collector(
    stack: Stack,
    name: str,
    database: str,
    by_gateway: dict[str, list[bytes]],
    per_message: int,
    poll_s: float,
    timeout_s: float,
    settle_s: float,
) -> Phase:
    """Drain preloaded messages with the real collector; time from start() until all readings are queryable."""
    client_id = f"bench-{database}"
    settings = MqttSettings(
        host=stack.host, port=stack.mqtt_port, password=stack.passwords[COLLECTOR], client_id=client_id
    )
    messages = sum(len(p) for p in by_gateway.values())
    expected = messages * per_message
    create_database(stack.influx_url, database)
    open_session(stack, client_id, settings)
    preload_s = preload(stack, by_gateway)

    influx = InfluxSettings(url=stack.influx_url, database=database)
    state = stack.workdir / client_id
    ingestor = Ingestor(
        stack.site, InfluxClient(influx), Spool(state / "spool.db"), DeadLetterStore(state / "deadletter.db")
    )
    collector = MeterCollector(settings, stack.site.site.id, ingestor)
    reader = InfluxClient(influx)
    started, cpu_started = time.perf_counter(), time.process_time()
    collector.start()
    try:
        stored = wait_stored(reader, expected, poll_s, timeout_s)
        seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
        time.sleep(settle_s)  # let redeliveries, if any, show up in the counters
        stats = ingestor.metrics.snapshot()
        stored = count_stored(reader)
    finally:
        collector.stop()
        reader.close()
        drop_session(stack, client_id)
    phase = Phase(name, messages, expected, seconds, cpu_s, preload_s)
    checks = {
        "readings in InfluxDB": stored,
        "messages received": stats["messages"],
        "readings parsed": stats["readings"],
        "readings written": stats["written"],
    }
    wanted = {"messages received": messages}
    for what, got in checks.items():
        if int(got) != wanted.get(what, expected):
            phase.errors.append(f"{name.strip()}: {what} = {int(got)}, expected {wanted.get(what, expected)}")
    for what in ("spooled", "rejected_parse", "rejected_store"):
        if stats[what]:
            phase.errors.append(f"{name.strip()}: {what} = {int(stats[what])}, expected 0")
    return phase


def wait_stored(reader: InfluxClient, expected: int, poll_s: float, timeout_s: float, stall_s: float = 30.0) -> int:
    """Poll the point count until it reaches `expected`, the timeout passes, or it stops growing.

    A failed count query (InfluxDB restarting) counts as no progress."""
    deadline = time.monotonic() + timeout_s
    stored, last_change = 0, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - last_change < stall_s:
        try:
            count = count_stored(reader)
        except Exception as exc:
            logger.warning("count query failed: %s", exc)
            count = stored
        if count >= expected:
            return count
        if count != stored:
            stored, last_change = count, time.monotonic()
        time.sleep(poll_s)
    logger.error("gave up waiting: %d of %d readings stored", stored, expected)
    return stored


def bench_raw_write(stack: Stack, database: str, lines: list[str], batch: int) -> Phase:
    """Limit 2: post pre-encoded line protocol in `batch`-line writes, one after another, as the collector does."""
    create_database(stack.influx_url, database)
    client = InfluxClient(InfluxSettings(url=stack.influx_url, database=database))
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        for i in range(0, len(lines), batch):
            client.write_lines(lines[i : i + batch])
        seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
        stored = count_stored(client)
    finally:
        client.close()
    phase = Phase(f"c  raw /write ({batch}-line batches)", None, len(lines), seconds, cpu_s)
    if stored != len(lines):
        phase.errors.append(f"raw write: {stored} points stored, expected {len(lines)}")
    return phase


# --- report ----------------------------------------------------------------------------------------------


def print_report(phases: list[Phase], single_ratio: float, batched_ratio: float, batched_rps: float) -> None:
    """Print the figures table and the ratios."""
    header = (
        f"{'phase':<34}{'messages':>9}{'readings':>9}{'seconds':>8}{'msgs/s':>9}{'readings/s':>11}"
        f"{'CPU s':>7}{'CPU us/rdg':>11}{'preload s':>10}"
    )
    print(header)
    print("-" * len(header))
    for p in phases:
        msgs = "-" if p.messages is None else f"{p.messages}"
        rate = "-" if p.msgs_per_s is None else f"{p.msgs_per_s:,.0f}"
        pre = "-" if p.preload_s is None else f"{p.preload_s:.1f}"
        print(
            f"{p.name:<34}{msgs:>9}{p.readings:>9}{p.seconds:>8.2f}{rate:>9}{p.readings_per_s:>11,.0f}"
            f"{p.cpu_s:>7.2f}{1e6 * p.cpu_s / p.readings:>11.1f}{pre:>10}"
        )
    print("(CPU: this process only, i.e. the consumer or writer, not Mosquitto or InfluxDB)")
    print()
    count_only, single = phases[0], phases[1]
    print(f"e2e single / count-only subscriber (msgs/s):   {single_ratio:.2f}   (goal >= 0.80)")
    print(f"  the same by CPU per message (load-robust):   {count_only.cpu_s / single.cpu_s:.2f}")
    print(f"e2e batched / raw write (readings/s):          {batched_ratio:.2f}")
    print(f"e2e batched readings/s:                        {batched_rps:,.0f}   (goal >= 50,000)")


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = argparse.ArgumentParser(prog="bench/ingest.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--site", default=str(ROOT / "sites" / "demo.yaml"), help="site file (YAML)")
    p.add_argument("--single", type=int, default=100_000, help="one-reading messages for phases a and b")
    p.add_argument("--batched", type=int, default=500_000, help="readings for phases c and d")
    p.add_argument("--per-message", type=int, default=100, help="readings per message in phase d")
    p.add_argument("--write-batch", type=int, default=5000, help="lines per /write in phase c")
    p.add_argument("--poll", type=float, default=0.25, help="seconds between InfluxDB count queries")
    p.add_argument("--settle", type=float, default=1.0, help="seconds to wait for duplicates after each phase")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds a phase may take before it fails")
    p.add_argument("--repeat", type=int, default=1, help="run the phases R times and keep each one's best")
    p.add_argument("--workdir", help="keep servers' files here instead of a deleted temp dir")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO")
    return p


def run(args: argparse.Namespace, workdir: Path) -> list[Phase]:
    """Run the four phases `--repeat` times on one broker and one InfluxDB server; return each one's best."""
    site = load_site(args.site)
    if args.single < 1 or args.batched < args.per_message or not 1 <= args.per_message <= site.ingest.max_batch:
        raise SystemExit("need --single >= 1 and 1 <= --per-message <= min(--batched, the site's max_batch)")
    if args.repeat < 1:
        raise SystemExit("need --repeat >= 1")
    base_ms = (int(time.time()) - 3600) * 1000
    batched_messages = args.batched // args.per_message
    single_a = make_payloads(site, 0, args.single, 1, base_ms)
    single_b = make_payloads(site, args.single, args.single, 1, base_ms)
    batched = make_payloads(site, 2 * args.single, batched_messages, args.per_message, base_ms)
    lines = encode_lines(site, batched)
    runs: list[list[Phase]] = []
    with running_stack(site, workdir) as stack:
        for r in range(1, args.repeat + 1):
            # Fresh databases per repetition: the same readings must be counted from zero again.
            logger.info("run %d: phase a: count-only subscriber, %d messages", r, args.single)
            phases = [bench_count_only(stack, single_a, args.timeout, args.settle)]
            logger.info("run %d: phase b: collector, %d one-reading messages", r, args.single)
            phases.append(
                bench_collector(
                    stack, "b  e2e single (collector)", f"single{r}", single_b, 1, args.poll, args.timeout, args.settle
                )
            )
            logger.info("run %d: phase c: raw /write of %d lines", r, len(lines))
            phases.append(bench_raw_write(stack, f"raw{r}", lines, args.write_batch))
            logger.info("run %d: phase d: collector, %d messages of %d readings", r, batched_messages, args.per_message)
            phases.append(
                bench_collector(
                    stack,
                    f"d  e2e batched ({args.per_message}/msg)",
                    f"batched{r}",
                    batched,
                    args.per_message,
                    args.poll,
                    args.timeout,
                    args.settle,
                )
            )
            runs.append(phases)
    best = [min(same, key=lambda p: p.seconds) for same in zip(*runs, strict=True)]
    for phase in best:
        phase.errors = [e for run_phases in runs for p in run_phases if p.name == phase.name for e in p.errors]
    return best


T = TypeVar("T")


def bench_logging(verbose: bool, progress: logging.Logger) -> None:
    """Log to stderr (INFO with `verbose`, else WARNING), `progress` at INFO whatever, httpx quiet."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    progress.setLevel(logging.INFO)


def in_workdir(workdir: str | None, prefix: str, run: Callable[[Path], T]) -> T:
    """Call `run` with `workdir` (kept), or with a temp dir removed afterwards. SIGTERM unwinds like Ctrl-C,
    so that servers are stopped and the temp dir removed."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if workdir:
        return run(Path(workdir).resolve())
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        return run(Path(tmp))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table and, last, the RESULT line; return 1 if any count was wrong."""
    args = build_parser().parse_args(argv)
    bench_logging(args.verbose, logger)
    load_before = os.getloadavg()[0]
    phases = in_workdir(args.workdir, "vigil-bench-", lambda workdir: run(args, workdir))
    count_only, single, raw, batched = phases
    assert count_only.msgs_per_s is not None and single.msgs_per_s is not None
    single_ratio = single.msgs_per_s / count_only.msgs_per_s
    batched_ratio = batched.readings_per_s / raw.readings_per_s
    print_report(phases, single_ratio, batched_ratio, batched.readings_per_s)
    # The run itself adds about 1.5 to the load; anything before it started is other work sharing the CPUs.
    busy = "  (other work was running: figures are noisy)" if load_before >= 1.0 else ""
    load_after = os.getloadavg()[0]
    print(f"load average (1 min) at start / end: {load_before:.1f} / {load_after:.1f}, {os.cpu_count()} CPUs{busy}")
    errors = [e for p in phases for e in p.errors]
    for error in errors:
        print(f"ERROR: {error}")
    print(f"RESULT single_ratio={single_ratio:.2f} batched_rps={batched.readings_per_s:.0f}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
