"""The meter collector: gateway readings from MQTT, acknowledged only once they are durable."""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from core import topics
from core.types import InboundMessage
from ingest.pipeline import Ingestor

logger = logging.getLogger(__name__)

_PUBLISH = 0x30  # MQTT fixed-header packet type of PUBLISH, in the high nibble


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """How the collector reaches the broker."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str = "collector"
    password: str = ""
    client_id: str = "vigil-collector-1"
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 24 * 3600  # without it the broker drops the session on disconnect
    receive_maximum: int = 4000  # unacked QoS 1 messages the broker may have in flight to us
    shared_group: str | None = None  # MQTT v5 shared subscription group, for scale-out


class MeterCollector:
    """Subscribe to every gateway's readings, store them through an Ingestor, then acknowledge."""

    def __init__(
        self,
        settings: MqttSettings,
        site_id: str,
        ingestor: Ingestor,
        *,
        max_batch_bytes: int = 2 * 1024 * 1024,
        max_batch_messages: int = 5000,
    ) -> None:
        self.settings = settings
        self.site_id = site_id
        self.ingestor = ingestor
        self.max_batch_bytes = max_batch_bytes
        self.max_batch_messages = max_batch_messages
        # Messages received and not yet stored; bounded by max_batch_messages (and by the Receive Maximum,
        # since the broker cannot send more unacknowledged messages than that).
        self._batch: list[InboundMessage] = []
        self._batch_bytes = 0
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._threads: list[threading.Thread] = []
        self.client = self._make_client()

    @property
    def filters(self) -> list[str]:
        """The subscription filters (JSON readings, raw frames), shared when scale-out is configured."""
        bases = [topics.all_gateway_readings(self.site_id), topics.all_gateway_frames(self.site_id)]
        group = self.settings.shared_group
        return [topics.shared(group, base) if group else base for base in bases]

    def start(self) -> None:
        """Connect and start the network, storage and spool-replay threads."""
        s = self.settings
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = s.session_expiry_s
        props.ReceiveMaximum = s.receive_maximum
        self.client.connect_async(s.host, s.port, keepalive=s.keepalive_s, clean_start=False, properties=props)
        self.client.loop_start()
        for name, target in (("replay", self._replay_loop),):
            thread = threading.Thread(target=target, name=f"collector-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Wait until subscribed to the broker."""
        return self._connected.wait(timeout)

    def stop(self) -> None:
        """Stop after storing and acknowledging what was already received."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self.client.disconnect()
        self.client.loop_stop()
        self.ingestor.close()

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        client.username_pw_set(s.username, s.password)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.error(
                "broker %s:%s refused collector %s: %s",
                self.settings.host,
                self.settings.port,
                self.settings.client_id,
                reason,
            )
            return
        self.ingestor.metrics.reconnects.inc()
        logger.info(
            "collector %s connected (session present: %s); subscribing %s",
            self.settings.client_id,
            flags.session_present,
            self.filters,
        )
        # Always resubscribe: the broker may have lost the session (expiry, restart without persistence).
        client.subscribe([(f, 1) for f in self.filters])
        self._connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        # Unstored messages of the lost connection are unacknowledged: the broker redelivers them.
        self._batch, self._batch_bytes = [], 0
        if not self._stop.is_set():
            logger.warning("collector %s disconnected: %s; reconnecting", self.settings.client_id, reason)

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        # Runs on paho's network thread. Storing and acknowledging here, once the socket has no more
        # messages waiting (or the batch is full), batches writes under load without any hand-off
        # between threads, and each PUBACK goes out on the connection its message came in on.
        self._batch.append(
            InboundMessage(
                topic=msg.topic, payload=msg.payload, received_ms=int(time.time() * 1000), mid=msg.mid, qos=msg.qos
            )
        )
        self._batch_bytes += len(msg.payload)
        full = len(self._batch) >= self.max_batch_messages or self._batch_bytes >= self.max_batch_bytes
        if full or not _publish_waiting(client):
            self._flush(client)

    def _flush(self, client: mqtt.Client) -> None:
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        if not self._store_until_durable(batch):
            return  # stopping: nothing acknowledged, the broker redelivers
        for message in batch:  # in arrival order, as MQTT requires
            if message.qos > 0:
                client.ack(message.mid, message.qos)

    def _store_until_durable(self, batch: Sequence[InboundMessage]) -> bool:
        attempt = 0
        while not self._stop.is_set():
            try:
                self.ingestor.store(batch)
                return True
            except Exception:
                # Nothing is acknowledged until stored: keep trying (backpressure), never drop.
                attempt += 1
                logger.exception("storing %d messages failed (attempt %d); retrying", len(batch), attempt)
                self._stop.wait(min(30.0, 0.5 * 2 ** min(attempt, 6)))
        return False

    def _replay_loop(self) -> None:
        self.ingestor.replay_forever(self._stop)


def _publish_waiting(client: mqtt.Client) -> bool:
    """Whether the next packet already waiting on the client's socket is a PUBLISH.

    Paho reads one whole packet before calling on_message, so the next byte on the socket starts the next
    packet's fixed header. Anything else (no data, SUBACK, PINGRESP, TLS where peeking is not possible) means
    no further on_message is due now, and the batch must be stored.
    """
    sock = client.socket()
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        head = sock.recv(1, socket.MSG_PEEK)
    except (OSError, ValueError):
        return False
    return bool(head) and head[0] & 0xF0 == _PUBLISH
