"""Gateway offline (its retained status, or silence) and meter stale (no data for N intervals).

Silence is judged from the data actually stored (InfluxDB, each meter's latest point), not from MQTT
traffic seen by this process: that survives a restart of the alert service and counts only readings that
made it into storage. Until the first look at the data, silence is unknown; a gateway or meter with no
data at all is silent once the service has been running longer than the threshold.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

from alerts.engine.model import Condition, Severity
from alerts.engine.rules import RuleOutput
from alerts.engine.sources import LatestPoint
from core import topics
from core.config import SiteConfig

_STATES = ("online", "offline")


def parse_status(site_id: str, topic: str, payload: bytes) -> tuple[str, str | None]:
    """Return (gateway, "online" | "offline" | None for a cleared status); raise ValueError otherwise."""
    gateway = topics.gateway_of(topic)
    if gateway is None or topic != topics.gateway_status(site_id, gateway):
        raise ValueError(f"not a gateway status topic of site {site_id}")
    if not payload:
        return gateway, None
    text = payload.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"status is not JSON: {exc}") from exc
        text = str(data.get("status", "")) if isinstance(data, dict) else ""
    state = text.strip().lower()
    if state not in _STATES:
        raise ValueError(f"unknown status {text[:40]!r}")
    return gateway, state


@dataclass(frozen=True, slots=True)
class _Status:
    state: str | None
    received_ms: int


class GatewayRules:
    """Keep each gateway's status and the meters' latest data; judge offline gateways and stale meters."""

    def __init__(self, site: SiteConfig, started_ms: int, *, silence: bool = True) -> None:
        self.site = site
        self.started_ms = started_ms
        self.silence = silence  # False when there is no stored data to look at: status alone decides
        self._lock = threading.Lock()
        self._status: dict[str, _Status] = {}
        self._latest: dict[str, LatestPoint] | None = None

    def on_status(self, topic: str, payload: bytes, now_ms: int) -> str:
        """Record a status message; return the gateway; raise ValueError for a bad or foreign one."""
        gateway, state = parse_status(self.site.site.id, topic, payload)
        if gateway not in self.site.gateway_ids:
            raise ValueError(f"status of gateway {gateway!r}, which is not in the site file")
        with self._lock:
            old = self._status.get(gateway)
            if old is None or old.state != state:
                self._status[gateway] = _Status(state, now_ms)
        return gateway

    def on_latest(self, latest: Mapping[str, LatestPoint]) -> None:
        """Record every meter's latest stored point."""
        with self._lock:
            self._latest = dict(latest)

    @property
    def latest(self) -> dict[str, LatestPoint] | None:
        """The latest points last recorded (None before the first look)."""
        with self._lock:
            return None if self._latest is None else dict(self._latest)

    def evaluate(self, now_ms: int) -> list[RuleOutput]:
        """Judge every gateway and meter now."""
        with self._lock:
            status = dict(self._status)
            latest = None if self._latest is None else dict(self._latest)
        rules = self.site.alerts
        offline: list[Condition] = []
        unknown_gw: list[str] = []
        down: set[str] = set()
        uptime_ms = now_ms - self.started_ms
        silence_ms = int(rules.gateway_silence_s * 1000)
        for gw in self.site.gateways:
            key = f"gateway_offline:{gw.id}"
            st = status.get(gw.id)
            reasons: list[str] = []
            since: int | None = None
            if st is not None and st.state == "offline":
                reasons.append("status offline")
                since = st.received_ms
            last: int | None = None
            if self.silence and latest is None and not reasons:
                unknown_gw.append(key)  # not looked at the data yet, and the status does not say offline
                continue
            if self.silence and latest is not None:
                seen = [latest[m].ts_ms for m in gw.meters if m in latest]
                last = max(seen) if seen else None
                if last is not None and now_ms - last > silence_ms:
                    reasons.append(f"no data for more than {rules.gateway_silence_s:g} s")
                    since = last + silence_ms if since is None else min(since, last + silence_ms)
                elif last is None and uptime_ms >= silence_ms:
                    reasons.append("no data stored")
            if not reasons:
                continue
            down.add(gw.id)
            offline.append(
                Condition(
                    key=key,
                    kind="gateway_offline",
                    severity=Severity(rules.gateway_offline_severity),
                    title=f"Gateway {gw.id} offline: {'; '.join(reasons)}",
                    evidence={
                        "gateway": gw.id,
                        "status": None if st is None else st.state,
                        "last_data_ms": last,
                        "silence_threshold_s": rules.gateway_silence_s,
                        "reasons": reasons,
                        "meters": list(gw.meters),
                    },
                    since_ms=since,
                )
            )
        return [RuleOutput("gateway_offline", tuple(offline), tuple(unknown_gw)), self._stale(now_ms, latest, down)]

    def _stale(self, now_ms: int, latest: Mapping[str, LatestPoint] | None, down: set[str]) -> RuleOutput:
        rules = self.site.alerts
        conditions: list[Condition] = []
        unknown: list[str] = []
        if not self.silence:
            latest = None
        for meter in self.site.meters:
            key = f"meter_stale:{meter.id}"
            limit_ms = rules.meter_stale_intervals * meter.interval_s * 1000
            if latest is None or self.site.gateway_of_meter.get(meter.id) in down:
                unknown.append(key)  # not looked yet, or its gateway's alert says it all
                continue
            point = latest.get(meter.id)
            last = None if point is None else point.ts_ms
            if last is None and now_ms - self.started_ms < limit_ms:
                unknown.append(key)
                continue
            if last is not None and now_ms - last <= limit_ms:
                continue
            conditions.append(
                Condition(
                    key=key,
                    kind="meter_stale",
                    severity=Severity(rules.meter_stale_severity),
                    title=f"Meter {meter.id}: no data for more than {rules.meter_stale_intervals} intervals",
                    evidence={
                        "meter": meter.id,
                        "building": meter.building,
                        "gateway": self.site.gateway_of_meter.get(meter.id),
                        "last_data_ms": last,
                        "interval_s": meter.interval_s,
                        "stale_after_s": limit_ms // 1000,
                    },
                    since_ms=None if last is None else last + limit_ms,
                )
            )
        return RuleOutput("meter_stale", tuple(conditions), tuple(unknown))
