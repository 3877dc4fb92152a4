"""The meter collector: gateway readings from MQTT, acknowledged only once they are durable."""

from __future__ import annotations

import logging
import queue
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


@dataclass(frozen=True, slots=True)
class _Pending:
    message: InboundMessage
    generation: int  # connection the message arrived on; its mid is only valid there


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
        # Bounded by the receive maximum: the broker cannot send more unacked messages than that.
        self._queue: queue.Queue[_Pending] = queue.Queue(maxsize=settings.receive_maximum * 2)
        self._stop = threading.Event()
        self._generation = 0
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
        for name, target in (("store", self._store_loop), ("replay", self._replay_loop)):
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

    def backlog(self) -> int:
        """Messages received but not yet stored."""
        return self._queue.qsize()

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
        self._generation += 1
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
        if not self._stop.is_set():
            logger.warning("collector %s disconnected: %s; reconnecting", self.settings.client_id, reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        message = InboundMessage(
            topic=msg.topic,
            payload=msg.payload,
            received_ms=int(time.time() * 1000),
            mid=msg.mid,
            qos=msg.qos,
        )
        self._queue.put(_Pending(message, self._generation))

    def _take_batch(self) -> list[_Pending]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        size = len(first.message.payload)
        while len(batch) < self.max_batch_messages and size < self.max_batch_bytes:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            batch.append(item)
            size += len(item.message.payload)
        return batch

    def _store_loop(self) -> None:
        while True:
            batch = self._take_batch()
            if not batch:
                if self._stop.is_set():
                    return
                continue
            self._store_until_durable(batch)
            self._ack(batch)

    def _store_until_durable(self, batch: Sequence[_Pending]) -> None:
        attempt = 0
        while True:
            try:
                self.ingestor.store([p.message for p in batch])
                return
            except Exception:
                # Nothing is acknowledged until stored: keep trying (backpressure), never drop.
                attempt += 1
                logger.exception("storing %d messages failed (attempt %d); retrying", len(batch), attempt)
                time.sleep(min(30.0, 0.5 * 2 ** min(attempt, 6)))

    def _ack(self, batch: Sequence[_Pending]) -> None:
        generation = self._generation
        for pending in batch:
            if pending.message.qos > 0 and pending.generation == generation:
                # A mid from an earlier connection may name another message now; the broker
                # redelivers those, and the rewrite is idempotent.
                self.client.ack(pending.message.mid, pending.message.qos)

    def _replay_loop(self) -> None:
        self.ingestor.replay_forever(self._stop)
