"""Run the alert service: `python -m alerts --site sites/demo.yaml --state-dir var/alerts ...`."""

from __future__ import annotations

import argparse
import json
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
from core.config import load_site
from ingest.influx import InfluxClient, InfluxSettings

logger = logging.getLogger("alerts")


def _password(args: argparse.Namespace) -> str:
    env = os.environ.get("VIGIL_MQTT_PASSWORD")
    if env:
        return env
    if args.secrets:
        secrets: dict[str, str] = json.loads(Path(args.secrets).read_text())
        return secrets[args.mqtt_user]
    raise SystemExit("no MQTT password: set VIGIL_MQTT_PASSWORD or pass --secrets")


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = argparse.ArgumentParser(prog="python -m alerts", description=__doc__)
    p.add_argument("--site", required=True, help="site file (YAML)")
    p.add_argument("--state-dir", default=os.environ.get("VIGIL_ALERTS_STATE_DIR", "var/alerts"))
    p.add_argument("--mqtt-host", default=os.environ.get("VIGIL_MQTT_HOST", "127.0.0.1"))
    p.add_argument("--mqtt-port", type=int, default=int(os.environ.get("VIGIL_MQTT_PORT", "1883")))
    p.add_argument("--mqtt-user", default=os.environ.get("VIGIL_MQTT_USER", "vigil-service"))
    p.add_argument("--secrets", help="JSON file of MQTT passwords (else VIGIL_MQTT_PASSWORD)")
    p.add_argument("--client-id", default=os.environ.get("VIGIL_ALERTS_ID", "vigil-alerts-1"))
    p.add_argument("--influx-url", default=os.environ.get("VIGIL_INFLUX_URL", "http://127.0.0.1:8086"))
    p.add_argument("--influx-db", default=os.environ.get("VIGIL_INFLUX_DB", "vigil"))
    p.add_argument("--influx-rp", default=os.environ.get("VIGIL_INFLUX_RP"))
    p.add_argument("--influx-user", default=os.environ.get("VIGIL_INFLUX_USER"))
    p.add_argument("--no-influx", action="store_true", help="perimeter and gateway-status rules only")
    p.add_argument("--with-coverage", action="store_true", help="also run the coverage monitor in this process")
    p.add_argument("--metrics-port", type=int, default=int(os.environ.get("VIGIL_ALERTS_METRICS_PORT", "0")))
    p.add_argument("--summary-every", type=float, default=60.0, help="seconds between summary lines")
    return p


def main(argv: list[str] | None = None) -> None:
    """Wire the alert service together and run until SIGINT/SIGTERM."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    site = load_site(args.site)
    store = AlertStore(Path(args.state_dir) / f"alerts-{site.site.id}.db")
    source = None
    if not args.no_influx:
        client = InfluxClient(
            InfluxSettings(
                url=args.influx_url,
                database=args.influx_db,
                retention_policy=args.influx_rp,
                username=args.influx_user,
                password=os.environ.get("VIGIL_INFLUX_PASSWORD"),
                token=os.environ.get("VIGIL_INFLUX_TOKEN"),
            )
        )
        source = InfluxRegisterSource(client)
    password = _password(args)
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
        start_http_server(args.metrics_port, addr="127.0.0.1", registry=metrics.registry)
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
