"""Command-line options shared by every Vigil service: broker, secrets and InfluxDB."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def add_mqtt_args(parser: argparse.ArgumentParser, user: str, client_id: str, client_id_env: str) -> None:
    """Add --mqtt-host/--mqtt-port/--mqtt-user/--secrets/--client-id (environment variables as defaults)."""
    env = os.environ.get
    parser.add_argument("--mqtt-host", default=env("VIGIL_MQTT_HOST", "127.0.0.1"))
    parser.add_argument("--mqtt-port", type=int, default=int(env("VIGIL_MQTT_PORT", "1883")))
    parser.add_argument("--mqtt-user", default=env("VIGIL_MQTT_USER", user))
    parser.add_argument("--secrets", help="JSON file of MQTT passwords (else VIGIL_MQTT_PASSWORD)")
    parser.add_argument("--client-id", default=env(client_id_env, client_id))


def add_influx_args(parser: argparse.ArgumentParser) -> None:
    """Add --influx-url/--influx-db/--influx-rp/--influx-user (password and token only from the environment)."""
    env = os.environ.get
    parser.add_argument("--influx-url", default=env("VIGIL_INFLUX_URL", "http://127.0.0.1:8086"))
    parser.add_argument("--influx-db", default=env("VIGIL_INFLUX_DB", "vigil"))
    parser.add_argument("--influx-rp", default=env("VIGIL_INFLUX_RP"))
    parser.add_argument("--influx-user", default=env("VIGIL_INFLUX_USER"))


def mqtt_password(args: argparse.Namespace) -> str:
    """Return the MQTT password: VIGIL_MQTT_PASSWORD, else the --secrets file's entry for --mqtt-user."""
    env = os.environ.get("VIGIL_MQTT_PASSWORD")
    if env:
        return env
    if args.secrets:
        secrets: dict[str, str] = json.loads(Path(args.secrets).read_text(encoding="utf-8"))
        if args.mqtt_user not in secrets:
            raise SystemExit(f"no password for MQTT user {args.mqtt_user!r} in {args.secrets}")
        return secrets[args.mqtt_user]
    raise SystemExit("no MQTT password: set VIGIL_MQTT_PASSWORD or pass --secrets")
