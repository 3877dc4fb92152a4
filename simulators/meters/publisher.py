"""Publish generated meter readings over MQTT v5: one paho client per gateway, QoS 1, every PUBACK awaited."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from core import topics
from simulators.meters.truth import Publication

logger = logging.getLogger(__name__)


class PublishError(Exception):
    """The broker refused the gateway, or did not acknowledge its publications in time."""


@dataclass(frozen=True, slots=True)
class GatewayStats:
    """What one gateway client did."""

    gateway: str
    sent: int
    acked: int
    refused: int  # PUBACKs with a failure reason code (e.g. not authorised)
    reconnects: int


class GatewaySimulator:
    """One gateway's MQTT v5 session: Last Will "offline", retained "online", QoS 1 with bounded in-flight."""

    def __init__(
        self,
        site_id: str,
        gateway: str,
        host: str,
        port: int,
        password: str,
        *,
        client_id: str | None = None,
        max_inflight: int = 200,
        keepalive: int = 30,
        session_expiry_s: int = 3600,
    ) -> None:
        if max_inflight < 1:
            raise ValueError("max_inflight must be >= 1")
        self.gateway, self.host, self.port = gateway, host, port
        self.status_topic = topics.gateway_status(site_id, gateway)
        self.max_inflight, self.keepalive, self.session_expiry_s = max_inflight, keepalive, session_expiry_s
        self._cond = threading.Condition()
        self._connected = False
        self._closing = False
        self._refusal: str | None = None
        self.sent = self.acked = self.refused = self.connects = 0
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            protocol=mqtt.MQTTv5,
            client_id=client_id or gateway,
        )
        client.username_pw_set(gateway, password)
        client.will_set(self.status_topic, b"offline", qos=1, retain=True)
        client.max_inflight_messages_set(max_inflight)
        client.reconnect_delay_set(min_delay=1, max_delay=8)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client

    # -- paho callbacks (network thread) ---------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            logger.error(
                "gateway %s: broker %s:%d refused the connection: %s", self.gateway, self.host, self.port, reason
            )
            with self._cond:
                self._refusal = str(reason)
                self._cond.notify_all()
            return
        logger.info("gateway %s: connected to %s:%d", self.gateway, self.host, self.port)
        with self._cond:
            self._connected = True
            self.connects += 1
            self._cond.notify_all()
        self._send(self.status_topic, b"online", retain=True, wait=False)  # never block the network thread

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        with self._cond:
            self._connected = False
            self._cond.notify_all()
        log = logger.info if self._closing else logger.warning
        log("gateway %s: disconnected (%s), unacked %d", self.gateway, reason, self.sent - self.acked)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._cond:
            self.acked += 1
            if reason.is_failure:
                self.refused += 1
                logger.warning("gateway %s: broker refused publication mid=%d: %s", self.gateway, mid, reason)
            self._cond.notify_all()

    # -- API -----------------------------------------------------------------------------------------

    def connect(self, timeout: float = 10.0) -> None:
        """Connect (clean_start False, so the session survives a broker restart) and start the network thread."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.session_expiry_s
        try:
            self._client.connect_async(self.host, self.port, self.keepalive, clean_start=False, properties=props)
        except (OSError, ValueError) as exc:
            raise PublishError(f"gateway {self.gateway}: cannot connect to {self.host}:{self.port}: {exc}") from exc
        self._client.loop_start()
        with self._cond:
            self._cond.wait_for(lambda: self._connected or self._refusal is not None, timeout)
            refusal, connected = self._refusal, self._connected
        if not connected:
            self._client.loop_stop()
            why = refusal or f"no CONNACK within {timeout} s"
            raise PublishError(f"gateway {self.gateway}: cannot connect to {self.host}:{self.port}: {why}")

    def publish(self, pub: Publication, timeout: float = 60.0) -> None:
        """Queue one publication, first waiting while max_inflight are unacknowledged (backpressure)."""
        self._send(pub.topic, pub.payload, retain=pub.retain, qos=pub.qos, timeout=timeout)

    def _send(
        self,
        topic: str,
        payload: bytes,
        *,
        retain: bool = False,
        qos: int = 1,
        timeout: float = 60.0,
        wait: bool = True,
    ) -> None:
        with self._cond:
            room = (lambda: self.sent - self.acked < self.max_inflight) if wait else (lambda: True)
            if not self._cond.wait_for(room, timeout):
                raise PublishError(f"gateway {self.gateway}: {self.max_inflight} publications unacked for {timeout} s")
            self.sent += 1
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            with self._cond:
                self.sent -= 1
            raise PublishError(f"gateway {self.gateway}: publish to {topic} failed: {mqtt.error_string(info.rc)}")

    def flush(self, timeout: float = 120.0) -> None:
        """Block until every publication so far is acknowledged (re-sent by paho after reconnects)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.acked >= self.sent, timeout):
                raise PublishError(
                    f"gateway {self.gateway}: {self.sent - self.acked} publications unacked after {timeout} s"
                )

    def close(self, announce_offline: bool = True, timeout: float = 10.0) -> None:
        """Say "offline" (retained) if asked, wait for acks, disconnect cleanly and stop the network thread."""
        try:
            if announce_offline and self._connected:
                self._send(self.status_topic, b"offline", retain=True, timeout=timeout)
                self.flush(timeout)
        except PublishError as exc:  # closing must not hide the error that made us close
            logger.warning("gateway %s: closing without a clean offline: %s", self.gateway, exc)
        finally:
            self._closing = True
            self._client.disconnect()
            self._client.loop_stop()

    def stats(self) -> GatewayStats:
        """Counters so far."""
        with self._cond:
            return GatewayStats(self.gateway, self.sent, self.acked, self.refused, max(0, self.connects - 1))


def pace(
    pubs: Iterable[Publication],
    mode: Literal["fast", "realtime"],
    start_ms: int,
    speed: float,
    stop: threading.Event,
    wall: Callable[[], float] = time.time,
) -> Iterator[Publication]:
    """Yield publications until `stop` is set: at once (fast), or paced (realtime).

    Realtime: a publication due at simulated time t goes out at wall origin + (t - start) / speed, but never
    before t itself, so a replay of the past at `speed` turns into a live feed once it catches up with now.
    """
    origin = wall()
    for pub in pubs:
        if stop.is_set():
            return
        if mode == "realtime":
            target = max(origin + (pub.due_ms - start_ms) / 1000 / speed, pub.due_ms / 1000)
            delay = target - wall()
            if delay > 0 and stop.wait(delay):
                return
        yield pub


def connect_all(
    site_id: str,
    gateways: Iterable[str],
    host: str,
    port: int,
    passwords: Mapping[str, str],
    timeout: float,
    **kwargs: Any,
) -> dict[str, GatewaySimulator]:
    """Connect one simulator per gateway; on any failure, close those already connected and re-raise."""
    sims: dict[str, GatewaySimulator] = {}
    try:
        for gw in gateways:
            if gw not in passwords:
                raise ValueError(f"no password for gateway {gw!r} in the secrets")
            sims[gw] = GatewaySimulator(site_id, gw, host, port, passwords[gw], **kwargs)
            sims[gw].connect(timeout)
    except BaseException:
        for sim in sims.values():
            sim.close(announce_offline=False)
        raise
    return sims
