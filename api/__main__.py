"""The API process and its tools.

python -m api serve  --site sites/demo.yaml [--influx-url URL] [--host 127.0.0.1] [--port 8000]
                     [--mqtt-port 1883 --secrets var/secrets.json] [--alerts-db var/alerts/alerts-{site}.db]
                     [--no-alerts]   # energy API only: no alerts, cameras, perimeter or alert screen
python -m api keys add --name NAME --role reader|operator|admin   # prints the new key once
python -m api keys list | keys remove --name NAME
python -m api rollup --site sites/demo.yaml [--from YYYY-MM-DD]   # (re)build the consumption rollups
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from api.auth import Role, add_key, build_keystore, load_keys_file, remove_key
from core.cli import add_influx_args, add_mqtt_args, mqtt_password
from core.config import SiteConfig, load_site
from core.logs import add_log_args, setup_logging
from ingest.influx import InfluxSettings, settings_from_args

if TYPE_CHECKING:
    from api.deps import AlertServices

logger = logging.getLogger("api")
DEFAULT_KEYS = os.environ.get("VIGIL_API_KEYS_FILE", "var/api-keys.json")


def _influx_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--site", required=True, help="site file (YAML)")
    add_influx_args(p)


def _influx(args: argparse.Namespace) -> InfluxSettings:
    return settings_from_args(args, timeout_s=60.0)


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = argparse.ArgumentParser(prog="python -m api", description="Vigil HTTP API")
    add_log_args(p)
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API")
    _influx_args(serve)
    serve.add_argument("--host", default=os.environ.get("VIGIL_API_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("VIGIL_API_PORT", "8000")))
    serve.add_argument("--keys-file", default=DEFAULT_KEYS, help="hashed API keys (plus VIGIL_API_KEYS)")
    serve.add_argument("--rollup-every", type=float, default=300.0, help="seconds between rollup runs; 0: never")
    serve.add_argument("--log-level", default="info")
    add_mqtt_args(serve, "vigil-service", "vigil-api-live-1", "VIGIL_API_CLIENT_ID")
    serve.add_argument("--alerts-db", help="the alert service's SQLite file (default var/alerts/alerts-{site}.db)")
    serve.add_argument(
        "--no-alerts", action="store_true", help="energy endpoints only: no alerts, cameras, perimeter, screen"
    )

    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    add = keys_sub.add_parser("add", help="create a key and print it once")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=[r.name.lower() for r in Role])
    add.add_argument("--keys-file", default=DEFAULT_KEYS)
    lst = keys_sub.add_parser("list", help="names and roles of the stored keys")
    lst.add_argument("--keys-file", default=DEFAULT_KEYS)
    rm = keys_sub.add_parser("remove", help="delete a key by name")
    rm.add_argument("--name", required=True)
    rm.add_argument("--keys-file", default=DEFAULT_KEYS)

    rollup = sub.add_parser("rollup", help="(re)build the hourly and daily consumption rollups")
    _influx_args(rollup)
    rollup.add_argument("--from", dest="start", help="rebuild from this local date (default: continue)")
    return p


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from api.app import ALERT_ROUTERS, SCREEN_PAGES, ApiSettings, create_app
    from api.energy.rollup import RollupSettings

    site = load_site(args.site)
    keys = build_keystore(Path(args.keys_file))
    settings = ApiSettings(site=site, influx=_influx(args), rollup=RollupSettings(every_s=args.rollup_every))
    if args.no_alerts:
        app = create_app(settings, keys)
    else:
        alerting = _alerting(args, site)
        app = create_app(
            settings,
            keys,
            routers=ALERT_ROUTERS,
            pages=SCREEN_PAGES,
            state={"alerting": alerting},
            workers=[alerting.live],
        )
    logger.info("serving site %s on http://%s:%d/api/v1 (%d API keys)", site.site.id, args.host, args.port, len(keys))
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, log_config=None)


def _alerting(args: argparse.Namespace, site: SiteConfig) -> AlertServices:
    from alerts.coverage.model import Coverage
    from alerts.engine.store import AlertStore
    from api.deps import AlertServices
    from api.live import LiveSettings, LiveState

    db = Path(args.alerts_db or f"var/alerts/alerts-{site.site.id}.db")
    live = LiveState(
        site,
        LiveSettings(
            host=args.mqtt_host,
            port=args.mqtt_port,
            username=args.mqtt_user,
            password=mqtt_password(args),
            client_id=args.client_id,
        ),
    )
    logger.info("alerts of %s from %s; live state from %s:%d", site.site.id, db, args.mqtt_host, args.mqtt_port)
    return AlertServices(AlertStore(db), live, Coverage(site))


def _rollup(args: argparse.Namespace) -> None:
    from api.energy.calendar import parse_local_hour
    from api.energy.raw import RawReader
    from api.energy.rollup import Rollup
    from api.energy.store import EnergyStore
    from ingest.influx import InfluxClient

    site = load_site(args.site)
    with InfluxClient(_influx(args)) as client:
        store = EnergyStore(client, site)
        rollup = Rollup(store, RawReader(site, store))
        if args.start:
            try:
                start = parse_local_hour(args.start, site.tz)
            except ValueError as exc:
                raise SystemExit(f"--from {args.start}: {exc}") from None
            run = rollup.build(start, rollup.settled_ms(int(rollup.clock() * 1000)))
        else:
            run = rollup.run()
    if run is None:
        print("nothing to roll up")
    else:
        print(f"rolled up {run.hours} meter-hours and {run.days} meter-days in {run.seconds:.1f} s")


def _keys(args: argparse.Namespace) -> None:
    path = Path(args.keys_file)
    if args.keys_command == "add":
        try:
            key = add_key(path, args.name, Role.parse(args.role))
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
        print(f"API key {args.name!r} ({args.role}) stored hashed in {path}. Copy it now; it is not shown again:")
        print(key)
    elif args.keys_command == "list":
        for record in load_keys_file(path):
            print(f"{record.name}\t{record.role}\t{record.id}\t{record.created}")
    elif not remove_key(path, args.name):
        raise SystemExit(f"no API key named {args.name!r} in {path}")


def main(argv: list[str] | None = None) -> None:
    """Dispatch the sub-command."""
    args = build_parser().parse_args(argv)
    setup_logging("api", args.log_format)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per InfluxDB request otherwise
    try:
        {"serve": _serve, "keys": _keys, "rollup": _rollup}[args.command](args)
    except ValueError as exc:  # a bad site file or keys file: say which, without a traceback
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
