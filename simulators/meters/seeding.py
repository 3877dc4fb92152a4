"""Stable random streams: one numpy Generator per (seed, key...) tuple, identical on every run and host."""

from __future__ import annotations

import hashlib

import numpy as np


def stable_words(*keys: object) -> list[int]:
    """Hash `keys` (by their str form) into four 32-bit words, independent of PYTHONHASHSEED."""
    text = "\x1f".join(str(k) for k in keys).encode("utf-8")
    digest = hashlib.blake2b(text, digest_size=16).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def rng_for(seed: int, *keys: object) -> np.random.Generator:
    """Return a Generator seeded from `seed` and `keys`; the same inputs always give the same stream."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *stable_words(*keys)])))
