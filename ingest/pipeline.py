"""Make received messages durable: readings into InfluxDB (or the spool), refusals into dead-letter."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from core.backoff import Backoff
from core.config import SiteConfig
from core.errors import SinkRejected, SinkUnavailable
from core.types import InboundMessage, InstantReading, Reading, Rejection
from ingest.deadletter import DeadLetterStore
from ingest.dispatch import parse_message
from ingest.influx import InfluxClient
from ingest.lineprotocol import UnencodableValue, instant_to_line_protocol, to_line_protocol
from ingest.metrics import IngestMetrics
from ingest.spool import Spool

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    """What became of one batch of messages; all of it is durable when this is returned."""

    written: int
    spooled: int
    rejected: int


@dataclass(frozen=True, slots=True)
class _Line:
    text: str
    topic: str
    gateway: str
    received_ms: int


def write_isolating(client: InfluxClient, lines: Sequence[str]) -> list[tuple[str, str]]:
    """Write lines; if InfluxDB refuses the data, bisect to find and return the refused (line, reason)."""
    try:
        client.write_lines(lines)
        return []
    except SinkRejected as exc:
        if len(lines) == 1:
            return [(lines[0], str(exc))]
        # Halves are rewritten whole: points are keyed by series and time, so rewrites are idempotent.
        middle = len(lines) // 2
        return write_isolating(client, lines[:middle]) + write_isolating(client, lines[middle:])


class Ingestor:
    """Parse messages and store them durably before the caller acknowledges them to the broker."""

    def __init__(
        self,
        site: SiteConfig,
        client: InfluxClient,
        spool: Spool,
        deadletters: DeadLetterStore,
        metrics: IngestMetrics | None = None,
        *,
        retry_budget_s: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        self.site = site
        self.client = client
        self.spool = spool
        self.deadletters = deadletters
        self.metrics = metrics or IngestMetrics()
        self.retry_budget_s = retry_budget_s
        self._backoff = Backoff(base_s=0.1, cap_s=30.0, rng=rng or random.Random())
        self._sink_up = True
        self._replay_lock = threading.Lock()
        self.metrics.sink_up.set(1)
        self.metrics.spool_depth.set(self.spool.depth()[1])

    @property
    def sink_up(self) -> bool:
        """Whether the last write to InfluxDB succeeded."""
        return self._sink_up

    def store(self, messages: Sequence[InboundMessage]) -> StoreOutcome:
        """Parse and durably store a batch of messages; return only once everything is durable."""
        lines: list[_Line] = []
        rejections: list[Rejection] = []
        self.metrics.messages.inc(len(messages))
        for message in messages:
            result = parse_message(message.topic, message.payload, self.site, message.received_ms)
            for rejection in result.rejections:
                _log_rejection(rejection, _meter_of(rejection.payload))
            rejections.extend(result.rejections)
            points: tuple[Reading | InstantReading, ...] = (*result.readings, *result.instants)
            for point in points:
                try:
                    text = to_line_protocol(point) if isinstance(point, Reading) else instant_to_line_protocol(point)
                    lines.append(_Line(text, message.topic, point.gateway, message.received_ms))
                except UnencodableValue as exc:
                    rejection = Rejection(
                        message.topic, point.gateway, str(exc), repr(point).encode(), message.received_ms
                    )
                    _log_rejection(rejection, point.meter)
                    rejections.append(rejection)
        self.metrics.readings.inc(len(lines))
        self._dead_letter(rejections, stage="parse")
        written, spooled, refused = self._write_or_spool(lines)
        return StoreOutcome(written=written, spooled=spooled, rejected=len(rejections) + refused)

    def close(self) -> None:
        """Close InfluxDB connections and the local stores."""
        self.client.close()
        self.spool.close()
        self.deadletters.close()

    def replay_once(self, max_batches: int = 10) -> int:
        """Replay up to `max_batches` spooled batches; return lines stored (raise SinkUnavailable if down)."""
        stored = 0
        with self._replay_lock:
            for batch in self.spool.oldest(max_batches):
                refused = self._write_timed(batch.lines)
                self._dead_letter_lines(
                    [(_Line(text, "spool", "", int(time.time() * 1000)), reason) for text, reason in refused]
                )
                self.spool.remove(batch.id)
                good = len(batch.lines) - len(refused)
                stored += good
                self.metrics.replayed.inc(good)
                self._mark_up(True)
            self.metrics.spool_depth.set(self.spool.depth()[1])
        return stored

    def replay_forever(self, stop: threading.Event, idle_s: float = 0.5) -> None:
        """Drain the spool whenever InfluxDB is reachable, backing off while it is not."""
        attempt = 0
        while not stop.is_set():
            try:
                if self.spool.depth()[0] == 0:
                    attempt = 0
                    stop.wait(idle_s)
                    continue
                self.replay_once()
                attempt = 0
            except SinkUnavailable as exc:
                self._mark_up(False)
                delay = self._backoff.delay(attempt)
                attempt += 1
                logger.warning("spool replay: InfluxDB unavailable (%s); retry in %.1f s", exc, delay)
                stop.wait(delay)
            except Exception:
                logger.exception("spool replay failed unexpectedly")
                stop.wait(1.0)

    def _write_or_spool(self, lines: list[_Line]) -> tuple[int, int, int]:
        if not lines:
            return 0, 0, 0
        texts = [line.text for line in lines]
        if self._sink_up:
            deadline = time.monotonic() + self.retry_budget_s
            attempt = 0
            while True:
                try:
                    refused = self._write_timed(texts)
                    self._mark_up(True)
                    if refused:
                        by_text = {line.text: line for line in lines}
                        self._dead_letter_lines([(by_text[text], reason) for text, reason in refused])
                    self.metrics.written.inc(len(lines) - len(refused))
                    return len(lines) - len(refused), 0, len(refused)
                except SinkUnavailable as exc:
                    delay = self._backoff.delay(attempt)
                    attempt += 1
                    if time.monotonic() + delay > deadline:
                        logger.warning("InfluxDB unavailable (%s): spooling %d lines", exc, len(lines))
                        self._mark_up(False)
                        break
                    time.sleep(delay)
        self.spool.append(texts)
        self.metrics.spooled.inc(len(texts))
        self.metrics.spool_depth.inc(len(texts))
        return 0, len(texts), 0

    def _write_timed(self, texts: Sequence[str]) -> list[tuple[str, str]]:
        started = time.perf_counter()
        refused = write_isolating(self.client, texts)
        self.metrics.write_seconds.observe(time.perf_counter() - started)
        return refused

    def _mark_up(self, up: bool) -> None:
        if up != self._sink_up:
            logger.warning("InfluxDB is %s", "back: writing directly" if up else "down: spooling locally")
        self._sink_up = up
        self.metrics.sink_up.set(1 if up else 0)

    def _dead_letter_lines(self, refused: list[tuple[_Line, str]]) -> None:
        for line, reason in refused:
            logger.warning(
                "InfluxDB refused a line from gateway %s on %s: %s (line %r)",
                line.gateway or "-",
                line.topic,
                reason,
                line.text[:120],
                extra={"gateway": line.gateway or None, "topic": line.topic},
            )
        self._dead_letter(
            [
                Rejection(
                    line.topic,
                    line.gateway or None,
                    f"InfluxDB refused: {reason}",
                    line.text.encode(),
                    line.received_ms,
                )
                for line, reason in refused
            ],
            stage="store",
        )

    def _dead_letter(self, rejections: list[Rejection], stage: str) -> None:
        if rejections:
            self.deadletters.add(rejections)
            self.metrics.rejected.labels(stage=stage).inc(len(rejections))


def _log_rejection(rejection: Rejection, meter: str | None) -> None:
    logger.info(
        "rejected from gateway %s on %s%s: %s (payload %r)",
        rejection.gateway,
        rejection.topic,
        f" (meter {meter})" if meter else "",
        rejection.reason,
        rejection.payload[:120],
        extra={"gateway": rejection.gateway, "meter": meter, "topic": rejection.topic},
    )


def _meter_of(payload: bytes) -> str | None:
    """The meter a refused JSON reading names, if it names one (for the log's `meter` field)."""
    if len(payload) > 4096 or not payload.startswith(b"{"):
        return None
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    meter = doc.get("meter") if isinstance(doc, dict) else None
    return meter[:64] if isinstance(meter, str) else None
