"""Tiny synthetic perimeter scenes with known ground truth, for the analyzer's unit tests.

Independent of the camera simulator on purpose: a second, cruder source of footage that the analyzer was
not developed on. A scene is a wide panorama (sky, buildings, fence, road, grass texture) of which the
camera sees a window; nuisances (vehicles, people, headlights, rain, cloud shadows, IR switch) and tampers
(black/blue screen, freeze, cover, blur, turned away) are applied per frame.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

W, H = 640, 360


@dataclass(frozen=True)
class Tamper:
    """A tamper from `start` to `end` (seconds; end None = to the end of the clip)."""

    kind: str  # black | blue | frozen | cover | blur | turn
    start: float
    end: float | None = None

    def active(self, t: float) -> bool:
        return t >= self.start and (self.end is None or t < self.end)


@dataclass
class Scene:
    """A seeded scene; `frame(t)` renders the camera's picture at time t (BGR uint8)."""

    seed: int = 1
    fps: float = 10.0
    nuisances: tuple[str, ...] = ("vehicles", "people", "headlights", "rain", "clouds", "ir")
    tampers: tuple[Tamper, ...] = ()
    noise: float = 3.0
    _rng: np.random.Generator = field(init=False, repr=False)
    _pano: np.ndarray = field(init=False, repr=False)
    _frozen: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._pano = _panorama(self.seed)

    def frames(self, duration: float) -> Iterator[tuple[float, np.ndarray]]:
        """Yield (t, frame) for the whole clip at the scene's frame rate."""
        for i in range(round(duration * self.fps)):
            t = i / self.fps
            yield t, self.frame(t)

    def frame(self, t: float) -> np.ndarray:
        """Render the picture at time `t`."""
        active = {tp.kind for tp in self.tampers if tp.active(t)}
        if "frozen" in active and self._frozen is not None:
            return self._frozen.copy()
        if "black" in active:
            return np.full((H, W, 3), 16, np.uint8)
        if "blue" in active:
            img = np.zeros((H, W, 3), np.uint8)
            img[:] = (160, 40, 0)
            cv2.putText(img, "NO VIDEO", (200, 190), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (255, 255, 255), 3)
            return img
        img = self._pano[:, 40 : 40 + W].astype(np.float32)
        if "turn" in active:  # turned on its mount: panned along the fence and rolled
            rot = cv2.getRotationMatrix2D((W / 2, H / 2), 25.0, 1.0)
            img = cv2.warpAffine(self._pano[:, 500 : 500 + W], rot, (W, H), borderMode=cv2.BORDER_REFLECT)
            img = img.astype(np.float32)
        img = self._nuisances(img, t)
        if "blur" in active:
            img = cv2.GaussianBlur(img, (0, 0), 4.0)
        if "cover" in active:
            img = _cover(img, self.seed)
        if self._night(t):  # IR mode: a monochrome sensor, noisier
            img += self._rng.normal(0, 2 * self.noise, img.shape[:2]).astype(np.float32)[:, :, None]
        else:
            img += self._rng.normal(0, self.noise, img.shape).astype(np.float32)
        out = np.clip(img, 0, 255).astype(np.uint8)
        if "frozen" not in active:
            self._frozen = out
        return out

    def _night(self, t: float) -> bool:
        return "ir" in self.nuisances and (t % 80.0) >= 40.0

    def _nuisances(self, img: np.ndarray, t: float) -> np.ndarray:
        rng = np.random.default_rng((self.seed, int(t * 1000)))
        if "clouds" in self.nuisances:
            # A soft shadow drifting across, darkening up to 35 %.
            cx = (t * 12.0) % (W + 400) - 200
            xs = np.arange(W, dtype=np.float32)
            shade = 1.0 - 0.35 * np.exp(-(((xs - cx) / 150.0) ** 2))
            img *= shade[None, :, None]
        if "vehicles" in self.nuisances:
            period = 23.0
            phase = (t % period) / 6.0  # a vehicle crosses in 6 s, every 23 s
            if phase < 1.0:
                x = int(-260 + phase * (W + 260))
                y = 210
                cv2.rectangle(img, (x, y), (x + 240, y + 110), (40, 40, 170), -1)
                cv2.rectangle(img, (x + 150, y + 10), (x + 230, y + 50), (200, 200, 210), -1)
        if "people" in self.nuisances:
            for k in range(3):
                x = int((t * (20 + 7 * k) + 150 * k) % W)
                cv2.rectangle(img, (x, 230 + 10 * k), (x + 18, 290 + 10 * k), (60 + 30 * k, 80, 90), -1)
        if "rain" in self.nuisances and (t % 60.0) < 30.0:
            streaks = np.zeros((H, W), np.float32)
            n = 350
            xs, ys = rng.integers(0, W, n), rng.integers(0, H, n)
            for x, y in zip(xs, ys, strict=True):
                cv2.line(streaks, (int(x), int(y)), (int(x) + 3, int(y) + 14), 60.0, 1)
            img += streaks[:, :, None]
        if self._night(t):
            grey = img.mean(axis=2, keepdims=True)
            img = np.repeat(grey * 0.35 + 6.0, 3, axis=2)
        if "headlights" in self.nuisances and (t % 31.0) < 3.0:
            p = (t % 31.0) / 3.0
            cx, cy = int(W * p), 250
            yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
            glare = 400.0 * np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 90.0**2)))
            img += glare[:, :, None]
        return img


def _panorama(seed: int) -> np.ndarray:
    """A wide (2x) static view: sky, buildings with windows, a fence, a road and textured grass."""
    rng = np.random.default_rng(seed + 1000)
    pw = 2 * W
    img = np.zeros((H, pw, 3), np.float32)
    sky = np.linspace(200, 150, 140, dtype=np.float32)
    img[:140] = np.stack([sky + 20, sky, sky - 30], axis=1)[:, None, :]
    grass = rng.normal(0, 18, (H - 140, pw)).astype(np.float32)
    grass = cv2.GaussianBlur(grass, (0, 0), 1.2) * 2.0
    img[140:] = np.stack([60 + grass, 110 + grass, 70 + grass], axis=2)
    x = 0
    while x < pw:
        bw, bh = int(rng.integers(90, 200)), int(rng.integers(50, 120))
        shade = float(rng.uniform(80, 200))
        cv2.rectangle(img, (x, 140 - bh), (x + bw, 140), (shade, shade * 0.95, shade * 0.9), -1)
        for wx in range(x + 10, x + bw - 15, 22):
            for wy in range(140 - bh + 10, 130, 20):
                cv2.rectangle(img, (wx, wy), (wx + 10, wy + 10), (40, 50, 60), -1)
        x += bw + int(rng.integers(5, 60))
    cv2.rectangle(img, (0, 280), (pw, 330), (90, 90, 95), -1)
    for px in range(0, pw, 32):
        cv2.line(img, (px, 150), (px, 215), (30, 30, 30), 2)
    for wy in (160, 185, 210):
        cv2.line(img, (0, wy), (pw, wy), (50, 50, 50), 1)
    return img


def _cover(img: np.ndarray, seed: int) -> np.ndarray:
    """Cover ~80 % of the picture with an opaque, out-of-focus object close to the lens (a hand, a bag)."""
    rng = np.random.default_rng(seed + 7)
    mask = np.zeros((H, W), np.float32)
    cv2.ellipse(mask, (W // 2 + 60, H // 2 + 20), (300, 230), 10.0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 12.0)[:, :, None]
    blotches = cv2.GaussianBlur(rng.normal(0, 1, (H, W)).astype(np.float32), (0, 0), 40.0)
    blotches *= 12.0 / max(float(blotches.std()), 1e-6)
    cover = np.stack([34 + blotches, 30 + blotches, 28 + blotches], axis=2)
    return img * (1 - mask) + cover * mask


def lamp_pools(seed: int) -> np.ndarray:
    """Soft pools of street-lamp light over the lower picture, (H, W, 1) in [0, 1]."""
    rng = np.random.default_rng(seed)
    pools = np.zeros((H, W), np.float32)
    for _ in range(7):
        centre = (int(rng.uniform(0, W)), int(rng.uniform(0.3 * H, H)))
        axes = (int(rng.uniform(40, 90)), int(rng.uniform(25, 50)))
        cv2.ellipse(pools, centre, axes, 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(pools, (0, 0), 12.0)[:, :, None]


def dawn(frame: np.ndarray, pools: np.ndarray, lamps: float) -> np.ndarray:
    """The picture at dawn: dim daylight, plus lamp light (`lamps` from 1, full, to 0, out) in the pools;
    the daylight rises as the lamps go out. Light multiplies what the scene reflects."""
    light = 0.15 + 0.35 * (1.0 - lamps) + 1.3 * lamps * pools
    return np.clip(frame.astype(np.float32) * light, 0, 255).astype(np.uint8)


def write_clip(path: Path, scene: Scene, duration: float) -> Path:
    """Encode the scene to an H.264 MP4 with ffmpeg."""
    cmd = [
        "ffmpeg",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "bgr24",
        "-s",
        f"{W}x{H}",
        "-r",
        str(scene.fps),
        "-i",
        "-",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "26",
        "-g",
        str(int(scene.fps * 2)),
        "-pix_fmt",
        "yuv420p",
        str(path),
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for _, frame in scene.frames(duration):
        proc.stdin.write(frame.tobytes())
    proc.stdin.close()
    if proc.wait(timeout=120) != 0:
        raise RuntimeError(f"ffmpeg failed for {path}")
    return path
