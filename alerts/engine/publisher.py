"""Publish every alert's state retained on `vigil/{site}/alerts/{alert_id}`, from the store's outbox.

Each change bumps an alert's `version`; the publisher sends what is newer than `published_version`
(QoS 1, retained) and records it only once the broker acknowledged it, so a crash or a lost connection
re-sends rather than loses. On every (re)connection everything still retained is sent again (the broker
may have lost its retained store). A resolved alert stays retained for `resolved_retain_s` (so a client
that connects shortly after still sees how it ended), then its retained message is cleared (empty payload).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from alerts.engine.lifecycle import Clock, wall_ms
from alerts.engine.model import alert_to_json
from alerts.engine.store import AlertStore
from core import topics

logger = logging.getLogger(__name__)

#: Send one retained QoS 1 message; True once the broker acknowledged it.
Send = Callable[[str, bytes], bool]


class AlertPublisher:
    """Drain the store's outbox to MQTT."""

    def __init__(
        self, store: AlertStore, site: str, send: Send, resolved_retain_s: float, clock: Clock = wall_ms
    ) -> None:
        self.store = store
        self.site = site
        self.send = send
        self.resolved_retain_ms = int(resolved_retain_s * 1000)
        self.clock = clock
        self._wake = threading.Event()
        self._resend_all = threading.Event()
        self.published = 0
        self.cleared = 0

    def notify(self, *_args: object) -> None:
        """Something changed: flush soon."""
        self._wake.set()

    def resend_all(self) -> None:
        """Send every retained alert again at the next flush (after a (re)connection)."""
        self._resend_all.set()
        self._wake.set()

    def flush(self) -> bool:
        """Publish what is pending and clear what is due; return False if the broker did not take it all."""
        if self._resend_all.is_set():
            self._resend_all.clear()
            pending = self.store.retained(self.site)
        else:
            pending = self.store.unpublished(self.site)
        for alert in pending:
            if not self.send(topics.alert(self.site, alert.id), alert_to_json(alert)):
                self._resend_all.set()  # what was sent before the failure may be lost with the connection
                return False
            self.store.mark_published(alert.id, alert.version)
            self.published += 1
        for alert in self.store.due_for_clearing(self.site, self.clock() - self.resolved_retain_ms):
            if not self.send(topics.alert(self.site, alert.id), b""):
                return False
            self.store.mark_cleared(alert.id)
            self.cleared += 1
        return True

    def run(self, stop: threading.Event, every_s: float = 1.0) -> None:
        """Flush on every change, and at least every `every_s` (changes made by other processes, clearing)."""
        while not stop.is_set():
            self._wake.wait(every_s)
            self._wake.clear()
            try:
                if not self.flush():
                    stop.wait(1.0)
            except Exception:
                logger.exception("alerts %s: publishing failed", self.site)
                stop.wait(1.0)
