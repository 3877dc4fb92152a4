"""Static checks of docker-compose.yml (no Docker engine needed): health, restarts, secrets, commands, images."""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shutil
import subprocess
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


#: `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?message}`, `${NAME?message}`.
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*)|(:?\?)[^}]*)?\}")


def interpolate(text: str) -> str:
    """What compose substitutes when every variable is unset except the required ones (set to "x")."""
    return INTERPOLATION.sub(lambda m: m.group(3) if m.group(2) else "x", text)


def test_interpolate() -> None:
    assert interpolate("${A:-9101}") == "9101"
    assert interpolate("alerts-${VIGIL_SITE_ID:?set it}.db") == "alerts-x.db"
    assert interpolate("${B}") == "x"


def _parser(module: str) -> argparse.ArgumentParser:
    parser = importlib.import_module(f"{module}.__main__").build_parser()
    assert isinstance(parser, argparse.ArgumentParser)
    return parser


@pytest.mark.parametrize("name", sorted(set(SERVICES) - THIRD_PARTY))
def test_every_command_is_accepted_by_its_module_parser(name: str) -> None:
    command = [interpolate(str(part)) for part in SERVICES[name]["command"]]
    parser = _parser(command[2])
    try:
        parser.parse_args(command[3:])
    except SystemExit as exc:  # argparse exits 2 on an unknown option or a bad value
        pytest.fail(f"{name}: `{' '.join(command)}` is refused by {command[2]}'s parser (exit {exc.code})")


def test_the_parser_check_catches_an_unknown_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser("collectors").parse_args(["--site", "s.yaml", "--metrics-hots", "0.0.0.0"])
    assert "unrecognized arguments" in capsys.readouterr().err


def _option(command: list[str], option: str) -> str | None:
    return command[command.index(option) + 1] if option in command else None


@pytest.mark.parametrize("name", ["collector", "collector-2", "alerts", "video"])
def test_metrics_listen_beyond_the_container_and_the_healthcheck_scrapes_them(name: str) -> None:
    command = [str(part) for part in SERVICES[name]["command"]]
    assert _option(command, "--metrics-host") == "0.0.0.0", f"{name}: Prometheus could not scrape it"
    port = _option(command, "--metrics-port") or _option(command, "--http-port")
    check = " ".join(SERVICES[name]["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/metrics" in check, f"{name}: healthcheck does not scrape port {port}"
    published = [str(p) for p in SERVICES[name].get("ports") or []]
    assert any(interpolate(p).endswith(f":{port}") for p in published), f"{name}: metrics port not published"


def test_published_host_ports_do_not_collide() -> None:
    hosts = [interpolate(str(p)).rsplit(":", 1)[0] for service in SERVICES.values() for p in service.get("ports") or []]
    assert len(hosts) == len(set(hosts)), hosts


def _compose_cli() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")
    text = COMPOSE.read_text(encoding="utf-8")
    if cli == ["docker-compose"]:
        # Compose v1 (Debian's docker-compose 1.29) predates the top-level `name:` of the Compose spec.
        text = re.sub(r"(?m)^name: .*\n", "", text)
    copy = tmp_path / "docker-compose.yml"
    copy.write_text(text, encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        **{m.group(1): "x" for m in INTERPOLATION.finditer(text) if m.group(4)},
    }
    run = subprocess.run(
        [*cli, "-f", str(copy), "--project-directory", str(ROOT), "--profile", "scale-out", "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
