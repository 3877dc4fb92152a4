"""Publishing against a real Mosquitto: every publication arrives, PUBACKs awaited, broker restarts survived."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from core import topics
from simulators.meters import FaultPlan, Gap, Publication
from simulators.meters.publisher import GatewaySimulator, PublishError
from simulators.meters.runner import run_site
from tests.conftest import Broker

pytestmark = pytest.mark.integration


class Subscriber:
    """A reconnecting collector-account subscriber with a persistent session, recording every message."""

    def __init__(self, broker: Broker) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            protocol=mqtt.MQTTv5,
            client_id=f"sub-{uuid.uuid4().hex[:8]}",
        )
        self.client.username_pw_set("collector", broker.passwords["collector"])
        self.client.reconnect_delay_set(0.2, 1)
        self.filter = topics.ROOT + f"/{broker.site.site.id}/gateways/#"
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self._ready.set()
        self.client.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.connect(broker.host, broker.port, clean_start=False, properties=props)
        self.client.loop_start()
        assert self._ready.wait(10)

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if not flags.session_present:  # after a broker restart the persisted session still holds it
            client.subscribe(self.filter, qos=1)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def readings(self) -> Counter[tuple[str, bytes]]:
        with self._lock:
            return Counter((t, p) for t, p, _ in self.messages if t.endswith("/readings"))

    def wait_for(self, expected: Counter[tuple[str, bytes]], timeout: float = 30.0) -> Counter[tuple[str, bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.readings()
            if not expected - got:
                return got
            time.sleep(0.1)
        return self.readings()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _eventually(check: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _sent(pubs: list[Publication]) -> Counter[tuple[str, bytes]]:
    return Counter((p.topic, p.payload) for p in pubs if not p.is_status)


def test_fast_run_delivers_every_publication_once(broker: Broker) -> None:
    site = broker.site
    sub = Subscriber(broker)
    start = datetime(2026, 11, 1, tzinfo=site.tz)
    end = start + timedelta(days=3)
    gap = Gap("gw-b", start + timedelta(days=1), start + timedelta(days=1, hours=2), backfill=True)
    plan = FaultPlan(gaps=(gap,), duplicate_rate=0.05, reorder_rate=0.05, malformed_rate=0.05, bad_reading_rate=0.05)
    pubs: list[Publication] = []
    try:
        result = run_site(site, broker.host, broker.port, broker.passwords, 4, start, end, faults=plan,
                          on_publication=pubs.append)  # fmt: skip
        got = sub.wait_for(_sent(pubs))
    finally:
        sub.close()
    print("\n" + result.summary())
    assert got == _sent(pubs)  # exactly once each, malformed and huge ones included
    assert result.refused == 0
    assert all(g.acked == g.sent for g in result.gateways)
    assert result.manifest.distinct == 7 * 3 * 96
    assert result.manifest.malformed_publications > 0
    status = [(t, p) for t, p, _ in sub.messages if t.endswith("/status")]
    b_status = [p for t, p in status if t == topics.gateway_status(site.site.id, "gw-b")]
    assert b_status == [b"online", b"offline", b"online", b"offline"]  # connect, gap, back, close


def test_broker_restart_loses_nothing(broker: Broker) -> None:
    site = broker.site
    sub = Subscriber(broker)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    end = start + timedelta(days=1)
    speed = 86_400 / 4  # one simulated day in about four seconds
    restarted = threading.Timer(1.5, lambda: broker.process.restart())
    pubs: list[Publication] = []
    try:
        restarted.start()
        result = run_site(site, broker.host, broker.port, broker.passwords, 5, start, end, mode="realtime",
                          speed=speed, on_publication=pubs.append, ack_timeout=60)  # fmt: skip
        restarted.join()
        got = sub.wait_for(_sent(pubs))
    finally:
        restarted.cancel()
        sub.close()
    print("\n" + result.summary(), [g.reconnects for g in result.gateways])
    assert not _sent(pubs) - got  # at least once each (QoS 1 may redeliver)
    assert all(g.acked == g.sent for g in result.gateways)
    assert all(g.reconnects >= 1 for g in result.gateways)
    assert result.manifest.distinct == 7 * 96


def test_gateway_status_and_refusals(broker: Broker) -> None:
    site = broker.site
    sim = GatewaySimulator(site.site.id, "gw-a", broker.host, broker.port, broker.passwords["gw-a"])
    sim.connect()
    sim.flush(10)  # "online" is stored, so a later subscriber gets it as retained
    sub = Subscriber(broker)
    status = topics.gateway_status(site.site.id, "gw-a")
    try:
        assert _eventually(lambda: (status, b"online", True) in sub.messages)
        sim.close()
        assert _eventually(lambda: sub.messages[-1] == (status, b"offline", False))
    finally:
        sub.close()
    wrong = GatewaySimulator(site.site.id, "gw-a", broker.host, broker.port, "not-the-password")
    with pytest.raises(PublishError, match="Not authorized"):
        wrong.connect(timeout=5)
