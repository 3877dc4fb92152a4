"""Run the meter collector: `python -m collectors --site sites/demo.yaml ...`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
from pathlib import Path

from prometheus_client import start_http_server

from collectors.meters import MeterCollector, MqttSettings
from core.config import load_site
from ingest.deadletter import DeadLetterStore
from ingest.influx import InfluxClient, InfluxSettings
from ingest.metrics import IngestMetrics
from ingest.pipeline import Ingestor
from ingest.spool import Spool

logger = logging.getLogger("collectors")


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
    p = argparse.ArgumentParser(prog="python -m collectors", description=__doc__)
    p.add_argument("--site", required=True, help="site file (YAML)")
    p.add_argument("--mqtt-host", default=os.environ.get("VIGIL_MQTT_HOST", "127.0.0.1"))
    p.add_argument("--mqtt-port", type=int, default=int(os.environ.get("VIGIL_MQTT_PORT", "1883")))
    p.add_argument("--mqtt-user", default=os.environ.get("VIGIL_MQTT_USER", "collector"))
    p.add_argument("--secrets", help="JSON file of MQTT passwords (else VIGIL_MQTT_PASSWORD)")
    p.add_argument("--client-id", default=os.environ.get("VIGIL_COLLECTOR_ID", "vigil-collector-1"))
    p.add_argument("--shared-group", default=os.environ.get("VIGIL_SHARED_GROUP"))
    p.add_argument("--influx-url", default=os.environ.get("VIGIL_INFLUX_URL", "http://127.0.0.1:8086"))
    p.add_argument("--influx-db", default=os.environ.get("VIGIL_INFLUX_DB", "vigil"))
    p.add_argument("--influx-rp", default=os.environ.get("VIGIL_INFLUX_RP"))
    p.add_argument("--influx-user", default=os.environ.get("VIGIL_INFLUX_USER"))
    p.add_argument("--state-dir", default=os.environ.get("VIGIL_STATE_DIR", "var/collector"))
    p.add_argument("--metrics-port", type=int, default=int(os.environ.get("VIGIL_METRICS_PORT", "0")))
    p.add_argument("--summary-every", type=float, default=10.0, help="seconds between summary lines")
    return p


def main(argv: list[str] | None = None) -> None:
    """Wire the collector together and run until SIGINT/SIGTERM."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    site = load_site(args.site)
    state = Path(args.state_dir)
    metrics = IngestMetrics()
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
    ingestor = Ingestor(site, client, Spool(state / "spool.db"), DeadLetterStore(state / "deadletter.db"), metrics)
    settings = MqttSettings(
        host=args.mqtt_host,
        port=args.mqtt_port,
        username=args.mqtt_user,
        password=_password(args),
        client_id=args.client_id,
        shared_group=args.shared_group,
    )
    if args.metrics_port:
        start_http_server(args.metrics_port, addr="127.0.0.1", registry=metrics.registry)
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
