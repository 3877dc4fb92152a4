"""Capped exponential backoff with jitter, the random source injectable for tests."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays for retry attempt 0, 1, 2, ...: base·2^n capped at `cap_s`, with equal jitter."""

    base_s: float = 0.2
    cap_s: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.cap_s < self.base_s:
            raise ValueError("need 0 < base_s <= cap_s")

    def delay(self, attempt: int) -> float:
        """Return the delay before retry `attempt` (0-based)."""
        ceiling = min(self.cap_s, self.base_s * 2 ** min(attempt, 62))
        return float(ceiling / 2 + self.rng.uniform(0, ceiling / 2))
