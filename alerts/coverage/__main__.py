"""Perimeter coverage: `python -m alerts.coverage plan --site sites/demo.yaml` or `... run --site ...`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

import orjson

from alerts.coverage.model import Coverage
from alerts.coverage.monitor import CoverageMonitor, MonitorSettings
from alerts.coverage.plan import build_plan, format_plan, plan_to_dict
from alerts.coverage.render import render_svg
from core.cli import add_mqtt_args, mqtt_password
from core.config import load_site

logger = logging.getLogger("alerts.coverage")


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = argparse.ArgumentParser(prog="python -m alerts.coverage", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="static blind spots, single points of failure and the N-1 analysis")
    plan.add_argument("--site", required=True, help="site file (YAML)")
    plan.add_argument("--json", action="store_true", help="print JSON instead of text")
    plan.add_argument("--fail", nargs="+", default=[], metavar="CAM", help="also show these cameras failed together")
    plan.add_argument("--svg", help="write a picture of the coverage (with --fail applied) to this file")
    run = sub.add_parser("run", help="follow camera health on MQTT and publish coverage, until SIGINT/SIGTERM")
    run.add_argument("--site", required=True, help="site file (YAML)")
    add_mqtt_args(run, "vigil-service", "vigil-coverage-1", "VIGIL_COVERAGE_ID")
    run.add_argument("--settle", type=float, default=1.0, help="seconds to wait for retained health at start")
    run.add_argument("--heartbeat", type=float, default=10.0, help="seconds between 'online' status messages")
    return p


def _plan(args: argparse.Namespace) -> int:
    try:
        coverage = Coverage(load_site(args.site))
        plan = build_plan(coverage, args.fail)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        sys.stdout.write(orjson.dumps(plan_to_dict(plan), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(format_plan(plan, coverage))
    if args.svg:
        report = plan.scenario or plan.static
        Path(args.svg).write_text(render_svg(coverage.site, report, coverage=coverage), encoding="utf-8")
    return 1 if plan.static.blind else 0


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        coverage = Coverage(load_site(args.site))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = MonitorSettings(
        host=args.mqtt_host,
        port=args.mqtt_port,
        username=args.mqtt_user,
        password=mqtt_password(args),
        client_id=args.client_id,
        settle_s=args.settle,
        heartbeat_s=args.heartbeat,
    )
    monitor = CoverageMonitor(coverage, settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    monitor.start()
    logger.info("coverage monitor for site %s on %s:%s", coverage.site.site.id, settings.host, settings.port)
    stop.wait()
    monitor.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run a sub-command; `plan` exits 1 when the design itself leaves blind spots."""
    args = build_parser().parse_args(argv)
    return _plan(args) if args.command == "plan" else _run(args)


if __name__ == "__main__":
    sys.exit(main())
