"""The soak's gateways: readings published at a fixed rate, and a ledger of what the broker acknowledged."""

from __future__ import annotations

import logging
import threading
import time
from array import array
from dataclasses import dataclass
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from core import topics
from core.config import SiteConfig
from core.types import Kind

logger = logging.getLogger("bench.soak")

UNITS = {Kind.ELECTRICITY: ("kWh", 1000.0), Kind.WATER: ("m3", 100.0)}  # unit, first register value
WILL_DISCONNECT = 4  # MQTT v5 DISCONNECT reason "Disconnect with Will Message": the broker sends the will


@dataclass(frozen=True, slots=True)
class Sent:
    """One publication: its distinct readings (meter, ts), or a duplicate's count, and its malformed parts."""

    readings: tuple[tuple[str, int], ...] = ()
    duplicate_readings: int = 0
    bad_parts: int = 0


class Ledger:
    """Every reading published and every one the broker acknowledged, kept as ts arrays per meter."""

    def __init__(self, meters: list[str]) -> None:
        self._lock = threading.Lock()
        self.published = {m: array("q") for m in meters}
        self.acked = {m: array("q") for m in meters}
        self.counts = dict.fromkeys(
            ("messages", "messages_acked", "refused", "dup_published", "dup_acked", "bad_published", "bad_acked"), 0
        )

    def publishing(self, sent: Sent) -> None:
        """Record a publication before it is handed to MQTT (its PUBACK may come back at once)."""
        if sent == Sent():
            return  # a status message
        with self._lock:
            for meter, ts in sent.readings:
                self.published[meter].append(ts)
            self.counts["messages"] += 1
            self.counts["dup_published"] += sent.duplicate_readings
            self.counts["bad_published"] += sent.bad_parts

    def settle(self, sent: Sent, failed: bool) -> None:
        """Record the broker's PUBACK of a publication."""
        if sent == Sent():
            return
        with self._lock:
            if failed:
                self.counts["refused"] += 1
                return
            for meter, ts in sent.readings:
                self.acked[meter].append(ts)
            self.counts["messages_acked"] += 1
            self.counts["dup_acked"] += sent.duplicate_readings
            self.counts["bad_acked"] += sent.bad_parts

    def distinct(self, which: dict[str, array[int]]) -> int:
        """Number of distinct readings in `published` or `acked`."""
        with self._lock:
            return sum(len(set(ts)) for ts in which.values())


class GatewayClient:
    """One gateway's MQTT v5 connection: Last Will "offline", retained "online", QoS 1, PUBACKs into the ledger."""

    def __init__(self, site_id: str, gateway: str, host: str, port: int, password: str, ledger: Ledger) -> None:
        self.gateway = gateway
        self.topic = topics.gateway_readings(site_id, gateway)
        self.status_topic = topics.gateway_status(site_id, gateway)
        self.host, self.port = host, port
        self.ledger = ledger
        self.paused = False  # True while the gateway is "switched off" for an alert event
        self._lock = threading.Lock()
        self._pending: dict[int, Sent] = {}
        self._early: dict[int, bool] = {}  # PUBACKs that overtook publish() returning the mid
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"soak-{gateway}", protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(gateway, password)
        self.client.will_set(self.status_topic, b"offline", qos=1, retain=True)
        self.client.max_inflight_messages_set(200)
        self.client.reconnect_delay_set(min_delay=1, max_delay=4)
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish

    def connect(self) -> None:
        """Connect and start the network thread (paho reconnects by itself after a broker restart)."""
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def publish(self, payload: bytes, sent: Sent, topic: str | None = None, retain: bool = False) -> None:
        """Publish QoS 1; the PUBACK settles `sent` in the ledger (paho queues it while disconnected)."""
        self.ledger.publishing(sent)
        info = self.client.publish(topic or self.topic, payload, qos=1, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise RuntimeError(f"gateway {self.gateway}: publish failed: {mqtt.error_string(info.rc)}")
        with self._lock:
            failed = self._early.pop(info.mid, None)
            if failed is None:
                self._pending[info.mid] = sent
        if failed is not None:
            self.ledger.settle(sent, failed)

    @property
    def in_flight(self) -> int:
        """Publications not acknowledged yet."""
        with self._lock:
            return len(self._pending)

    def drain(self, timeout: float) -> bool:
        """Wait until every publication is acknowledged."""
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.in_flight

    def go_offline(self) -> float:
        """Stop publishing, let what is in flight be acknowledged, drop off so the broker sends the will.

        Return the wall time of the drop.
        """
        self.paused = True
        self.drain(30.0)
        at = time.time()
        self.client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=WILL_DISCONNECT))
        self.client.loop_stop()
        return at

    def go_online(self) -> None:
        """Reconnect (announcing "online") and publish again."""
        self.connect()
        self.paused = False

    def close(self) -> None:
        """Disconnect cleanly (no will)."""
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.error("broker refused gateway %s: %s", self.gateway, reason)
            return
        self.publish(b"online", Sent(), topic=self.status_topic, retain=True)

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        failed = bool(reason.is_failure)
        with self._lock:
            sent = self._pending.pop(mid, None)
            if sent is None:
                self._early[mid] = failed
                return
        self.ledger.settle(sent, failed)


class Pacer:
    """Publish readings at a fixed rate over every gateway not switched off, with duplicates and bad parts."""

    def __init__(
        self, site: SiteConfig, clients: dict[str, GatewayClient], rate: float, per_message: int, every: dict[str, int]
    ) -> None:
        self.site = site
        self.clients = clients
        self.rate = rate
        self.per_message = per_message
        self.dup_every, self.bad_every = every["duplicate"], every["bad"]
        self.meters = {g.id: list(g.meters) for g in site.gateways}
        self._next_meter = dict.fromkeys(self.meters, 0)
        self._seq = {m.id: 0 for m in site.meters}
        self._last_ts = {m.id: 0 for m in site.meters}
        self._last_payload: dict[str, tuple[bytes, int]] = {}
        self.produced = 0  # readings published (duplicates and bad parts not counted)
        self.behind_s = 0.0  # how far publishing lagged the schedule at the end (CPU-bound if large)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-pacer", daemon=True)
        self.started = 0.0

    def start(self) -> None:
        """Start publishing."""
        self.started = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        """Stop publishing and wait for the thread."""
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        gateways = [g.id for g in self.site.gateways]
        k = 0
        while not self._stop.is_set():
            due = self.rate * (time.monotonic() - self.started)
            if self.produced >= due:
                self._stop.wait(min(0.01, (self.produced - due + self.per_message) / self.rate))
                continue
            self.behind_s = (due - self.produced) / self.rate
            gateway = gateways[k % len(gateways)]
            k += 1
            client = self.clients[gateway]
            if client.paused:
                continue
            try:
                self._publish_one(client, k)
            except Exception:
                logger.exception("publishing for gateway %s failed", gateway)
                self._stop.wait(0.5)

    def _publish_one(self, client: GatewayClient, k: int) -> None:
        gateway = client.gateway
        if self.dup_every and k % self.dup_every == 0 and gateway in self._last_payload:
            payload, n = self._last_payload[gateway]
            client.publish(payload, Sent(duplicate_readings=n))
        if self.bad_every and k % self.bad_every == 0 and (k // self.bad_every) % 2 == 1:
            client.publish(f'{{"readings": [ broken soak payload #{k}'.encode(), Sent(bad_parts=1))
        readings, keys = self._readings(gateway)
        bad = 0
        if self.bad_every and k % self.bad_every == 0 and (k // self.bad_every) % 2 == 0:
            readings.append({**readings[0], "meter": f"SOAK-UNKNOWN-{k}"})  # one refused part in a good batch
            bad = 1
        payload = orjson.dumps({"readings": readings})
        client.publish(payload, Sent(readings=tuple(keys), bad_parts=bad))
        self._last_payload[gateway] = (payload, len(keys))
        self.produced += len(keys)

    def _readings(self, gateway: str) -> tuple[list[dict[str, Any]], list[tuple[str, int]]]:
        meters = self.meters[gateway]
        now_ms = int(time.time() * 1000)
        readings, keys = [], []
        for _ in range(self.per_message):
            meter_id = meters[self._next_meter[gateway] % len(meters)]
            self._next_meter[gateway] += 1
            meter = self.site.meter_by_id[meter_id]
            ts = max(now_ms, self._last_ts[meter_id] + 1)  # distinct (meter, ts) for every reading
            self._last_ts[meter_id] = ts
            seq = self._seq[meter_id]
            self._seq[meter_id] += 1
            unit, first = UNITS[meter.kind]
            value = round(first + seq * meter.resolution, 6)
            readings.append({"meter": meter_id, "ts": ts, "value": value, "unit": unit})
            keys.append((meter_id, ts))
        return readings, keys
