"""Real Mosquitto and InfluxDB servers run as plain child processes (tests, demo, local runs)."""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import weakref
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

import httpx

logger = logging.getLogger(__name__)

MOSQUITTO = "/usr/sbin/mosquitto"
INFLUXD = "/usr/bin/influxd"

_live: weakref.WeakSet[ServerProcess] = weakref.WeakSet()
_spawner: ThreadPoolExecutor | None = None
_spawner_lock = threading.Lock()


class ServerError(RuntimeError):
    """A server process failed to start, exited early, or refused a request."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A server child process with graceful stop, hard kill and restart; stop/kill are idempotent."""

    name = "server"

    def __init__(self, log_path: Path, env: Mapping[str, str] | None = None) -> None:
        self.log_path = Path(log_path)
        self.env = dict(env or {})  # added to the parent's environment (e.g. a secret for a service)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def argv(self) -> list[str]:
        """Return the command line that starts the server."""
        raise NotImplementedError

    def is_ready(self) -> bool:
        """Return True once the server answers requests."""
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        """The process id while running, else None."""
        return self._proc.pid if self.running and self._proc else None

    @property
    def running(self) -> bool:
        """True while the child process has not exited."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the process (no-op if already running); call wait_ready() before using it."""
        if self.running:
            return
        self._close_log()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self._proc = _spawn(self.argv(), self._log, {**os.environ, **self.env})
        _live.add(self)
        logger.info("%s started: pid %d, log %s", self.name, self._proc.pid, self.log_path)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the server answers, or raise ServerError with the log tail."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise ServerError(f"{self.name} exited early (rc={self._rc()}); log tail:\n{self.log_tail()}")
            if self.is_ready():
                return
            if time.monotonic() > deadline:
                raise ServerError(f"{self.name} not ready after {timeout:.0f}s; log tail:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop gracefully with SIGTERM (the server flushes its state); SIGKILL if it hangs."""
        if self.running and self._proc is not None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("%s pid %d ignored SIGTERM for %.0fs; killing", self.name, self._proc.pid, timeout)
                self._proc.kill()
                self._proc.wait()
            logger.info("%s stopped (rc=%s)", self.name, self._rc())
        self._close_log()

    def kill(self) -> None:
        """Kill with SIGKILL: a crash, nothing is flushed."""
        if self.running and self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            logger.info("%s killed", self.name)
        self._close_log()

    def restart(self, timeout: float = 30.0) -> None:
        """Stop gracefully, start again on the same ports and wait until ready."""
        self.stop()
        self.start()
        self.wait_ready(timeout)

    def log_tail(self, max_bytes: int = 4000) -> str:
        """Return the end of the process's log file."""
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(max(0, handle.seek(0, os.SEEK_END) - max_bytes))
                return handle.read().decode("utf-8", "replace")
        except OSError:
            return "<no log>"

    def _rc(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class Mosquitto(ServerProcess):
    """A Mosquitto broker started from a generated mosquitto.conf."""

    name = "mosquitto"

    def __init__(self, conf: Path, port: int, host: str = "127.0.0.1", executable: str = MOSQUITTO) -> None:
        conf = Path(conf)
        super().__init__(conf.parent / "mosquitto.stderr.log")
        self.conf = conf
        self.port = port
        self.host = host
        self.executable = executable

    def argv(self) -> list[str]:
        """Return the command line that starts the broker."""
        return [self.executable, "-c", str(self.conf)]

    def log_text(self) -> str:
        """Return the broker's own log (the conf's `log_dest file`), or "" if there is none yet."""
        try:
            for line in self.conf.read_text(encoding="utf-8").splitlines():
                if line.startswith("log_dest file "):
                    return Path(line.removeprefix("log_dest file ").strip()).read_text(errors="replace")
        except OSError:
            pass
        return ""

    def is_ready(self) -> bool:
        """Return True once the listener accepts TCP connections."""
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False


class InfluxDB(ServerProcess):
    """An InfluxDB 1.x server with its own config, data and ports under `data_dir`."""

    name = "influxd"

    def __init__(
        self,
        data_dir: Path,
        http_port: int,
        bind: str = "127.0.0.1",
        auth_enabled: bool = False,
        executable: str = INFLUXD,
    ) -> None:
        data_dir = Path(data_dir).resolve()
        super().__init__(data_dir / "influxd.log")
        self.data_dir = data_dir
        self.http_port = http_port
        self.bind = bind
        self.auth_enabled = auth_enabled
        self.executable = executable
        self.rpc_port = free_port(bind)  # backup/RPC port; the default 8088 would collide
        self.conf = data_dir / "influxdb.conf"

    @property
    def url(self) -> str:
        """Base URL of the HTTP API."""
        return f"http://{self.bind}:{self.http_port}"

    def render_conf(self) -> str:
        """Return influxdb.conf text for this server."""
        d = self.data_dir
        # Debian's influxd spells the phone-home switch `reporting-enabled`; upstream uses
        # `reporting-disabled`. Both are written; influxd ignores keys it does not know.
        return "\n".join(
            [
                "reporting-enabled = false",
                "reporting-disabled = true",
                f'bind-address = "{self.bind}:{self.rpc_port}"',
                "",
                "[meta]",
                f'  dir = "{d / "meta"}"',
                "  logging-enabled = false",
                "",
                "[data]",
                f'  dir = "{d / "data"}"',
                f'  wal-dir = "{d / "wal"}"',
                "  query-log-enabled = false",
                "",
                "[monitor]",
                "  store-enabled = false",
                "",
                "[http]",
                f'  bind-address = "{self.bind}:{self.http_port}"',
                f"  auth-enabled = {'true' if self.auth_enabled else 'false'}",
                "  log-enabled = false",
                "",
                "[continuous_queries]",
                "  log-enabled = false",
                "",
                "[logging]",
                '  level = "warn"',
                "  suppress-logo = true",
                "",
            ]
        )

    def argv(self) -> list[str]:
        """Return the command line that starts influxd, writing its config first."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(self.render_conf(), encoding="utf-8")
        return [self.executable, "-config", str(self.conf)]

    def is_ready(self) -> bool:
        """Return True once GET /ping answers 204."""
        try:
            return httpx.get(f"{self.url}/ping", timeout=1.0).status_code == 204
        except httpx.HTTPError:
            return False


_RETENTION = re.compile(r"^(INF|[0-9]+(ns|u|µ|ms|s|m|h|d|w))+$")


def create_database(
    url: str,
    name: str,
    retention: str | None = None,
    auth: tuple[str, str] | None = None,
    timeout: float = 10.0,
) -> None:
    """Create an InfluxDB 1.x database with an optional default retention; repeating a call is a no-op."""
    if not name:
        raise ValueError("database name must not be empty")
    query = f"CREATE DATABASE {quote_ident(name)}"
    if retention is not None:
        if not _RETENTION.match(retention):
            raise ValueError(f"invalid retention duration {retention!r}")
        query += f" WITH DURATION {retention}"
    try:
        response = httpx.post(f"{url}/query", data={"q": query}, auth=auth, timeout=timeout)
    except httpx.HTTPError as exc:
        raise ServerError(f"InfluxDB at {url} unreachable creating database {name!r}: {exc}") from exc
    errors = _query_errors(response)
    if response.status_code >= 300 or errors:
        raise ServerError(f"InfluxDB at {url} refused {query!r}: HTTP {response.status_code} {errors}")
    logger.info("InfluxDB database %s ready at %s (retention %s)", name, url, retention or "default")


def quote_ident(name: str) -> str:
    """Quote an InfluxQL identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _query_errors(response: httpx.Response) -> list[str]:
    try:
        body = response.json()
    except (json.JSONDecodeError, ValueError):
        return [] if response.status_code < 300 else [response.text[:200]]
    errors = [body["error"]] if isinstance(body, dict) and "error" in body else []
    for result in body.get("results", []) if isinstance(body, dict) else []:
        if isinstance(result, dict) and "error" in result:
            errors.append(str(result["error"]))
    return errors


def _spawn(argv: list[str], log: IO[bytes], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    # PR_SET_PDEATHSIG (via setpriv) makes the kernel SIGTERM the server when its parent *thread*
    # dies, so a SIGKILLed test run leaves no orphans. Spawning from one long-lived thread keeps a
    # short-lived caller thread (a timer restarting the broker) from taking the server with it.
    setpriv = shutil.which("setpriv")
    if setpriv:
        argv = [setpriv, "--pdeathsig", "TERM", "--", *argv]

    def popen() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=False,  # same process group: Ctrl-C reaches the servers too
            close_fds=True,
        )

    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vigil-spawner")
        spawner = _spawner
    return spawner.submit(popen).result()


@atexit.register
def _stop_all() -> None:
    for server in list(_live):
        try:
            server.stop(timeout=5.0)
        except Exception:
            logger.exception("cleanup of %s failed", server.name)
