"""`vigil`: run the platform, check its status, inspect dead letters, generate broker config."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from core.config import load_site
from core.logs import setup_logging
from ops.stack import Stack, StackSettings


def scrape(url: str) -> dict[str, float]:
    """Return the samples of a Prometheus endpoint as {name: value} (labels summed)."""
    response = httpx.get(url, timeout=2.0)
    response.raise_for_status()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            values[sample.name] = values.get(sample.name, 0.0) + sample.value
    return values


def summary_line(now: dict[str, float], before: dict[str, float] | None, seconds: float) -> str:
    """Format one live-summary line from two scrapes of the collector's metrics."""

    def get(source: dict[str, float] | None, name: str) -> float:
        return (source or {}).get(name, 0.0)

    written = get(now, "vigil_readings_written_total") + get(now, "vigil_readings_replayed_total")
    rate = (written - get(before, "vigil_readings_written_total") - get(before, "vigil_readings_replayed_total")) / (
        seconds or 1.0
    )
    return (
        f"{dt.datetime.now():%H:%M:%S}  messages {get(now, 'vigil_messages_received_total'):.0f}"
        f"  readings stored {written:.0f} ({rate if before else 0:.0f}/s)"
        f"  spooled {get(now, 'vigil_readings_spooled_total'):.0f}"
        f"  rejected {get(now, 'vigil_readings_rejected_total'):.0f}"
        f"  spool depth {get(now, 'vigil_spool_depth_lines'):.0f}"
        f"  InfluxDB {'up' if get(now, 'vigil_influx_up') else 'DOWN'}"
    )


def cmd_run(args: argparse.Namespace) -> int:
    """Run the whole platform with simulators until Ctrl-C."""
    settings = StackSettings(
        site_path=Path(args.site),
        var=Path(args.var),
        mqtt_port=args.mqtt_port,
        influx_port=args.influx_port,
        api_port=args.api_port,
        simulate=not args.no_simulators,
        sim_speed=args.speed,
        seed=args.seed,
    )
    stack = Stack(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"Vigil: starting site {stack.site.site.id} ({stack.site.site.name}); data under {settings.var}/")
    try:
        stack.start()
        url = f"http://127.0.0.1:{settings.collector_metrics_port}/metrics"
        screen = f"http://127.0.0.1:{settings.api_port}/screen/login?key={stack.demo_key}"
        print(f"Vigil is running. Alert screen: {screen}")
        print(f"  Energy API: http://127.0.0.1:{settings.api_port}/api/v1/docs  (demo operator key: {stack.demo_key})")
        print(f"  Collector metrics: {url}  Logs: {settings.var}/logs/  Stop: Ctrl-C")
        before: dict[str, float] | None = None
        while not stop.wait(args.summary_every):
            dead = stack.dead()
            if dead:
                print(f"service(s) exited: {', '.join(dead)}; see logs under {settings.var}/", file=sys.stderr)
                return 1
            try:
                now = scrape(url)
            except httpx.HTTPError as exc:
                print(f"collector metrics unavailable: {exc}")
                continue
            print(summary_line(now, before, args.summary_every), flush=True)
            before = now
        return 0
    finally:
        print("Vigil: stopping ...")
        stack.stop()
        print("Vigil: stopped.")


def cmd_status(args: argparse.Namespace) -> int:
    """Tell which parts of a running local platform answer."""
    checks: dict[str, Callable[[], object]] = {
        "mqtt broker": lambda: _tcp_ok("127.0.0.1", args.mqtt_port),
        "influxdb": lambda: httpx.get(f"http://127.0.0.1:{args.influx_port}/ping", timeout=2).status_code == 204,
        "collector": lambda: bool(scrape(f"http://127.0.0.1:{args.metrics_port}/metrics")),
        "alerts": lambda: bool(scrape("http://127.0.0.1:9102/metrics")),
        "api+screen": lambda: (
            httpx.get(f"http://127.0.0.1:{args.api_port}/api/v1/health", timeout=2).status_code == 200
        ),
    }
    healthy = True
    for name, check in checks.items():
        try:
            ok = bool(check())
        except (OSError, httpx.HTTPError):
            ok = False
        healthy &= ok
        print(f"{name:12s} {'ok' if ok else 'DOWN'}")
    return 0 if healthy else 1


def cmd_deadletter(args: argparse.Namespace) -> int:
    """List rejected payloads and readings, newest first."""
    from ingest.deadletter import DeadLetterStore

    path = Path(args.state_dir) / "deadletter.db"
    if not path.exists():
        print(f"no dead-letter store at {path}", file=sys.stderr)
        return 1
    store = DeadLetterStore(path)
    letters = store.list(limit=args.limit, gateway=args.gateway)
    for d in letters:
        seen = dt.datetime.fromtimestamp(d.last_seen_ms / 1000).isoformat(timespec="seconds")
        where = f"#{d.index}" if d.index is not None else ""
        payload = d.payload[: args.width].decode("utf-8", "replace").replace("\n", "\\n")
        print(f"{seen}  {d.gateway or '-':12s} x{d.count:<3d} {d.reason}{' ' + where if where else ''}")
        print(f"    {d.topic}  {d.size} B  {payload}")
    print(f"{store.count()} distinct dead letters in {path}")
    return 0


def cmd_broker_config(args: argparse.Namespace) -> int:
    """Write Mosquitto's config, ACL and password file for a site."""
    from ops.broker import broker_accounts, write_broker_config
    from ops.secrets import load_or_create_secrets

    site = load_site(args.site)
    passwords = load_or_create_secrets(Path(args.secrets), broker_accounts(site))
    conf = write_broker_config(Path(args.out), site, passwords, args.port, bind=args.bind)
    print(f"wrote {conf} (accounts: {', '.join(sorted(passwords))}; passwords in {args.secrets})")
    return 0


def _tcp_ok(host: str, port: int) -> bool:
    import socket

    with socket.create_connection((host, port), timeout=2):
        return True


def build_parser() -> argparse.ArgumentParser:
    """Return the `vigil` command-line parser."""
    parser = argparse.ArgumentParser(prog="vigil", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the whole platform with simulators (Ctrl-C stops)")
    run.add_argument("--site", default="sites/demo.yaml")
    run.add_argument("--var", default="var", help="folder for all data, logs and secrets")
    run.add_argument("--mqtt-port", type=int, default=1883)
    run.add_argument("--influx-port", type=int, default=8086)
    run.add_argument("--api-port", type=int, default=8000)
    run.add_argument("--speed", type=float, default=300.0, help="simulated seconds per second")
    run.add_argument("--seed", type=int, default=1)
    run.add_argument("--no-simulators", action="store_true")
    run.add_argument("--summary-every", type=float, default=5.0)
    run.set_defaults(func=cmd_run)
    status = sub.add_parser("status", help="tell which local services answer")
    status.add_argument("--mqtt-port", type=int, default=1883)
    status.add_argument("--influx-port", type=int, default=8086)
    status.add_argument("--api-port", type=int, default=8000)
    status.add_argument("--metrics-port", type=int, default=9101)
    status.set_defaults(func=cmd_status)
    dead = sub.add_parser("deadletter", help="list rejected payloads and readings")
    dead.add_argument("--state-dir", default="var/collector")
    dead.add_argument("--gateway")
    dead.add_argument("--limit", type=int, default=50)
    dead.add_argument("--width", type=int, default=160, help="payload characters shown")
    dead.set_defaults(func=cmd_deadletter)
    broker = sub.add_parser("broker-config", help="generate Mosquitto config, ACL and passwords")
    broker.add_argument("--site", default="sites/demo.yaml")
    broker.add_argument("--out", default="var/mosquitto")
    broker.add_argument("--secrets", default="var/secrets.json")
    broker.add_argument("--port", type=int, default=1883)
    broker.add_argument("--bind", default="127.0.0.1")
    broker.set_defaults(func=cmd_broker_config)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `vigil` command."""
    setup_logging("vigil", level=logging.WARNING)
    args = build_parser().parse_args(argv)
    raise SystemExit(args.func(args))
