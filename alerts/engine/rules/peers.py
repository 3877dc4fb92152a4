"""Common-mode (peer) correction: what moves the whole site is not one meter's anomaly.

The start of an HVAC season, a heat wave, a cold snap or a holiday moves the consumption of a site's similar
meters together. Vigil has no outdoor temperature to correct for weather, but it has the other meters: a
meter's *peers* are the other meters of the same kind and sub-item (HVAC with HVAC, water with water) in
buildings of the same use, or, when there are too few of those, in buildings of any use. Each peer's change
is the ratio of the judged window to its own usual; the site-wide factor is the median of those ratios.

The factor is used only when the group really moved: when most peers moved in the direction the judged
meter did, each by a robust z-score beyond `mad_k` *or* by at least `min_relative` of its usual (either is
enough: a peer whose days vary a lot with the weather can move by half with a modest z-score). On an
ordinary day the peers' ratios are 1 plus noise, and scaling by them would only add that noise.

A rule then asks whether the meter is *still* abnormal once its usual is scaled by the factor. The correction
only ever withdraws what the uncorrected test found, never raises anything: peers that do not really move
together (a data room's cooling among office air-conditioning) can cost a missed alert, not a false one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from alerts.engine.rules import median, r4
from core.config import Meter, SiteConfig

#: A robust z-score uses MAD / 0.6745 as the standard deviation of a normal distribution.
MAD_TO_SIGMA = 0.6745


def median_mad(values: Sequence[float], min_mad_relative: float) -> tuple[float, float]:
    """Median and MAD of some values, the MAD at least `min_mad_relative` × median."""
    m = median(values)
    return m, max(median([abs(v - m) for v in values]), min_mad_relative * m)


def z_score(deviation: float, mad: float) -> float:
    """Robust z-score of a deviation from the median; ±inf when there is no spread at all."""
    if mad > 0:
        return MAD_TO_SIGMA * deviation / mad
    return 0.0 if deviation == 0 else math.copysign(math.inf, deviation)


def robust_z(values: Sequence[float], x: float, min_mad_relative: float) -> float:
    """Robust z-score of `x` against some values (median/MAD, MAD at least `min_mad_relative` × median)."""
    m, mad = median_mad(values, min_mad_relative)
    return z_score(x - m, mad)


@dataclass(frozen=True, slots=True)
class Change:
    """One meter's judged window against its own usual windows (same units)."""

    current: float
    usual: float  # median of the usual windows
    z: float  # robust z-score of `current` against them

    @classmethod
    def of(cls, usual: Sequence[float], current: float, min_mad_relative: float) -> Change:
        """The change of `current` against some usual values (at least one)."""
        return cls(current, median(usual), robust_z(usual, current, min_mad_relative))


@dataclass(frozen=True, slots=True)
class PeerFactor:
    """The site-wide change a meter's peers show on the judged window."""

    group: str  # "<kind>/<item>[/<use>]": which meters were taken as peers
    factor: float | None  # median of the peers' ratios; None: too few peers, or they did not move
    peers: Mapping[str, float]  # peer meter -> its ratio current / usual
    moved: tuple[str, ...]  # peers themselves abnormal in the judged meter's direction
    min_peers: int

    def evidence(self) -> dict[str, object]:
        """JSON-ready description of the correction, for an alert's evidence."""
        return {
            "group": self.group,
            "factor": None if self.factor is None else r4(self.factor),
            "peers": {m: r4(r) for m, r in sorted(self.peers.items())},
            "moved": list(self.moved),
            "min_peers": self.min_peers,
            "why": self.why,
        }

    @property
    def why(self) -> str:
        """Why the factor is used or not, in a few words."""
        if self.factor is not None:
            return f"{len(self.moved)} of {len(self.peers)} peers moved with it"
        if len(self.peers) < self.min_peers:
            return f"{len(self.peers)} peer(s) with a usual, fewer than {self.min_peers}: no correction"
        return f"only {len(self.moved)} of {len(self.peers)} peers moved with it: no correction"


def peer_factor(
    site: SiteConfig,
    meter: Meter,
    changes: Mapping[str, Change],
    *,
    direction: float,
    mad_k: float,
    min_relative: float,
    min_peers: int,
    min_usual: float,
) -> PeerFactor:
    """The median change of `meter`'s peers among `changes` (meter id -> change on the same window).

    `direction` is the sign of the judged meter's deviation. A peer whose usual is below `min_usual` (or
    zero) is left out: its ratio is noise.
    """
    use = site.building_by_id[meter.building].use
    ratios: dict[str, float] = {}
    same_use: dict[str, float] = {}
    for other, change in changes.items():
        peer = site.meter_by_id[other]
        if other == meter.id or peer.kind is not meter.kind or peer.item is not meter.item:
            continue
        if change.usual <= 0 or change.usual < min_usual:
            continue
        ratios[other] = change.current / change.usual
        if site.building_by_id[peer.building].use == use:
            same_use[other] = ratios[other]
    group = f"{meter.kind.value}/{meter.item.value}"
    if len(same_use) >= min_peers:
        ratios, group = same_use, f"{group}/{use}"
    sign = math.copysign(1.0, direction)
    moved = tuple(sorted(m for m in ratios if changes[m].z * sign > mad_k or (ratios[m] - 1.0) * sign >= min_relative))
    together = len(ratios) >= min_peers and 2 * len(moved) > len(ratios)
    factor = median(list(ratios.values())) if together else None
    return PeerFactor(group, factor, ratios, moved, min_peers)
