"""Run the meter collector: `python -m collectors --site sites/demo.yaml ...`."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from pathlib import Path

from prometheus_client import start_http_server

from collectors.meters import MeterCollector, MqttSettings
from core.cli import add_influx_args, add_mqtt_args, mqtt_password
from core.config import load_site
from core.logs import add_log_args, setup_logging
from ingest.deadletter import DeadLetterStore
from ingest.influx import InfluxClient, settings_from_args
from ingest.metrics import IngestMetrics
from ingest.pipeline import Ingestor
from ingest.spool import Spool

logger = logging.getLogger("collectors")


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = argparse.ArgumentParser(prog="python -m collectors", description=__doc__)
    p.add_argument("--site", required=True, help="site file (YAML)")
    add_mqtt_args(p, "collector", "vigil-collector-1", "VIGIL_COLLECTOR_ID")
    p.add_argument("--shared-group", default=os.environ.get("VIGIL_SHARED_GROUP"))
    add_influx_args(p)
    p.add_argument("--state-dir", default=os.environ.get("VIGIL_STATE_DIR", "var/collector"))
    p.add_argument("--metrics-port", type=int, default=int(os.environ.get("VIGIL_METRICS_PORT", "0")))
    p.add_argument(
        "--metrics-host",
        default=os.environ.get("VIGIL_METRICS_HOST", "127.0.0.1"),
        help="address the metrics server binds (0.0.0.0 for a Prometheus outside the container)",
    )
    p.add_argument("--summary-every", type=float, default=10.0, help="seconds between summary lines")
    add_log_args(p)
    return p


def main(argv: list[str] | None = None) -> None:
    """Wire the collector together and run until SIGINT/SIGTERM."""
    args = build_parser().parse_args(argv)
    setup_logging("collector", args.log_format)
    site = load_site(args.site)
    state = Path(args.state_dir)
    metrics = IngestMetrics()
    client = InfluxClient(settings_from_args(args))
    ingestor = Ingestor(site, client, Spool(state / "spool.db"), DeadLetterStore(state / "deadletter.db"), metrics)
    settings = MqttSettings(
        host=args.mqtt_host,
        port=args.mqtt_port,
        username=args.mqtt_user,
        password=mqtt_password(args),
        client_id=args.client_id,
        shared_group=args.shared_group,
    )
    if args.metrics_port:
        start_http_server(args.metrics_port, addr=args.metrics_host, registry=metrics.registry)
    collector = MeterCollector(settings, site.site.id, ingestor)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    collector.start()
    logger.info(
        "collector %s: site %s, broker %s:%s, InfluxDB %s/%s",
        settings.client_id,
        site.site.id,
        settings.host,
        settings.port,
        args.influx_url,
        args.influx_db,
    )
    while not stop.wait(args.summary_every):
        s = metrics.snapshot()
        logger.info(
            "summary: messages=%d readings=%d written=%d spooled=%d replayed=%d rejected=%d spool=%d influx=%s",
            s["messages"],
            s["readings"],
            s["written"],
            s["spooled"],
            s["replayed"],
            s["rejected_parse"] + s["rejected_store"],
            s["spool_depth"],
            "up" if ingestor.sink_up else "DOWN",
        )
    logger.info("stopping collector %s", settings.client_id)
    collector.stop()


if __name__ == "__main__":
    main()
