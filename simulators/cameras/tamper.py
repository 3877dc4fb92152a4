"""Tamper events on a timeline and what each does to the picture.

Lens-level tampers (a hand or cloth over the lens, spray paint, defocus) are applied to the scene
before the sensor, so auto-exposure and noise react to them as a real camera's would; `moved` turns the
camera within its scene; `black` and `blue` replace the video; `frozen` and `disconnect` are handled by
the camera (repeat the same encoded frame; no frame at all).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from core.types import CameraState
from simulators.cameras.noise import fbm, rng_for, smoothstep
from simulators.cameras.nuisances import LightState
from simulators.cameras.scene import HOME, Lens, Pose

Array = np.ndarray

TAMPER_TYPES = ("covered", "spray", "defocus", "moved", "black", "blue", "frozen", "disconnect")
EXPECTED_STATE: dict[str, CameraState] = {
    "covered": CameraState.OCCLUDED,
    "spray": CameraState.OCCLUDED,
    "defocus": CameraState.DEFOCUSED,
    "moved": CameraState.MOVED,
    "black": CameraState.VIDEO_LOSS,
    "blue": CameraState.VIDEO_LOSS,
    "frozen": CameraState.FROZEN,
    "disconnect": CameraState.VIDEO_LOSS,
}


@dataclass(frozen=True, slots=True, order=True)
class TamperEvent:
    """A tamper from start_s until end_s (None: until the end); `seed` picks its look (shape, colour, direction)."""

    start_s: float
    type: str
    end_s: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.type not in TAMPER_TYPES:
            raise ValueError(f"unknown tamper type {self.type!r}; known: {', '.join(TAMPER_TYPES)}")
        if not (math.isfinite(self.start_s) and self.start_s >= 0):
            raise ValueError(f"tamper {self.type}: start_s must be a finite number >= 0, got {self.start_s}")
        if self.end_s is not None and not (math.isfinite(self.end_s) and self.end_s > self.start_s):
            raise ValueError(f"tamper {self.type}: end_s must be after start_s, got {self.end_s} <= {self.start_s}")

    def active(self, t: float) -> bool:
        """True while the tamper is on at media time t."""
        return self.start_s <= t and (self.end_s is None or t < self.end_s)

    @property
    def expected_state(self) -> CameraState:
        """What a correct analyzer reports while it lasts."""
        return EXPECTED_STATE[self.type]


def _onset(e: TamperEvent, t: float, ramp: float) -> float:
    return float(smoothstep(0.0, ramp, np.asarray(t - e.start_s)))


# -- moved --------------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def moved_target(seed: int) -> tuple[Pose, float]:
    """Where a turned camera ends up (a large pan, tilt, or roll) and how long the turn takes."""
    rng = rng_for(seed, "moved")
    how = rng.choice(["pan", "pan", "tilt", "roll", "pan_tilt"])

    def sgn() -> float:
        return 1.0 if rng.random() < 0.5 else -1.0

    if how == "pan":
        pose = Pose(pan=sgn() * rng.uniform(0.35, 0.55))
    elif how == "tilt":
        pose = Pose(tilt=sgn() * rng.uniform(0.28, 0.4))
    elif how == "roll":
        pose = Pose(pan=sgn() * rng.uniform(0.0, 0.15), roll_deg=sgn() * rng.uniform(15, 38))
    else:
        pose = Pose(pan=sgn() * rng.uniform(0.3, 0.5), tilt=sgn() * rng.uniform(0.15, 0.35))
    return pose, float(rng.uniform(0.4, 2.0))


def pose_at(events: tuple[TamperEvent, ...], t: float) -> Pose:
    """Camera pose at t: the sum of `moved` turns, easing in at start and back home after end_s."""
    pan = tilt = roll = 0.0
    for e in events:
        if e.type != "moved" or t < e.start_s:
            continue
        target, ramp = moved_target(e.seed)
        k = _onset(e, t, ramp)
        if e.end_s is not None and t >= e.end_s:
            k = 1 - float(smoothstep(0.0, ramp, np.asarray(t - e.end_s)))
        pan += k * target.pan
        tilt += k * target.tilt
        roll += k * target.roll_deg
    if pan == tilt == roll == 0.0:
        return HOME
    return Pose(pan, tilt, roll)


# -- lens-level tampers -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _CoverLook:
    colour: tuple[float, float, float]
    darkness: float
    coverage: float
    edge: int  # 0 left, 1 right, 2 top, 3 bottom: where it comes from
    onset: float
    leak: float
    jitter: float


def _cover_look(seed: int) -> _CoverLook:
    rng = rng_for(seed, "cover")
    hand = rng.random() < 0.5
    if hand:
        colour = [(0.45, 0.55, 0.8), (0.3, 0.4, 0.6), (0.18, 0.25, 0.38)][rng.integers(3)]
    else:
        colour = [(0.2, 0.2, 0.2), (0.5, 0.3, 0.15), (0.15, 0.15, 0.5), (0.7, 0.7, 0.7), (0.1, 0.3, 0.1)][
            rng.integers(5)
        ]
    return _CoverLook(
        colour=colour,
        darkness=float(rng.uniform(0.06, 0.3)),
        coverage=float(rng.uniform(0.6, 1.0) if rng.random() < 0.6 else 1.0),
        edge=int(rng.integers(4)),
        onset=float(rng.uniform(0.3, 1.2)),
        leak=float(rng.uniform(0.0, 0.5)),
        jitter=float(rng.uniform(0.004, 0.02) if hand else rng.uniform(0.0, 0.004)),
    )


@lru_cache(maxsize=64)
def _wobble(seed: int, n: int) -> Array:
    """A ragged edge profile (n,) in [-1, 1] for a cover's boundary."""
    x = np.linspace(0, 3, n, dtype=np.float32)
    return (2 * fbm(x, np.zeros_like(x), seed, 3) - 1).astype(np.float32)


def cover(e: TamperEvent, t: float) -> Lens:
    """A hand or cloth right on the lens: dark, smooth, out of focus, creeping in from one edge."""
    look = _cover_look(e.seed)
    k = _onset(e, t, look.onset)

    def apply(img: Array, ls: LightState) -> Array:
        h, w = img.shape[:2]
        sw, shh = max(w // 8, 8), max(h // 8, 6)
        along = shh if look.edge < 2 else sw
        across = sw if look.edge < 2 else shh
        frac = look.coverage * k + look.jitter * math.sin(2 * math.pi * 1.3 * t) * (k > 0)
        edge = frac * across + 0.06 * across * _wobble(e.seed, along)
        pos = np.arange(across, dtype=np.float32)[None, :]
        m = smoothstep(-0.08 * across, 0.08 * across, edge[:, None] - pos)  # (along, across)
        if look.edge in (1, 3):
            m = m[:, ::-1]
        if look.edge >= 2:
            m = m.T
        if look.coverage >= 0.999 and k >= 0.999:
            m = np.ones_like(m)
        mask = cv2.resize(np.ascontiguousarray(m, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
        level = float(img.mean())
        if ls.ir:
            # The IR LEDs light up whatever is on the lens: a washed-out grey.
            tone = np.full(3, 0.9 + 0.6 * look.darkness, np.float32) * np.float32(max(level, 0.05) * 3)
        else:
            tone = np.array(look.colour, np.float32) * np.float32(look.darkness * max(level, 0.02) * 2.0)
        # Light leaks in from the side that is still open.
        ramp = np.linspace(1 - look.leak, 1 + look.leak, w if look.edge < 2 else h, dtype=np.float32)
        if look.edge in (1, 3):
            ramp = ramp[::-1]
        shade = ramp[None, :, None] if look.edge < 2 else ramp[:, None, None]
        out: Array = img * (1 - mask) + tone * shade * mask
        return out

    return apply


def spray(e: TamperEvent, t: float) -> Lens:
    """Paint sprayed on the dome: a translucent coloured blob that grows over a second or two and hides detail."""
    rng = rng_for(e.seed, "spray")
    colour = np.array(
        [
            (0.05, 0.05, 0.06),
            (0.5, 0.15, 0.1),
            (0.1, 0.1, 0.6),
            (0.85, 0.85, 0.85),
            (0.1, 0.45, 0.15),
            (0.6, 0.6, 0.62),
        ][rng.integers(6) if rng.random() > 0.35 else 0],
        np.float32,
    )
    opacity = float(rng.uniform(0.75, 0.97))
    cx, cy = float(rng.uniform(0.35, 0.65)), float(rng.uniform(0.35, 0.65))
    reach = float(rng.uniform(0.85, 1.4))
    k = _onset(e, t, float(rng.uniform(0.6, 2.5)))
    seed = e.seed

    def apply(img: Array, ls: LightState) -> Array:
        h, w = img.shape[:2]
        field = _spray_field(seed, w, h, cx, cy)
        alpha = smoothstep(-0.08, 0.05, reach * k - field)[..., None] * np.float32(opacity)
        blurred = cv2.GaussianBlur(img, (0, 0), max(2.0, 0.03 * w))
        paint = colour if not ls.ir else np.full(3, colour.mean() * 0.6 + 0.4, np.float32)
        lit = paint * np.float32(max(float(img.mean()), 0.02) * 1.6)
        lost = np.clip(alpha * 1.3, 0, 1)
        base = img + (blurred - img) * lost
        out: Array = base * (1 - alpha) + lit * alpha
        return out

    return apply


@lru_cache(maxsize=32)
def _spray_field(seed: int, w: int, h: int, cx: float, cy: float) -> Array:
    """Normalised distance from the spray centre with a ragged, speckled edge."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.sqrt(((xx / w - cx) / 0.6) ** 2 + ((yy / h - cy) / 0.55) ** 2)
    ragged = fbm(xx / (0.08 * w), yy / (0.08 * w), seed, 3) - 0.5
    speckle = fbm(xx / 3.0, yy / 3.0, seed + 1, 2) - 0.5
    return (d + 0.35 * ragged + 0.25 * speckle * np.clip(d - 0.5, 0, 1)).astype(np.float32)


def defocus(e: TamperEvent, t: float) -> Lens:
    """Focus turned: blur grows to a strong Gaussian or disk blur over a few seconds."""
    rng = rng_for(e.seed, "defocus")
    r_max = float(rng.uniform(0.012, 0.03))
    ramp = float(rng.uniform(1.0, 8.0))
    disk = rng.random() < 0.5
    k = _onset(e, t, ramp)

    def apply(img: Array, ls: LightState) -> Array:
        w = img.shape[1]
        r = r_max * w * k
        if r < 0.5:
            return img
        if disk and r >= 2:
            n = math.ceil(r)
            ker = np.zeros((2 * n + 1, 2 * n + 1), np.float32)
            cv2.circle(ker, (n, n), n, 1.0, -1, cv2.LINE_AA)
            out: Array = cv2.filter2D(img, -1, ker / ker.sum(), borderType=cv2.BORDER_REFLECT)
            return out
        return cv2.GaussianBlur(img, (0, 0), max(r / 1.5, 0.3))

    return apply


def lenses_at(events: tuple[TamperEvent, ...], t: float) -> list[Lens]:
    """Lens-level effects active at t, nearest the scene first (focus, then paint, then a hand)."""
    order = {"defocus": 0, "spray": 1, "covered": 2}
    out = []
    for e in sorted((e for e in events if e.type in order and e.active(t)), key=lambda e: order[e.type]):
        out.append({"defocus": defocus, "spray": spray, "covered": cover}[e.type](e, t))
    return out


# -- video replaced -----------------------------------------------------------------------------------


def black_frame(e: TamperEvent, t: float, w: int, h: int) -> Array:
    """Signal lost: black with a little noise (level and noise picked by the event seed)."""
    look = rng_for(e.seed, "black")
    level, sigma = float(look.uniform(0, 5)), float(look.uniform(0, 2))
    rng = rng_for(e.seed, "black-frame", round(t * 1000))
    noise = rng.normal(level, sigma, (h, w, 1)) if sigma > 0.2 else np.full((h, w, 1), level)
    return np.repeat(np.clip(noise, 0, 255).astype(np.uint8), 3, axis=2)


_BLUE_TEXT = ("NO VIDEO", "VIDEO LOSS", "NO SIGNAL")


def blue_frame(e: TamperEvent, w: int, h: int, camera: str) -> Array:
    """The recorder's "no video" screen: flat blue with a message."""
    rng = rng_for(e.seed, "blue")
    colour = [(255, 0, 0), (170, 60, 16), (200, 80, 0), (140, 20, 0)][rng.integers(4)]
    img = np.full((h, w, 3), colour, np.uint8)
    text = _BLUE_TEXT[rng.integers(len(_BLUE_TEXT))]
    scale = h / 200
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    cv2.putText(
        img, text, ((w - tw) // 2, (h + th) // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 2, cv2.LINE_AA
    )
    if rng.random() < 0.6:
        cv2.putText(
            img,
            camera.upper(),
            (int(0.03 * w), int(0.1 * h)),
            cv2.FONT_HERSHEY_SIMPLEX,
            h / 500,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    return img
