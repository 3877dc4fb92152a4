"""Gateway offline (its retained status, or silence) and meter stale (no data for N intervals).

Silence means nothing *arrived* for a while, judged from the data actually stored (InfluxDB, each meter's
latest point), not from MQTT traffic seen by this process: only readings that made it into storage count.
A reading arrives no earlier than its timestamp, and the service sees every arrival that moves a meter's
latest timestamp forward at its next look. So a meter's last arrival is its latest timestamp, or the look
at which that timestamp was first seen to advance, whichever is later: a gateway back-filling a gap or
replaying history (old timestamps, delivered now) is not silent, nor is one whose clock lags.

Until the service has watched the data for the threshold, old data that has not moved is *unknown*, not
silent: it may be a back-fill in progress (an alert already open stays open). A gateway or meter with no
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


@dataclass(frozen=True, slots=True)
class _Arrival:
    ts_ms: int  # the meter's latest stored timestamp
    seen_ms: int | None  # the look at which it was first seen to have advanced; None: at the first look

    @property
    def last_ms(self) -> int:
        """When its latest data arrived, at the latest we know of."""
        return self.ts_ms if self.seen_ms is None else max(self.ts_ms, self.seen_ms)


class GatewayRules:
    """Keep each gateway's status and the meters' latest data; judge offline gateways and stale meters."""

    def __init__(self, site: SiteConfig, started_ms: int, *, silence: bool = True) -> None:
        self.site = site
        self.started_ms = started_ms
        self.silence = silence  # False when there is no stored data to look at: status alone decides
        self._lock = threading.Lock()
        self._status: dict[str, _Status] = {}
        self._latest: dict[str, LatestPoint] | None = None
        self._arrivals: dict[str, _Arrival] = {}
        self._first_look_ms: int | None = None

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

    def on_latest(self, latest: Mapping[str, LatestPoint], now_ms: int) -> None:
        """Record every meter's latest stored point, looked at `now_ms`."""
        with self._lock:
            first = self._first_look_ms is None
            if first:
                self._first_look_ms = now_ms
            for meter, point in latest.items():
                old = self._arrivals.get(meter)
                if old is None:  # at the first look, when it arrived is not known: no later than now
                    self._arrivals[meter] = _Arrival(point.ts_ms, None if first else now_ms)
                elif point.ts_ms > old.ts_ms:
                    self._arrivals[meter] = _Arrival(point.ts_ms, now_ms)
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
            arrivals = dict(self._arrivals)
            watched_ms = 0 if self._first_look_ms is None else now_ms - self._first_look_ms
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
            arrived: int | None = None
            if self.silence and latest is not None:
                seen = [latest[m].ts_ms for m in gw.meters if m in latest]
                last = max(seen) if seen else None
                came = [arrivals[m].last_ms for m in gw.meters if m in arrivals and m in latest]
                arrived = max(came) if came else None
                if arrived is not None and now_ms - arrived > silence_ms:
                    if watched_ms < silence_ms and not reasons:
                        unknown_gw.append(key)  # old data, not watched long enough to tell it is not arriving
                        continue
                    reasons.append(f"no data for more than {rules.gateway_silence_s:g} s")
                    since = arrived + silence_ms if since is None else min(since, arrived + silence_ms)
                elif arrived is None and uptime_ms >= silence_ms:
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
                        "last_arrival_ms": arrived,
                        "silence_threshold_s": rules.gateway_silence_s,
                        "reasons": reasons,
                        "meters": list(gw.meters),
                    },
                    since_ms=since,
                )
            )
        stale = self._stale(now_ms, latest, arrivals, watched_ms, down)
        return [RuleOutput("gateway_offline", tuple(offline), tuple(unknown_gw)), stale]

    def _stale(
        self,
        now_ms: int,
        latest: Mapping[str, LatestPoint] | None,
        arrivals: Mapping[str, _Arrival],
        watched_ms: int,
        down: set[str],
    ) -> RuleOutput:
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
            arrival = arrivals.get(meter.id) if point is not None else None
            arrived = None if arrival is None else arrival.last_ms
            if last is None and now_ms - self.started_ms < limit_ms:
                unknown.append(key)
                continue
            if arrived is not None and now_ms - arrived <= limit_ms:
                continue
            if arrived is not None and watched_ms < limit_ms:
                unknown.append(key)  # old data, not watched long enough to tell it is not arriving
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
                        "last_arrival_ms": arrived,
                        "interval_s": meter.interval_s,
                        "stale_after_s": limit_ms // 1000,
                    },
                    since_ms=None if arrived is None else arrived + limit_ms,
                )
            )
        return RuleOutput("meter_stale", tuple(conditions), tuple(unknown))
