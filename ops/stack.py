"""The whole platform on one machine: servers and Vigil services as supervised child processes."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from core.config import SiteConfig, load_site
from ops.broker import broker_accounts, write_broker_config
from ops.secrets import load_or_create_secrets
from ops.servers import InfluxDB, Mosquitto, ServerProcess, create_database

logger = logging.getLogger(__name__)


class PythonService(ServerProcess):
    """A Vigil service (`python -m module ...`) run as a child process."""

    def __init__(
        self,
        name: str,
        args: list[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        ready: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__(log_path, env=env)
        self.name = name
        self.args = args
        self._ready = ready

    def argv(self) -> list[str]:
        """Return the command line of the service."""
        return [sys.executable, "-m", *self.args]

    def is_ready(self) -> bool:
        """Return True once the service's readiness check passes (or at once without one)."""
        return self._ready() if self._ready else True


def demo_api_key(var: Path) -> str:
    """Return the demo operator key, creating it (hashed in the keys file, plaintext 0600 beside it) once."""
    from api.auth import Role, add_key, remove_key

    plain = var / "demo-api-key"
    if plain.exists():
        return plain.read_text(encoding="utf-8").strip()
    remove_key(var / "api-keys.json", "demo-operator")  # its plaintext is lost: issue a new one
    key = add_key(var / "api-keys.json", "demo-operator", Role.OPERATOR)
    plain.touch(mode=0o600)
    plain.write_text(key + "\n", encoding="utf-8")
    return key


def http_ok(url: str) -> Callable[[], bool]:
    """Return a readiness check that GETs `url` and expects 200."""

    def check() -> bool:
        try:
            return httpx.get(url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    return check


@dataclass(frozen=True, slots=True)
class StackSettings:
    """Where the local platform keeps its data and which loopback ports it uses."""

    site_path: Path
    var: Path = Path("var")
    mqtt_port: int = 1883
    influx_port: int = 8086
    collector_metrics_port: int = 9101
    alerts_metrics_port: int = 9102
    api_port: int = 8000
    camera_port: int = 8554  # the camera simulator's MJPEG server (the demo site's camera URLs point here)
    video_http_port: int = 9103
    database: str = "vigil"
    simulate: bool = True
    sim_speed: float = 300.0  # simulated seconds per wall second
    seed: int = 1
    cameras: tuple[str, ...] | None = None  # cameras to simulate and analyse; None: all of the site's
    camera_size: str = "480x270"  # the camera simulator's picture, WIDTHxHEIGHT
    camera_fps: float = 5.0
    simulate_meters: bool = True  # False when something else publishes the readings (bench/soak.py)
    api: bool = True


@dataclass
class Stack:
    """Start and stop everything in order; `services` lists what runs, in start order."""

    settings: StackSettings
    site: SiteConfig = field(init=False)
    services: list[ServerProcess] = field(default_factory=list)
    demo_key: str = ""
    passwords: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.site = load_site(self.settings.site_path)
        wanted = self.settings.cameras
        known = {c.id for c in self.site.cameras}
        if wanted is not None and not set(wanted) <= known:
            raise ValueError(f"unknown camera(s) {sorted(set(wanted) - known)} for site {self.site.site.id}")

    @property
    def cameras(self) -> list[str]:
        """The ids of the cameras this stack simulates and analyses."""
        wanted = self.settings.cameras
        return [c.id for c in self.site.cameras if wanted is None or c.id in wanted]

    def service(self, name: str) -> ServerProcess:
        """Return the running service called `name` (e.g. "collector", "mosquitto", "influxd")."""
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(f"no service {name!r} in this stack")

    @property
    def secrets_path(self) -> Path:
        return self.settings.var / "secrets.json"

    @property
    def influx_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.influx_port}"

    def start(self, progress: Callable[[str], None] = print) -> None:
        """Start servers, then services, waiting for each to be ready."""
        s = self.settings
        var = s.var.resolve()
        passwords = self.passwords = load_or_create_secrets(self.secrets_path, broker_accounts(self.site))
        conf = write_broker_config(var / "mosquitto", self.site, passwords, s.mqtt_port)
        self._launch(Mosquitto(conf, s.mqtt_port), progress, f"MQTT broker on 127.0.0.1:{s.mqtt_port}")
        self._launch(InfluxDB(var / "influxdb", s.influx_port), progress, f"InfluxDB on {self.influx_url}")
        create_database(self.influx_url, s.database)
        common = ["--site", str(s.site_path.resolve())]
        # What every backend service (collector, analyzer, alerts, API) is told about the site and servers.
        backend = [*common, "--mqtt-port", str(s.mqtt_port), "--influx-url", self.influx_url, "--influx-db", s.database]
        metrics_url = f"http://127.0.0.1:{s.collector_metrics_port}/metrics"
        collector = PythonService(
            "collector",
            [
                "collectors",
                *backend,
                "--state-dir",
                str(var / "collector"),
                "--metrics-port",
                str(s.collector_metrics_port),
            ],
            var / "logs" / "collector.log",
            env={"VIGIL_MQTT_PASSWORD": passwords["collector"]},
            ready=http_ok(metrics_url),
        )
        self._launch(collector, progress, f"meter collector (metrics {metrics_url})")
        cameras = self.cameras
        if cameras:
            if s.simulate:
                cams = PythonService(
                    "camera-simulator",
                    [
                        "simulators.cameras",
                        "serve",
                        *common,
                        "--port",
                        str(s.camera_port),
                        "--seed",
                        str(s.seed),
                        "--fps",
                        f"{s.camera_fps:g}",
                        "--size",
                        s.camera_size,
                    ],
                    var / "logs" / "camera-simulator.log",
                    ready=http_ok(f"http://127.0.0.1:{s.camera_port}/cams"),
                )
                self._launch(
                    cams,
                    progress,
                    f"camera simulators ({len(cameras)} MJPEG streams watched, {s.camera_size}, on :{s.camera_port})",
                )
            subset = [] if len(cameras) == len(self.site.cameras) else ["--cameras", ",".join(cameras)]
            video_url = f"http://127.0.0.1:{s.video_http_port}"
            video = PythonService(
                "video-analyzer",
                [
                    "video",
                    *backend,
                    "--state-dir",
                    str(var / "video"),
                    "--http-port",
                    str(s.video_http_port),
                    *subset,
                ],
                var / "logs" / "video.log",
                env={"VIGIL_MQTT_PASSWORD": passwords["vigil-service"]},
                ready=http_ok(f"{video_url}/metrics"),
            )
            self._launch(video, progress, f"video analyzer ({len(cameras)} cameras, {video_url}/health)")
        alerts_metrics = f"http://127.0.0.1:{s.alerts_metrics_port}/metrics"
        alerts = PythonService(
            "alerts",
            [
                "alerts",
                *backend,
                "--mqtt-user",
                "vigil-service",
                "--state-dir",
                str(var / "alerts"),
                "--with-coverage",
                "--metrics-port",
                str(s.alerts_metrics_port),
            ],
            var / "logs" / "alerts.log",
            env={"VIGIL_MQTT_PASSWORD": passwords["vigil-service"]},
            ready=http_ok(alerts_metrics),
        )
        self._launch(alerts, progress, f"alert engine + perimeter coverage (metrics {alerts_metrics})")
        if s.api:
            self._start_api(backend, passwords, progress)
        if s.simulate and s.simulate_meters:
            self._start_meter_simulator(common, progress)

    def _start_api(self, backend: list[str], passwords: dict[str, str], progress: Callable[[str], None]) -> None:
        s = self.settings
        var = s.var.resolve()
        api_health = f"http://127.0.0.1:{s.api_port}/api/v1/health"
        api = PythonService(
            "api",
            [
                "api",
                "serve",
                *backend,
                "--host",
                "127.0.0.1",
                "--port",
                str(s.api_port),
                "--mqtt-user",
                "vigil-service",
                "--alerts-db",
                str(var / "alerts" / f"alerts-{self.site.site.id}.db"),
                "--keys-file",
                str(var / "api-keys.json"),
            ],
            var / "logs" / "api.log",
            env={"VIGIL_MQTT_PASSWORD": passwords["vigil-service"]},
            ready=http_ok(api_health),
        )
        self.demo_key = demo_api_key(var)
        self._launch(api, progress, f"energy API and alert screen on http://127.0.0.1:{s.api_port}")

    def _start_meter_simulator(self, common: list[str], progress: Callable[[str], None]) -> None:
        s = self.settings
        simulator = PythonService(
            "meter-simulator",
            [
                "simulators.meters",
                *common,
                "--port",
                str(s.mqtt_port),
                "--secrets",
                str(self.secrets_path),
                "--seed",
                str(s.seed),
                "--mode",
                "realtime",
                "--speed",
                str(s.sim_speed),
                "--faults",
                "duplicates,reorder,malformed,bad-readings",
            ],
            s.var.resolve() / "logs" / "meter-simulator.log",
        )
        self._launch(simulator, progress, f"meter gateway simulators ({len(self.site.gateways)} gateways)")

    def stop(self) -> None:
        """Stop everything in reverse start order."""
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception:
                logger.exception("stopping %s failed", service.name)
        self.services.clear()

    def dead(self) -> list[str]:
        """Names of services that have exited."""
        return [service.name for service in self.services if not service.running]

    def _launch(self, service: ServerProcess, progress: Callable[[str], None], what: str) -> None:
        progress(f"  starting {what} ...")
        started = time.monotonic()
        service.start()
        self.services.append(service)
        service.wait_ready(60)
        progress(f"  ok   {what} ({time.monotonic() - started:.1f} s, log {service.log_path})")
