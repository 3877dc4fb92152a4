"""Coverage monitor down: the perimeter coverage report can no longer be trusted.

If the monitor is offline (its Last Will, or a clean stop) or silent (no heartbeat for 3 of its beats), the
last retained report still sits on the broker looking current, and any blind spot opened since is unseen.
That is raised as its own alert, critical by default: a blind spot you cannot see is the worst case.
Blind-spot alerts from the last report are left as they are (their truth is unknown, not clear).
"""

from __future__ import annotations

from datetime import datetime

from alerts.coverage.liveness import STALE_BEATS, Verdict
from alerts.engine.model import Condition, Severity
from alerts.engine.rules import RuleOutput
from core.config import SiteConfig
from core.types import CoverageReport

SCOPE = "coverage_monitor_down"
#: After (re)subscribing, silence is not judged for this long: after a broker restart the monitor may take
#: a reconnection backoff (up to 30 s) to beat again, and the retained beat it left is as old as the outage.
GRACE_S = 2 * STALE_BEATS * 10.0


def coverage_expected(site: SiteConfig) -> bool:
    """True if the site has a perimeter watched by cameras, so a coverage monitor should be running."""
    return site.perimeter is not None and bool(site.cameras)


def coverage_monitor_rule(
    site: SiteConfig, verdict: Verdict, report: CoverageReport | None, settled: bool
) -> RuleOutput:
    """One condition while the coverage report is stale.

    Nothing is judged until `settled`: a live status has been heard since (re)subscribing (a Last Will
    delivered live is one), or `GRACE_S` has passed. A retained "offline" found on subscribing is most often
    the previous run's clean stop or a broker restart's will, and the monitor says "online" within seconds.
    """
    key = f"{SCOPE}:{site.site.id}"
    if not coverage_expected(site) or not verdict.stale:
        return RuleOutput(SCOPE)
    if not settled:
        return RuleOutput(SCOPE, (), (key,))  # just (re)subscribed: the monitor may not have beaten yet
    tz = site.tz

    def clock(ms: int | None) -> str:
        return "?" if ms is None else datetime.fromtimestamp(ms / 1000, tz).strftime("%H:%M:%S")

    if verdict.reason == "offline":
        why = f"offline since {clock(verdict.offline_since_ms)}"
        since = verdict.offline_since_ms
    elif verdict.reason == "silent":
        why = f"no heartbeat since {clock(verdict.last_beat_ms)}"
        since = None
    else:
        why = "no status received"
        since = None
    return RuleOutput(
        SCOPE,
        (
            Condition(
                key=key,
                kind=SCOPE,
                severity=Severity(site.alerts.coverage_monitor_severity),
                title=f"Coverage monitor down ({why}): perimeter blind spots are not being reported",
                evidence={
                    **verdict.to_dict(),
                    "last_report_ms": None if report is None else report.computed_ms,
                    "blind_at_last_report": None if report is None else len(report.blind),
                    "unhealthy_at_last_report": None if report is None else list(report.unhealthy),
                },
                since_ms=since,
            ),
        ),
    )
