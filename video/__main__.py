"""Run the video analyzer service: `python -m video --site sites/demo.yaml ...`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
from pathlib import Path

from prometheus_client import CollectorRegistry

from core.config import load_site
from core.logs import add_log_args, setup_logging
from ingest.influx import InfluxClient, settings_from_args
from video.reader import quiet_backend_logs
from video.service import (
    BrokerSettings,
    CameraRunner,
    InfluxHealthWriter,
    MetricsSettings,
    MqttHealthPublisher,
    SnapshotStore,
    VideoService,
)
from video.web import VideoCollector, make_server, serve_in_thread

logger = logging.getLogger("video")


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
    p = argparse.ArgumentParser(prog="python -m video", description=__doc__)
    p.add_argument("--site", required=True, help="site file (YAML) with a cameras section")
    p.add_argument("--cameras", help="comma-separated camera ids to analyse (default: all)")
    p.add_argument("--mqtt-host", default=os.environ.get("VIGIL_MQTT_HOST", "127.0.0.1"))
    p.add_argument("--mqtt-port", type=int, default=int(os.environ.get("VIGIL_MQTT_PORT", "1883")))
    p.add_argument("--mqtt-user", default=os.environ.get("VIGIL_MQTT_USER", "vigil-service"))
    p.add_argument("--secrets", help="JSON file of MQTT passwords (else VIGIL_MQTT_PASSWORD)")
    p.add_argument("--client-id", default=os.environ.get("VIGIL_VIDEO_ID", "vigil-video-1"))
    p.add_argument("--influx-url", default=os.environ.get("VIGIL_INFLUX_URL", "http://127.0.0.1:8086"))
    p.add_argument("--influx-db", default=os.environ.get("VIGIL_INFLUX_DB", "vigil"))
    p.add_argument("--influx-rp", default=os.environ.get("VIGIL_INFLUX_RP"))
    p.add_argument("--influx-user", default=os.environ.get("VIGIL_INFLUX_USER"))
    p.add_argument("--no-influx", action="store_true", help="do not write camera_health metrics")
    p.add_argument("--metrics-every", type=float, default=10.0, help="seconds between camera_health points")
    p.add_argument("--state-dir", default=os.environ.get("VIGIL_STATE_DIR", "var/video"))
    p.add_argument("--http-host", "--metrics-host", default=os.environ.get("VIGIL_METRICS_HOST", "127.0.0.1"))
    p.add_argument(
        "--public-url",
        default=os.environ.get("VIGIL_VIDEO_PUBLIC_URL"),
        help="base URL browsers reach the HTTP server at, for snapshot links (default: from --http-host/port)",
    )
    p.add_argument("--http-port", type=int, default=int(os.environ.get("VIGIL_VIDEO_HTTP_PORT", "9103")))
    p.add_argument("--summary-every", type=float, default=30.0, help="seconds between summary lines")
    add_log_args(p)
    return p


def _public_url(args: argparse.Namespace) -> str | None:
    """Base of the snapshot links: --public-url, else the HTTP server's own address (a wildcard bind is
    reached at the loopback address)."""
    if not args.http_port:
        return None
    if args.public_url:
        return str(args.public_url).rstrip("/")
    host = "127.0.0.1" if args.http_host in ("0.0.0.0", "::", "") else args.http_host
    return f"http://{host}:{args.http_port}"


def main(argv: list[str] | None = None) -> None:
    """Wire the analyzer service together and run until SIGINT/SIGTERM."""
    args = build_parser().parse_args(argv)
    setup_logging("video", args.log_format)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    quiet_backend_logs()
    site = load_site(args.site)
    cameras = site.cameras
    if args.cameras:
        wanted = set(args.cameras.split(","))
        unknown = wanted - {c.id for c in cameras}
        if unknown:
            raise SystemExit(f"unknown camera(s): {', '.join(sorted(unknown))}")
        cameras = [c for c in cameras if c.id in wanted]
    if not cameras:
        raise SystemExit(f"{args.site}: no cameras to analyse")
    state = Path(args.state_dir)
    base_url = _public_url(args)
    snapshots = SnapshotStore(state / "snapshots", base_url=base_url)
    publisher = MqttHealthPublisher(
        BrokerSettings(
            host=args.mqtt_host,
            port=args.mqtt_port,
            username=args.mqtt_user,
            password=_password(args),
            client_id=args.client_id,
        ),
        site.site.id,
    )
    influx = None
    if not args.no_influx:
        client = InfluxClient(settings_from_args(args))
        influx = InfluxHealthWriter(client, site.site.id, MetricsSettings(every_s=args.metrics_every))
    runners = {c.id: CameraRunner(c, publisher, snapshots, reference_dir=state / "reference") for c in cameras}
    service = VideoService(site.site.id, runners, publisher, influx)
    registry = CollectorRegistry()
    registry.register(VideoCollector(service))
    server = make_server(args.http_host, args.http_port, service, snapshots, registry) if args.http_port else None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    service.start()
    if server is not None:
        serve_in_thread(server)
    logger.info(
        "video analyzer: site %s, %d cameras, broker %s:%s, http %s",
        site.site.id,
        len(runners),
        args.mqtt_host,
        args.mqtt_port,
        base_url or "off",
    )
    while not stop.wait(args.summary_every):
        states: dict[str, int] = {}
        for runner in runners.values():
            key = runner.health.state.value if runner.health else "starting"
            states[key] = states.get(key, 0) + 1
        logger.info("summary: %s", " ".join(f"{k}={v}" for k, v in sorted(states.items())))
    logger.info("stopping video analyzer")
    if server is not None:
        server.shutdown()
        server.server_close()
    service.stop()


if __name__ == "__main__":
    main()
