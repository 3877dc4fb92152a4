"""Prometheus metrics of the ingest stage."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class IngestMetrics:
    """Counters and gauges of one ingest pipeline, in its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages = Counter("vigil_messages_received", "MQTT messages received", registry=r)
        self.readings = Counter("vigil_readings_received", "Readings parsed successfully", registry=r)
        self.written = Counter("vigil_readings_written", "Readings accepted by InfluxDB", registry=r)
        self.spooled = Counter("vigil_readings_spooled", "Readings written to the local spool", registry=r)
        self.replayed = Counter("vigil_readings_replayed", "Spooled readings written to InfluxDB", registry=r)
        self.rejected = Counter("vigil_readings_rejected", "Payloads or readings dead-lettered", ["stage"], registry=r)
        self.spool_depth = Gauge("vigil_spool_depth_lines", "Lines waiting in the spool", registry=r)
        self.write_seconds = Histogram(
            "vigil_influx_write_seconds",
            "Latency of InfluxDB writes",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.reconnects = Counter("vigil_broker_reconnects", "Broker (re)connections", registry=r)
        self.sink_up = Gauge("vigil_influx_up", "1 if the last InfluxDB write succeeded", registry=r)

    def snapshot(self) -> dict[str, float]:
        """Return the main figures as plain numbers (for the live summary and tests)."""

        def value(name: str, **labels: str) -> float:
            return self.registry.get_sample_value(name, labels) or 0.0

        return {
            "messages": value("vigil_messages_received_total"),
            "readings": value("vigil_readings_received_total"),
            "written": value("vigil_readings_written_total"),
            "spooled": value("vigil_readings_spooled_total"),
            "replayed": value("vigil_readings_replayed_total"),
            "rejected_parse": value("vigil_readings_rejected_total", stage="parse"),
            "rejected_store": value("vigil_readings_rejected_total", stage="store"),
            "spool_depth": value("vigil_spool_depth_lines"),
        }
