"""What a healthy perimeter camera sees change all the time, and none of it is a fault.

Light (drift, dusk/dawn, lamps, the IR day/night switch), cloud shadows, rain, swaying foliage and a
shaking pole, sensor noise. Each effect is a pure function of (scene constants, t) so frames are
reproducible from the seed alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from simulators.cameras.noise import fbm, hash01, rng_for, smoothstep

Array = np.ndarray
LIGHTINGS = ("day", "dusk", "night", "dawn")
IR_LEVEL = 0.05  # daylight level at which the camera switches to IR


@dataclass(frozen=True, slots=True)
class Nuisances:
    """Intensities of the nuisances (0 = off, 1 = typical, up to ~2 = heavy)."""

    noise: float = 1.0  # sensor noise (grows with gain at night)
    drift: float = 1.0  # slow illumination drift, auto-exposure hunting
    clouds: float = 0.0  # moving cloud shadows (daylight)
    traffic: float = 1.0  # people and vehicles passing (headlights at night)
    trucks: float = 0.0  # extra share of trucks among vehicles
    rain: float = 0.0  # streaks, contrast loss, drops on the dome
    wind: float = 0.0  # swaying trees and a shaking pole
    ir_switch_s: float | None = None  # dusk: into IR at this time; dawn: out of IR
    osd: bool = False  # on-screen camera name and clock

    def __post_init__(self) -> None:
        for name in ("noise", "drift", "clouds", "traffic", "trucks", "rain", "wind"):
            value = getattr(self, name)
            if not 0 <= value <= 3:
                raise ValueError(f"nuisance {name}={value} out of range [0, 3]")

    def names(self, lighting: str, ir_night: bool) -> list[str]:
        """Names of the active nuisances, as listed in the ground truth."""
        out = []
        if self.noise > 0:
            out.append("sensor_noise")
        if self.drift > 0:
            out.append("illumination_drift")
        if self.clouds > 0 and lighting == "day":
            out.append("cloud_shadows")
        if self.traffic > 0:
            out += ["people", "vehicles"]
            if self.trucks > 0:
                out.append("trucks")
            if lighting != "day":
                out.append("headlights")
        if self.rain > 0:
            out.append("rain")
        if self.wind > 0:
            out += ["swaying_trees", "camera_shake"]
        if lighting in ("dusk", "dawn"):
            out.append(lighting)
            if self.ir_switch_s is not None:
                out.append("ir_switch")
        if lighting == "night":
            out.append("night_ir" if ir_night else "night_colour")
        if self.osd:
            out.append("osd")
        return out


@dataclass(frozen=True, slots=True)
class LightState:
    """Illumination at one moment."""

    sun: float  # daylight level, 1 = bright day
    lamps: float  # street lamps and lit windows, 0..1
    ir: bool  # camera in IR (greyscale) mode
    kick: float  # exposure transient right after an IR switch (multiplier)
    warmth: float  # 0 = white daylight, 1 = low orange sun


class Lighting:
    """Daylight level, lamps and IR mode over time for one camera."""

    def __init__(self, lighting: str, ir_night: bool, nz: Nuisances, seed: int) -> None:
        if lighting not in LIGHTINGS:
            raise ValueError(f"unknown lighting {lighting!r}; known: {', '.join(LIGHTINGS)}")
        rng = rng_for(seed, "lighting")
        self.kind = lighting
        self.ir_night = ir_night
        self.drift = nz.drift
        self.switch = nz.ir_switch_s
        self.base = rng.uniform(0.8, 1.15)
        self.periods = (rng.uniform(120, 400), rng.uniform(25, 70), rng.uniform(4, 9))
        self.phases = rng.uniform(0, 2 * math.pi, 3)
        self.tau = rng.uniform(30, 60)
        self.kick_amp = rng.uniform(0.4, 0.9) * (1 if rng.random() < 0.5 else -0.6)
        self.pivot = nz.ir_switch_s if nz.ir_switch_s is not None else rng.uniform(60, 120)

    def at(self, t: float) -> LightState:
        """Light at media time t."""
        p, ph = self.periods, self.phases
        wobble = self.drift * (
            0.1 * math.sin(2 * math.pi * t / p[0] + ph[0])
            + 0.04 * math.sin(2 * math.pi * t / p[1] + ph[1])
            + 0.01 * math.sin(2 * math.pi * t / p[2] + ph[2])
        )
        if self.kind == "day":
            return LightState(self.base * (1 + wobble), 0.0, False, 1.0, 0.0)
        if self.kind == "night":
            return LightState(0.012 * (1 + wobble), 1.0, self.ir_night, 1.0, 0.0)
        sgn = -1 if self.kind == "dusk" else 1
        sun = IR_LEVEL * math.exp(sgn * (t - self.pivot) / self.tau) * (1 + 0.5 * wobble)
        sun = min(sun, 0.9)
        lamps = float(smoothstep(0.16, 0.1, np.asarray(sun)))
        ir = False
        kick = 1.0
        if self.switch is not None:
            ir = t >= self.switch if self.kind == "dusk" else t < self.switch
            dt = t - self.switch
            if 0 <= dt < 3:
                kick = 1 + self.kick_amp * math.exp(-dt / 0.5)
        return LightState(sun, lamps, ir, kick, float(np.clip(1 - sun / 0.5, 0, 1)))


def noise_bank(seed: int, w: int, h: int, n: int = 6) -> Array:
    """n frames of unit Gaussian noise, (n, h, w, 3) float32, mixed per frame to make fresh noise cheaply."""
    rng = rng_for(seed, "noise-bank")
    return rng.standard_normal((n, h, w, 3), dtype=np.float32)


def frame_noise(bank: Array, seed: int, frame: int, grey: bool) -> Array:
    """Fresh-looking unit noise for one frame: a random rotation of two bank frames."""
    rng = rng_for(seed, "noise", frame)
    i, j = rng.choice(len(bank), 2, replace=False)
    ang = rng.uniform(0, 2 * math.pi)
    a, b = bank[i], bank[j]
    if grey:
        a, b = a[..., :1], b[..., :1]
    return np.float32(math.cos(ang)) * a + np.float32(math.sin(ang)) * b


def rain_bank(seed: int, w: int, h: int, slant: float, n: int = 6) -> Array:
    """n layers of rain streaks (n, h, w) float32 in [0, 1]."""
    rng = rng_for(seed, "rain")
    out = np.zeros((n, h, w), np.float32)
    count = int(w * h / 350)
    for k in range(n):
        xs = rng.uniform(-0.1 * w, 1.1 * w, count)
        ys = rng.uniform(-0.1 * h, 1.1 * h, count)
        ln = rng.uniform(0.02, 0.07, count) * h
        val = rng.uniform(0.2, 1.0, count)
        for x, y, length, v in zip(xs, ys, ln, val, strict=True):
            dx, dy = slant * length, length
            cv2.line(out[k], (int(x), int(y)), (int(x + dx), int(y + dy)), float(v), 1, cv2.LINE_AA)
        out[k] = cv2.GaussianBlur(out[k], (0, 0), 0.6)
    return out


def drops_mask(seed: int, w: int, h: int, count: int) -> Array:
    """Soft discs where water drops sit on the dome, (h, w) in [0, 1]."""
    rng = rng_for(seed, "drops")
    m = np.zeros((h, w), np.float32)
    for _ in range(count):
        r = rng.uniform(0.02, 0.06) * h
        cv2.circle(m, (int(rng.uniform(0, w)), int(rng.uniform(0, h))), int(r), 1.0, -1, cv2.LINE_AA)
    return cv2.GaussianBlur(m, (0, 0), 2.0)


def cloud_shadow(xz: Array, t: float, seed: int, strength: float, size_m: float, wind: tuple[float, float]) -> Array:
    """Sun factor in (0, 1] per low-res pixel from clouds drifting over ground points xz (X, Z metres)."""
    x = (xz[..., 0] - wind[0] * t) / size_m
    z = (xz[..., 1] - wind[1] * t) / size_m
    n = fbm(x, z, seed, 3)
    shade = smoothstep(0.48, 0.62, n)
    out = 1 - strength * shade
    out[(xz[..., 0] == 0) & (xz[..., 1] == 0)] = 1.0
    return out.astype(np.float32)


def sway_maps(region: Array, phase: Array, t: float, amp_px: float, freq: float) -> tuple[Array, Array]:
    """Pixel displacement (dx, dy) of foliage: a gusty periodic sway, stronger where `region` is 1."""
    gust = 0.6 + 0.3 * math.sin(2 * math.pi * t / 7.3) + 0.25 * math.sin(2 * math.pi * t / 2.9 + 1.0)
    a = np.float32(amp_px * gust) * region
    dx = a * np.sin(np.float32(2 * math.pi * freq * t) + phase)
    dy = np.float32(0.35) * a * np.cos(np.float32(2 * math.pi * freq * 1.3 * t) + 1.7 * phase)
    return dx, dy


def shake(t: float, seed: int, wind: float) -> tuple[int, int]:
    """Whole-pixel jitter of a camera on a pole in the wind."""
    if wind <= 0:
        return 0, 0
    r = hash01(np.array([int(t * 10)]), np.array([7]), seed)[0] - 0.5
    sx = wind * (0.9 * math.sin(2 * math.pi * 1.7 * t) + 0.5 * math.sin(2 * math.pi * 4.3 * t + 1) + r)
    sy = wind * (0.6 * math.sin(2 * math.pi * 2.1 * t + 2) + 0.4 * r)
    return round(sx), round(sy)
