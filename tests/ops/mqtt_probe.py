"""A small paho v5 test client that records every CONNACK, SUBACK, PUBACK and message it sees."""

from __future__ import annotations

import queue
import threading
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode


class Probe:
    """One MQTT v5 connection for tests; not reconnecting, so failures stay visible."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        client_id: str | None = None,
        manual_ack: bool = False,
    ) -> None:
        self.host, self.port = host, port
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"probe-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
            manual_ack=manual_ack,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(0)  # paho's own default caps a publisher at 20
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.subacks: queue.Queue[list[ReasonCode]] = queue.Queue()
        self.connack: ReasonCode | None = None
        self.session_present = False
        self._connected = threading.Event()
        self._pubacks: dict[int, ReasonCode] = {}
        self._puback_cv = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _c, _u, msg: self.messages.put(msg)
        self.client.on_subscribe = lambda _c, _u, _mid, codes, _p: self.subacks.put(list(codes))
        self.client.on_publish = self._on_publish
        self.disconnects: queue.Queue[ReasonCode] = queue.Queue()
        self.client.on_disconnect = lambda _c, _u, _f, reason, _p: self.disconnects.put(reason)

    def connect(
        self,
        clean_start: bool = True,
        session_expiry: int | None = None,
        receive_maximum: int | None = None,
        timeout: float = 10.0,
    ) -> ReasonCode:
        """Connect, wait for the CONNACK and return its reason code."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        if session_expiry is not None:
            props.SessionExpiryInterval = session_expiry
        if receive_maximum is not None:
            props.ReceiveMaximum = receive_maximum
        self._connected.clear()
        self.client.connect(self.host, self.port, keepalive=30, clean_start=clean_start, properties=props)
        self.client.loop_start()
        if not self._connected.wait(timeout):
            raise TimeoutError("no CONNACK")
        assert self.connack is not None
        return self.connack

    def subscribe(self, topic: str, qos: int = 1, timeout: float = 10.0) -> list[ReasonCode]:
        """Subscribe and return the SUBACK reason codes."""
        self.client.subscribe(topic, qos=qos)
        return self.subacks.get(timeout=timeout)

    def publish(
        self, topic: str, payload: bytes, qos: int = 1, retain: bool = False, timeout: float = 10.0
    ) -> ReasonCode:
        """Publish and, for QoS 1, wait for the PUBACK and return its reason code."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        return self.wait_puback(info.mid, timeout)

    def wait_puback(self, mid: int, timeout: float = 10.0) -> ReasonCode:
        """Wait for the acknowledgement of message `mid`."""
        with self._puback_cv:
            if not self._puback_cv.wait_for(lambda: mid in self._pubacks, timeout):
                raise TimeoutError(f"no PUBACK for mid {mid}")
            return self._pubacks.pop(mid)

    def receive(self, timeout: float = 10.0) -> mqtt.MQTTMessage:
        """Return the next message delivered to this client."""
        return self.messages.get(timeout=timeout)

    def disconnect(self, reasoncode: ReasonCode | None = None) -> None:
        """Disconnect cleanly and stop the network thread."""
        self.client.disconnect(reasoncode=reasoncode)
        self.client.loop_stop()

    def _on_connect(self, _c: Any, _u: Any, flags: Any, reason: ReasonCode, _p: Any) -> None:
        self.connack = reason
        self.session_present = bool(flags.session_present)
        self._connected.set()

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        with self._puback_cv:
            self._pubacks[mid] = reason
            self._puback_cv.notify_all()
