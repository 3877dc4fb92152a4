"""Static checks of docker-compose.yml (no Docker engine needed): health, restarts, secrets, commands, images."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"

#: Environment variable names that carry credentials.
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|API_KEY|CREDENTIAL", re.IGNORECASE)
#: A whole-value compose interpolation without a default (`${NAME}` or `${NAME:?message}`).
REFERENCE = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*(?::?\?[^}]*)?\}$")
#: The servers are images of their own; every other service runs the Vigil image.
THIRD_PARTY = {"mosquitto", "influxdb"}


def load() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(doc, dict) and isinstance(doc.get("services"), dict)
    return doc


SERVICES = load()["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["NAME=value", ...]
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def test_the_platform_services_are_all_there() -> None:
    assert {"mosquitto", "influxdb", "collector", "alerts", "video", "api"} <= set(SERVICES)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_healthcheck_and_restarts(name: str) -> None:
    service = SERVICES[name]
    check = service.get("healthcheck")
    assert check and not check.get("disable") and check.get("test"), f"{name} has no healthcheck"
    assert service.get("restart") in ("unless-stopped", "always"), f"{name} restart policy"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_no_literal_secret_in_the_environment(name: str) -> None:
    for key, value in environment(SERVICES[name]).items():
        if SECRET_NAME.search(key):
            assert REFERENCE.match(value), f"{name}: {key} must be a ${{...}} reference without default, not {value!r}"


def test_secret_detection_rejects_literals() -> None:
    assert REFERENCE.match("${VIGIL_MQTT_COLLECTOR_PASSWORD:?set it}")
    assert REFERENCE.match("${VIGIL_INFLUX_PASSWORD}")
    assert not REFERENCE.match("hunter2")
    assert not REFERENCE.match("${VIGIL_INFLUX_PASSWORD:-hunter2}")
    assert not REFERENCE.match("x${VIGIL_INFLUX_PASSWORD}")


def _module_exists(module: str) -> bool:
    path = ROOT.joinpath(*module.split("."))
    return (path / "__main__.py").is_file() or path.with_suffix(".py").is_file()


@pytest.mark.parametrize("name", sorted(set(SERVICES) - THIRD_PARTY))
def test_every_command_runs_a_module_of_the_repository(name: str) -> None:
    command = SERVICES[name].get("command")
    assert isinstance(command, list) and command, f"{name}: command must be an exec-form list"
    assert command[:2] == ["python", "-m"], f"{name}: expected `python -m MODULE ...`, got {command[:3]}"
    module = command[2]
    assert _module_exists(module), f"{name}: module {module} has no {module.replace('.', '/')}/__main__.py"
    build = SERVICES[name].get("build") or {}
    assert (ROOT / build.get("dockerfile", "")).is_file(), f"{name}: Dockerfile missing"


def test_module_check_rejects_missing_modules() -> None:
    assert _module_exists("collectors")
    assert not _module_exists("no_such_package")


def test_influxdb_is_1x_with_auth_and_no_reporting() -> None:
    influx = SERVICES["influxdb"]
    image = influx["image"]
    assert re.fullmatch(r"influxdb:1(\.\d+)*(-alpine)?", image), f"{image} does not serve the v1 API"
    env = environment(influx)
    assert env["INFLUXDB_DB"] == "vigil"
    assert env["INFLUXDB_HTTP_AUTH_ENABLED"] == "true"
    assert env["INFLUXDB_REPORTING_DISABLED"] == "true"


def test_only_mqtt_is_published_beyond_loopback() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports") or []:
            if name != "mosquitto":
                assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_bind_mounted_deploy_files_exist() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes") or []:
            source = str(volume).split(":", 1)[0]
            if source.startswith("./deploy/") and not source.startswith("./deploy/mosquitto/generated"):
                assert (ROOT / source).is_file(), f"{name} mounts missing {source}"
