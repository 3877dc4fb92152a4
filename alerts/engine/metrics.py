"""Prometheus metrics of the alert service: active alerts read from the store at scrape time, counters."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from alerts.engine.model import Alert, AlertState
from alerts.engine.store import AlertStore


class _ActiveAlerts(Collector):
    """`vigil_alerts_active{kind,severity,state}`, counted in the store when scraped (always exact)."""

    def __init__(self, store: AlertStore, site: str) -> None:
        self.store = store
        self.site = site

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "vigil_alerts_active", "Open and acknowledged alerts", labels=["site", "kind", "severity", "state"]
        )
        for (kind, severity, state), n in sorted(self.store.counts(self.site).items()):
            family.add_metric([self.site, kind, severity, state], n)
        yield family


class AlertMetrics:
    """Every metric of one alert service, in a registry of its own."""

    def __init__(self, store: AlertStore, site: str) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_ActiveAlerts(store, site))
        self.transitions = Counter(
            "vigil_alert_transitions_total", "Alert changes by action", ["action"], registry=self.registry
        )
        self.messages = Counter(
            "vigil_alert_messages_total", "MQTT messages handled", ["input"], registry=self.registry
        )
        self.rejected = Counter(
            "vigil_alert_rejected_total",
            "MQTT messages refused as malformed or foreign",
            ["input"],
            registry=self.registry,
        )
        self.evaluations = Counter(
            "vigil_alert_evaluations_total", "Rule evaluations by outcome", ["rule", "outcome"], registry=self.registry
        )
        self.last_evaluation = Gauge(
            "vigil_alert_last_evaluation_seconds",
            "When a rule last evaluated successfully (Unix time)",
            ["rule"],
            registry=self.registry,
        )

    def on_change(self, alert: Alert) -> None:
        """Count a transition (lifecycle hook)."""
        if alert.state is AlertState.RESOLVED:
            action = "resolve"
        elif alert.state is AlertState.ACKNOWLEDGED and alert.updated_ms == alert.acked_ms:
            action = "acknowledge"
        elif alert.version == 1:
            action = "open"
        else:
            action = "update"
        self.transitions.labels(action).inc()
