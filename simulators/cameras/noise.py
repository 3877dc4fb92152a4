"""Seeded procedural noise and anti-aliased stripe patterns, pure numpy functions of coordinates.

Textures are evaluated in metric coordinates on each surface, with the size of one pixel's footprint on
that surface, so fine detail fades to its average instead of aliasing: no supersampling needed.
"""

from __future__ import annotations

import zlib

import numpy as np

Array = np.ndarray

_M1 = np.uint32(0x8DA6B343)
_M2 = np.uint32(0xD8163841)
_M3 = np.uint32(0x85EBCA6B)
_M4 = np.uint32(0xC2B2AE35)


def rng_for(seed: int, *keys: int | str) -> np.random.Generator:
    """Return a numpy Generator that depends only on the seed and the keys (strings hashed with CRC-32)."""
    words = [seed & 0xFFFFFFFF] + [zlib.crc32(k.encode()) if isinstance(k, str) else k & 0xFFFFFFFF for k in keys]
    return np.random.default_rng(words)


def hash01(ix: Array, iy: Array, seed: int) -> Array:
    """Uniform [0, 1) float32 per integer lattice point, a pure function of (ix, iy, seed)."""
    h = (ix.astype(np.int64).astype(np.uint32) * _M1) ^ (iy.astype(np.int64).astype(np.uint32) * _M2)
    h ^= np.uint32((seed * 0x9E3779B1) & 0xFFFFFFFF)
    h ^= h >> np.uint32(16)
    h *= _M3
    h ^= h >> np.uint32(13)
    h *= _M4
    h ^= h >> np.uint32(16)
    return (h >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / (1 << 24))


def value_noise(x: Array, y: Array, seed: int) -> Array:
    """Smooth value noise in [0, 1] with one lattice cell per unit of x and y."""
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx = (x - x0).astype(np.float32)
    fy = (y - y0).astype(np.float32)
    ix = x0.astype(np.int64)
    iy = y0.astype(np.int64)
    a = hash01(ix, iy, seed)
    b = hash01(ix + 1, iy, seed)
    c = hash01(ix, iy + 1, seed)
    d = hash01(ix + 1, iy + 1, seed)
    u = fx * fx * (3 - 2 * fx)
    v = fy * fy * (3 - 2 * fy)
    return a + (b - a) * u + (c - a) * v + (a - b - c + d) * u * v


def fbm(x: Array, y: Array, seed: int, octaves: int = 4, footprint: Array | float = 0.0, gain: float = 0.5) -> Array:
    """Fractal noise in [0, 1] (cell size 1 for the first octave), octaves finer than the footprint faded out."""
    out = np.zeros(np.shape(x), np.float32)
    fp = np.broadcast_to(np.asarray(footprint, np.float32), np.shape(x))
    amp, total = 1.0, 0.0
    for i in range(octaves):
        freq = float(2**i)
        # Cells per pixel above ~0.5 would alias: fade those octaves to their mean.
        w = np.clip(2.0 - 4.0 * fp * freq, 0.0, 1.0)
        sel = w > 0
        out += np.float32(amp * 0.5)
        if sel.any():
            n = value_noise(x[sel] * freq + 17.3 * i, y[sel] * freq - 31.7 * i, seed + 7919 * i)
            out[sel] += np.float32(amp) * w[sel] * (n - 0.5)
        total += amp
        amp *= gain
    return out / np.float32(total)


def _stripe_integral(x: Array, period: float, width: float) -> Array:
    return np.floor(x / period) * width + np.clip(np.mod(x, period), 0.0, width)


def stripes(x: Array, period: float, width: float, footprint: Array | float) -> Array:
    """Coverage in [0, 1] of stripes [k·period, k·period + width), box-filtered over the pixel footprint."""
    fp = np.maximum(np.asarray(footprint, np.float32), np.float32(1e-6))
    hi = _stripe_integral(x + fp / 2, period, width)
    lo = _stripe_integral(x - fp / 2, period, width)
    return np.clip((hi - lo) / fp, 0.0, 1.0).astype(np.float32)


def band(x: Array, lo: float, hi: float, footprint: Array | float) -> Array:
    """Coverage in [0, 1] of the interval [lo, hi], box-filtered over the pixel footprint."""
    fp = np.maximum(np.asarray(footprint, np.float32), np.float32(1e-6))
    a = np.clip(x + fp / 2, lo, hi)
    b = np.clip(x - fp / 2, lo, hi)
    return ((a - b) / fp).astype(np.float32)


def smoothstep(e0: float, e1: float, x: Array) -> Array:
    """Hermite step from 0 at e0 to 1 at e1."""
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def fade(footprint: Array | float, size: float) -> Array:
    """Weight in [0, 1] for a feature of `size`: 1 while it spans several pixels, 0 once it is sub-pixel."""
    return np.clip(2.0 - 4.0 * np.asarray(footprint, np.float32) / size, 0.0, 1.0).astype(np.float32)
