"""Run the alert service: `python -m alerts --site sites/demo.yaml --state-dir var/alerts ...`."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from pathlib import Path

from prometheus_client import start_http_server

from alerts.engine.metrics import AlertMetrics
from alerts.engine.service import AlertService, MqttSettings
from alerts.engine.sources import InfluxRegisterSource
from alerts.engine.store import AlertStore
from core.cli import add_influx_args, add_mqtt_args, mqtt_password
from core.config import load_site
from core.logs import add_log_args, setup_logging
from ingest.influx import InfluxClient, settings_from_args

logger = logging.getLogger("alerts")


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = argparse.ArgumentParser(prog="python -m alerts", description=__doc__)
    p.add_argument("--site", required=True, help="site file (YAML)")
    p.add_argument("--state-dir", default=os.environ.get("VIGIL_ALERTS_STATE_DIR", "var/alerts"))
    add_mqtt_args(p, "vigil-service", "vigil-alerts-1", "VIGIL_ALERTS_ID")
    add_influx_args(p)
    p.add_argument("--no-influx", action="store_true", help="perimeter and gateway-status rules only")
    p.add_argument("--with-coverage", action="store_true", help="also run the coverage monitor in this process")
    p.add_argument("--metrics-port", type=int, default=int(os.environ.get("VIGIL_ALERTS_METRICS_PORT", "0")))
    p.add_argument("--summary-every", type=float, default=60.0, help="seconds between summary lines")
    p.add_argument("--metrics-host", default=os.environ.get("VIGIL_METRICS_HOST", "127.0.0.1"))
    add_log_args(p)
    return p


def main(argv: list[str] | None = None) -> None:
    """Wire the alert service together and run until SIGINT/SIGTERM."""
    args = build_parser().parse_args(argv)
    setup_logging("alerts", args.log_format)
    site = load_site(args.site)
    store = AlertStore(Path(args.state_dir) / f"alerts-{site.site.id}.db")
    source = None
    if not args.no_influx:
        client = InfluxClient(settings_from_args(args))
        source = InfluxRegisterSource(client)
    password = mqtt_password(args)
    settings = MqttSettings(
        host=args.mqtt_host, port=args.mqtt_port, username=args.mqtt_user, password=password, client_id=args.client_id
    )
    metrics = AlertMetrics(store, site.site.id)
    service = AlertService(site, store, source=source, mqtt_settings=settings, metrics=metrics)
    monitor = None
    if args.with_coverage and site.perimeter is not None and site.cameras:
        from alerts.coverage.model import Coverage
        from alerts.coverage.monitor import CoverageMonitor, MonitorSettings

        monitor = CoverageMonitor(
            Coverage(site),
            MonitorSettings(
                host=args.mqtt_host,
                port=args.mqtt_port,
                username=args.mqtt_user,
                password=password,
                client_id=f"{args.client_id}-coverage",
            ),
        )
    if args.metrics_port:
        start_http_server(args.metrics_port, addr=args.metrics_host, registry=metrics.registry)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    service.start()
    if monitor is not None:
        monitor.start()
    logger.info(
        "alert service %s: site %s, broker %s:%s, InfluxDB %s, store %s, %d alerts active",
        settings.client_id,
        site.site.id,
        settings.host,
        settings.port,
        "off" if source is None else f"{args.influx_url}/{args.influx_db}",
        store.path,
        len(store.active(site.site.id)),
    )
    while not stop.wait(args.summary_every):
        counts = store.counts(site.site.id)
        by_kind: dict[str, int] = {}
        for (kind, _severity, _state), n in counts.items():
            by_kind[kind] = by_kind.get(kind, 0) + n
        logger.info("summary: %d active alerts %s", sum(by_kind.values()), by_kind)
    logger.info("stopping alert service %s", settings.client_id)
    if monitor is not None:
        monitor.stop()
    service.stop()
    store.close()


if __name__ == "__main__":
    main()
