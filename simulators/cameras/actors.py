"""People and vehicles passing through a scene: a seeded, unbounded schedule per lane, and their drawing.

Vehicles are boxes (body, cabin, cab, cargo) projected through the scene camera, so they foreshorten,
turn and grow as they approach; people are walking figures scaled by distance. Both are drawn into the
window's albedo/IR layers with a depth test against the scene, so walls, posts and trees hide them,
and a fence mesh is drawn again over anyone behind it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from simulators.cameras.noise import fbm, rng_for
from simulators.cameras.world import Array, Pinhole

BLOCK_S = 60.0  # schedule block: actors starting in [k·60, (k+1)·60) are drawn from one generator
SHIFT = 3  # fractional bits for sub-pixel drawing
_ONE = 1 << SHIFT


@dataclass(frozen=True, slots=True)
class Lane:
    """A ground path (X, Z metres) that people or vehicles follow, with a pass rate and speed range."""

    points: tuple[tuple[float, float], ...]
    kinds: tuple[str, ...]  # "person", "car", "van", "truck"
    rate_per_min: float
    speed: tuple[float, float]  # m/s
    two_way: bool = False


@dataclass(frozen=True, slots=True)
class Actor:
    """One pass of a person or vehicle along a lane."""

    kind: str
    lane: int
    start_s: float
    speed: float
    reverse: bool
    colour: tuple[float, float, float]  # BGR albedo of body / shirt
    accent: tuple[float, float, float]  # cab / trousers
    size: tuple[float, float, float]  # length, width, height (m)
    seed: int


@dataclass(frozen=True, slots=True)
class Light:
    """A lamp of a vehicle on screen (window pixels) with its ground position and heading, for glare and beams."""

    u: float
    v: float
    radius: float  # pixels
    colour: tuple[float, float, float]
    strength: float  # includes how much it faces the camera
    ground: tuple[float, float]
    heading: tuple[float, float]
    beam: bool  # headlamp (lights the road ahead) or tail lamp


@dataclass(slots=True)
class Layers:
    """Window crops the actors are drawn into (modified in place)."""

    albedo: Array
    ir: Array
    depth: Array
    lamp: Array
    occ_rgb: Array
    occ_alpha: Array
    occ_depth: Array
    origin: tuple[int, int]  # window top-left in panorama pixels


class PathGeom:
    """A polyline with arc-length lookup."""

    def __init__(self, points: tuple[tuple[float, float], ...]) -> None:
        self.p = np.asarray(points, np.float64)
        seg = np.diff(self.p, axis=0)
        self.seg_len = np.hypot(seg[:, 0], seg[:, 1])
        self.cum = np.concatenate([[0.0], np.cumsum(self.seg_len)])
        self.length = float(self.cum[-1])

    def at(self, s: float, reverse: bool) -> tuple[float, float, float, float]:
        """(x, z, heading x, heading z) at arc length s from the start (or the end, if reversed)."""
        if reverse:
            s = self.length - s
        i = int(np.clip(np.searchsorted(self.cum, s, side="right") - 1, 0, len(self.seg_len) - 1))
        t = (s - self.cum[i]) / max(self.seg_len[i], 1e-9)
        p = self.p[i] + (self.p[i + 1] - self.p[i]) * t
        d = (self.p[i + 1] - self.p[i]) / max(self.seg_len[i], 1e-9)
        if reverse:
            d = -d
        return float(p[0]), float(p[1]), float(d[0]), float(d[1])


_SHIRTS = [
    (40, 40, 45),
    (200, 200, 205),
    (30, 50, 110),
    (150, 30, 30),
    (60, 90, 60),
    (220, 180, 60),
    (90, 90, 100),
    (240, 120, 40),
    (120, 60, 110),
    (20, 20, 22),
]
_TROUSERS = [(35, 40, 60), (30, 30, 32), (90, 85, 75), (50, 60, 90), (120, 110, 90)]
_CARS = [
    (225, 225, 228),
    (185, 188, 192),
    (30, 30, 33),
    (120, 20, 25),
    (25, 45, 100),
    (90, 92, 95),
    (40, 70, 50),
    (200, 170, 40),
    (150, 150, 150),
]
_SIZES = {
    "person": ((0.3, 0.3), (0.45, 0.55), (1.55, 1.95)),
    "car": ((3.9, 4.8), (1.7, 1.85), (1.38, 1.55)),
    "van": ((4.8, 5.8), (1.9, 2.05), (1.95, 2.5)),
    "truck": ((8.0, 12.0), (2.4, 2.55), (3.3, 4.0)),
}


def _size(kind: str, rng: np.random.Generator) -> tuple[float, float, float]:
    """Length, width, height (m) of a person or vehicle of `kind`."""
    (l0, l1), (w0, w1), (h0, h1) = _SIZES[kind]
    return float(rng.uniform(l0, l1)), float(rng.uniform(w0, w1)), float(rng.uniform(h0, h1))


def _bgr(rgb: tuple[int, int, int], rng: np.random.Generator) -> tuple[float, float, float]:
    k = rng.uniform(0.85, 1.15)
    r, g, b = (min(1.0, c / 255 * k) for c in rgb)
    return (b, g, r)


class Schedule:
    """Who is where at time t: a Poisson process of passes per lane, in seeded blocks of 60 s."""

    def __init__(self, lanes: tuple[Lane, ...], seed: int, traffic: float, trucks: float) -> None:
        self.lanes = lanes
        self.paths = [PathGeom(ln.points) for ln in lanes]
        self.seed = seed
        self.traffic = traffic
        self.trucks = trucks
        self._blocks: dict[tuple[int, int], tuple[Actor, ...]] = {}

    def _block(self, lane: int, k: int) -> tuple[Actor, ...]:
        key = (lane, k)
        if key not in self._blocks:
            if len(self._blocks) > 4096:
                self._blocks.clear()
            self._blocks[key] = self._make(lane, k)
        return self._blocks[key]

    def _make(self, lane_i: int, k: int) -> tuple[Actor, ...]:
        ln = self.lanes[lane_i]
        rng = rng_for(self.seed, "actors", lane_i, k + 1_000_000)
        n = int(rng.poisson(ln.rate_per_min * self.traffic * BLOCK_S / 60))
        speed = rng.uniform(*ln.speed)
        out = []
        for _ in range(n):
            kinds = list(ln.kinds)
            weights = np.array([{"truck": 0.08 + 0.5 * self.trucks, "van": 0.25}.get(x, 1.0) for x in kinds])
            kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
            size = _size(kind, rng)
            if kind == "person":
                colour = _bgr(_SHIRTS[rng.integers(len(_SHIRTS))], rng)
                accent = _bgr(_TROUSERS[rng.integers(len(_TROUSERS))], rng)
            else:
                colour = _bgr(_CARS[rng.integers(len(_CARS))], rng)
                accent = _bgr(_CARS[rng.integers(len(_CARS))], rng)
            out.append(
                Actor(
                    kind=kind,
                    lane=lane_i,
                    start_s=float(k * BLOCK_S + rng.uniform(0, BLOCK_S)),
                    speed=float(speed * rng.uniform(0.9, 1.1)),
                    reverse=bool(ln.two_way and rng.random() < 0.5),
                    colour=colour,
                    accent=accent,
                    size=size,
                    seed=int(rng.integers(1 << 30)),
                )
            )
        return tuple(out)

    def at(self, t: float) -> list[tuple[Actor, tuple[float, float, float, float], float]]:
        """Actors on their lanes at t: (actor, (x, z, heading x, heading z), distance travelled)."""
        found = []
        for i, (ln, path) in enumerate(zip(self.lanes, self.paths, strict=True)):
            if ln.rate_per_min <= 0 or self.traffic <= 0:
                continue
            longest = path.length / max(ln.speed[0] * 0.9, 0.1)
            k_now = math.floor(t / BLOCK_S)
            for k in range(k_now - math.ceil(longest / BLOCK_S) - 1, k_now + 1):
                for a in self._block(i, k):
                    s = (t - a.start_s) * a.speed
                    if 0 <= s <= path.length:
                        found.append((a, path.at(s, a.reverse), s))
        return found


@lru_cache(maxsize=1)
def _grain() -> Array:
    """Tileable-enough 256x256 texture in [0.85, 1.15] for clothes and paint."""
    yy, xx = np.mgrid[0:256, 0:256].astype(np.float32)
    n = fbm(xx / 6, yy / 6, 4242, 4) + 0.5 * fbm(xx / 1.5, yy / 1.5, 4243, 2)
    return (0.85 + 0.3 * (n - n.min()) / (n.max() - n.min())).astype(np.float32)


def _grain_patch(h: int, w: int, seed: int) -> Array:
    g = _grain()
    ys = (np.arange(h) + seed % 200) % 256
    xs = (np.arange(w) + (seed // 200) % 200) % 256
    return g[np.ix_(ys, xs)]


class _Sprite:
    """A local 4-channel canvas (B, G, R, IR) and mask over the actor's bounding box."""

    def __init__(self, pts: list[Array], shape: tuple[int, int]) -> None:
        allp = np.concatenate(pts, axis=0)
        h, w = shape
        self.x0 = int(max(math.floor(allp[:, 0].min()) - 2, 0))
        self.y0 = int(max(math.floor(allp[:, 1].min()) - 2, 0))
        self.x1 = int(min(math.ceil(allp[:, 0].max()) + 3, w))
        self.y1 = int(min(math.ceil(allp[:, 1].max()) + 3, h))
        self.ok = self.x1 > self.x0 and self.y1 > self.y0
        if self.ok:
            self.img = np.zeros((self.y1 - self.y0, self.x1 - self.x0, 4), np.float32)
            self.mask = np.zeros(self.img.shape[:2], np.uint8)

    def _fix(self, p: Array) -> Array:
        return np.round((p - [self.x0, self.y0]) * _ONE).astype(np.int32)

    def poly(self, p: Array, colour: tuple[float, ...]) -> None:
        q = self._fix(p)
        cv2.fillPoly(self.img, [q], colour, cv2.LINE_8, SHIFT)
        cv2.fillPoly(self.mask, [q], 255, cv2.LINE_8, SHIFT)

    def line(self, p0: Array, p1: Array, width: float, colour: tuple[float, ...]) -> None:
        a, b = self._fix(p0[None, :])[0], self._fix(p1[None, :])[0]
        th = max(1, round(width))
        cv2.line(self.img, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), colour, th, cv2.LINE_8, SHIFT)
        cv2.line(self.mask, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), 255, th, cv2.LINE_8, SHIFT)

    def circle(self, c: Array, r: float, colour: tuple[float, ...]) -> None:
        q = self._fix(c[None, :])[0]
        rr = max(1, round(r * _ONE))
        cv2.circle(self.img, (int(q[0]), int(q[1])), rr, colour, -1, cv2.LINE_8, SHIFT)
        cv2.circle(self.mask, (int(q[0]), int(q[1])), rr, 255, -1, cv2.LINE_8, SHIFT)


def _ir(c: tuple[float, float, float], base: float = 0.3, k: float = 0.55) -> tuple[float, float, float, float]:
    lum = 0.11 * c[0] + 0.59 * c[1] + 0.3 * c[2]
    return (c[0], c[1], c[2], base + k * lum)


def _composite(lay: Layers, sp: _Sprite, z: float, seed: int, lamp: float) -> None:
    """Blend the sprite into the layers where it is nearer than the scene, then redraw any fence in front."""
    y0, y1, x0, x1 = sp.y0, sp.y1, sp.x0, sp.x1
    img = cv2.GaussianBlur(sp.img, (0, 0), 0.6)
    a = cv2.GaussianBlur(sp.mask.astype(np.float32) / 255.0, (0, 0), 0.6)
    a *= lay.depth[y0:y1, x0:x1] > z - 0.3
    grain = _grain_patch(y1 - y0, x1 - x0, seed)
    rgb = img[..., :3] / np.maximum(a, 1e-3)[..., None] * grain[..., None]
    ir = img[..., 3] / np.maximum(a, 1e-3) * grain
    a3 = a[..., None]
    alb = lay.albedo[y0:y1, x0:x1]
    alb += (rgb - alb) * a3
    lay.ir[y0:y1, x0:x1] += (ir - lay.ir[y0:y1, x0:x1]) * a
    on = a > 0.5
    lay.depth[y0:y1, x0:x1][on] = z
    lay.lamp[y0:y1, x0:x1][on] = lamp
    fence = a * lay.occ_alpha[y0:y1, x0:x1] * (lay.occ_depth[y0:y1, x0:x1] < z)
    if fence.any():
        alb += (lay.occ_rgb[y0:y1, x0:x1] - alb) * fence[..., None]
        lay.ir[y0:y1, x0:x1] += (0.45 - lay.ir[y0:y1, x0:x1]) * fence


def _shadow(lay: Layers, pts: Array, strength: float, z: float) -> None:
    """Darken the ground under an actor (soft, daylight only)."""
    h, w = lay.depth.shape
    x0, y0 = int(max(pts[:, 0].min() - 4, 0)), int(max(pts[:, 1].min() - 4, 0))
    x1, y1 = int(min(pts[:, 0].max() + 5, w)), int(min(pts[:, 1].max() + 5, h))
    if x1 <= x0 or y1 <= y0:
        return
    m = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.fillPoly(m, [np.round((pts - [x0, y0]) * _ONE).astype(np.int32)], 1.0, cv2.LINE_8, SHIFT)
    m = cv2.GaussianBlur(m, (0, 0), 1.5) * (lay.depth[y0:y1, x0:x1] > z - 1.0)
    lay.albedo[y0:y1, x0:x1] *= (1 - strength * m)[..., None]


def _on_screen(lay: Layers, cam: Pinhole, x: float, z: float, size: float) -> bool:
    """Cheap cull: could anything of an object of `size` metres at ground point (x, z) fall in the window?"""
    u, v = cam.project(x, 0.0, max(z - size / 2, 0.5))
    r = cam.scale(max(z - size / 2, 0.5)) * size
    h, w = lay.depth.shape
    u, v = u - lay.origin[0], v - lay.origin[1]
    return u + r >= 0 and u - r <= w and v + r >= 0 and v - r <= h


def draw_person(
    lay: Layers, cam: Pinhole, a: Actor, pos: tuple[float, float, float, float], dist: float, sun: float
) -> None:
    """A walking figure: legs and arms swinging with the distance walked, head, shirt, trousers."""
    x, z, hx, hz = pos
    if z < 1.0 or not _on_screen(lay, cam, x, z, a.size[2]):
        return
    ox, oy = lay.origin
    k = cam.scale(z)
    u, v = cam.project(x, 0.0, z)
    u, v = u - ox, v - oy
    hgt = a.size[2] * k
    if hgt < 3:
        return
    # Screen-space direction of travel: lateral walking shows the legs apart, walking to/from us does not.
    side = hx * z - x * hz
    lat = float(np.clip(side / max(abs(side) + abs(hz) * z * 0.5, 1e-6), -1, 1))
    phase = 2 * math.pi * dist / 1.45
    sw = math.sin(phase) * 0.33 * a.size[2] * lat
    bob = abs(math.cos(phase)) * 0.015 * hgt
    hip = np.array([u, v - 0.5 * hgt - bob])
    shoulder = np.array([u, v - 0.8 * hgt - bob])
    head = np.array([u, v - 0.91 * hgt - bob])
    half = a.size[1] * k / 2
    feet = [np.array([u + sw * k * 0.5, v]), np.array([u - sw * k * 0.5, v])]
    hands = [shoulder + np.array([-sw * k * 0.35, 0.36 * hgt]), shoulder + np.array([sw * k * 0.35, 0.36 * hgt])]
    neck = shoulder + np.array([0.0, 0.03 * hgt])
    body = np.array(
        [
            [u - half * 0.75, hip[1]],
            [u + half * 0.75, hip[1]],
            [u + half, shoulder[1]],
            [u - half, shoulder[1]],
        ]
    )
    sp = _Sprite([body, np.array([[u - half * 1.6, v + 2], [u + half * 1.6, head[1] - 0.12 * hgt]])], lay.depth.shape)
    if not sp.ok:
        return
    if sun > 0:
        d = 0.03 * hgt
        foot = np.array([[u - 1.5 * half, v - d], [u + 1.5 * half, v - d], [u + half, v + d], [u - half, v + d]])
        _shadow(lay, foot, 0.45 * sun, z)
    trousers, shirt = _ir(a.accent), _ir(a.colour)
    skin = _ir(_SKIN[a.seed % len(_SKIN)], 0.45, 0.4)
    leg_w, arm_w = 0.14 * k, 0.09 * k
    sp.line(hip, feet[0], leg_w, trousers)
    sp.line(hip, feet[1], leg_w, trousers)
    sp.line(neck, hands[0], arm_w, shirt)
    sp.poly(body, shirt)
    sp.line(neck, hands[1], arm_w, shirt)
    sp.circle(head, 0.11 * k, skin)
    sp.circle(head - [0, 0.035 * k], 0.09 * k, (0.05, 0.05, 0.06, 0.2))
    _composite(lay, sp, z, a.seed, _lamp_at(lay, u, v))


_SKIN = [(0.55, 0.65, 0.85), (0.4, 0.5, 0.7), (0.25, 0.33, 0.5), (0.6, 0.72, 0.92), (0.18, 0.24, 0.35)]


def _lamp_at(lay: Layers, u: float, v: float) -> float:
    h, w = lay.lamp.shape
    return float(lay.lamp[int(np.clip(v + 1, 0, h - 1)), int(np.clip(u, 0, w - 1))])


def _box(
    c: tuple[float, float],
    f: tuple[float, float],
    fr: tuple[float, float],
    lr: tuple[float, float],
    yr: tuple[float, float],
) -> Array:
    """Eight corners (x, y, z) of a box in vehicle coordinates: forward range, lateral range, height range."""
    fx, fz = f
    lx, lz = fz, -fx  # right-hand side of the vehicle
    out = []
    for fi in fr:
        for li in lr:
            for yi in yr:
                out.append((c[0] + fx * fi + lx * li, yi, c[1] + fz * fi + lz * li))
    return np.asarray(out, np.float64)


# Faces of _box corners: index bits are (forward, lateral, height); each with its outward normal in vehicle terms.
_FACES = {
    "front": ((4, 5, 7, 6), (1, 0)),
    "back": ((0, 1, 3, 2), (-1, 0)),
    "right": ((2, 3, 7, 6), (0, 1)),
    "left": ((0, 1, 5, 4), (0, -1)),
    "top": ((1, 3, 7, 5), None),
}


class _Projector:
    def __init__(self, cam: Pinhole, origin: tuple[int, int]) -> None:
        self.cam, self.ox, self.oy = cam, origin[0], origin[1]

    def __call__(self, p: Array) -> Array:
        z = np.maximum(p[..., 2], 0.05)
        u = self.cam.cx + self.cam.f * p[..., 0] / z - self.ox
        v = self.cam.horizon + self.cam.f * (self.cam.height_m - p[..., 1]) / z - self.oy
        return np.stack([u, v], axis=-1)


def _visible_faces(corners: Array, f: tuple[float, float], cam_h: float) -> list[tuple[str, Array]]:
    lx, lz = f[1], -f[0]
    out = []
    for name, (idx, nrm) in _FACES.items():
        q = corners[list(idx)]
        centre = q.mean(axis=0)
        if nrm is None:
            n = np.array([0.0, 1.0, 0.0])
        else:
            n = np.array([f[0] * nrm[0] + lx * nrm[1], 0.0, f[1] * nrm[0] + lz * nrm[1]])
        view = np.array([0.0, cam_h, 0.0]) - centre
        if float(n @ view) > 0:
            out.append((name, q))
    return out


def _sub(q: Array, s: tuple[float, float], t: tuple[float, float]) -> Array:
    """Sub-quad of a face (corners in _FACES order), s along its first edge, t along its height."""
    p0, p1, p2, p3 = q[0], q[1], q[2], q[3]
    # q order: (a0,b0), (a0,b1), (a1,b1), (a1,b0) for front/back/left/right: edges 0-3 and 1-2 are "along".

    def at(si: float, ti: float) -> Array:
        bottom = p0 + (p3 - p0) * si
        top = p1 + (p2 - p1) * si
        return bottom + (top - bottom) * ti

    return np.array([at(s[0], t[0]), at(s[0], t[1]), at(s[1], t[1]), at(s[1], t[0])])


_SHADE = {"front": 0.82, "back": 0.78, "left": 0.92, "right": 0.7, "top": 1.08}
_GLASS = (0.16, 0.13, 0.12, 0.1)


def _tint(c: tuple[float, ...], k: float) -> tuple[float, ...]:
    return tuple(min(1.0, x * k) for x in c)


def draw_vehicle(
    lay: Layers,
    cam: Pinhole,
    a: Actor,
    pos: tuple[float, float, float, float],
    sun: float,
    night: bool,
) -> list[Light]:
    """A car, van or truck made of projected boxes; returns its lamps (for glare and beams at night)."""
    x, z, hx, hz = pos
    length, width, height = a.size
    f = (hx, hz)
    foot = _box((x, z), f, (-length / 2, length / 2), (-width / 2, width / 2), (0.0, 0.0))
    if foot[:, 2].min() < 1.5 or not _on_screen(lay, cam, x, z, max(length, height)):
        return []
    proj = _Projector(cam, lay.origin)
    body, accent = _ir(a.colour, 0.35, 0.5), _ir(a.accent, 0.35, 0.5)
    parts: list[tuple[Array, tuple[float, ...], str]] = []
    tiny = cam.scale(z) * height < 8  # a few pixels: one box will do
    if tiny:
        parts.append((_box((x, z), f, (-length / 2, length / 2), (-width / 2, width / 2), (0.2, height)), body, "body"))
    elif a.kind == "car":
        parts.append((_box((x, z), f, (-length / 2, length / 2), (-width / 2, width / 2), (0.3, 0.92)), body, "body"))
        parts.append(
            (
                _box((x, z), f, (-length / 2 + 0.9, length / 2 - 1.3), (-width * 0.43, width * 0.43), (0.92, height)),
                body,
                "cabin",
            )
        )
    elif a.kind == "van":
        parts.append((_box((x, z), f, (-length / 2, length / 2), (-width / 2, width / 2), (0.35, height)), body, "van"))
    else:
        cab_len = 2.3
        parts.append(
            (
                _box((x, z), f, (-length / 2, length / 2), (-width * 0.4, width * 0.4), (0.45, 1.0)),
                (0.08, 0.08, 0.09, 0.1),
                "chassis",
            )
        )
        parts.append(
            (_box((x, z), f, (length / 2 - cab_len, length / 2), (-width / 2, width / 2), (0.55, 3.0)), accent, "van")
        )
        parts.append(
            (
                _box((x, z), f, (-length / 2, length / 2 - cab_len - 0.15), (-width / 2, width / 2), (0.95, height)),
                body,
                "cargo",
            )
        )
    under = _box((x, z), f, (-length / 2 + 0.2, length / 2 - 0.2), (-width * 0.45, width * 0.45), (0.0, 0.35))
    sp = _Sprite([proj(p) for p, _, _ in parts] + [proj(foot)], lay.depth.shape)
    if not sp.ok:
        return []
    if sun > 0:
        _shadow(lay, proj(foot[[0, 2, 6, 4]]), 0.55 * sun, float(foot[:, 2].min()))
    for _, q in _visible_faces(under, f, cam.height_m):
        sp.poly(proj(q), (0.03, 0.03, 0.03, 0.05))
    parts.sort(key=lambda p: -float(np.hypot(p[0][:, 0].mean(), p[0][:, 2].mean())))
    for corners, colour, role in parts:
        for name, q in _visible_faces(corners, f, cam.height_m):
            pq = proj(q)
            glassy = role == "cabin" and name != "top"
            sp.poly(pq, _GLASS if glassy else _tint(colour, _SHADE[name]))
            if role == "van" and name == "front":
                sp.poly(proj(_sub(q, (0.06, 0.94), (0.52, 0.92))), _GLASS)
            elif role == "van" and name in ("left", "right"):
                span = (0.5, 0.95) if a.kind == "truck" else (0.62, 0.95)
                sp.poly(proj(_sub(q, span, (0.55, 0.9))), _GLASS)
            if role == "cargo" and name in ("left", "right"):
                sp.poly(proj(_sub(q, (0.05, 0.95), (0.1, 0.25))), _tint(accent, 0.9))
    if not tiny:
        _wheels(sp, proj, (x, z), f, length, width, cam.height_m, a.kind)
    lights = _lamps(sp, proj, (x, z), f, length, width, a.kind, cam.height_m)
    _composite(lay, sp, float(foot[:, 2].min()), a.seed, _lamp_at(lay, *proj(np.array([x, 0.0, z]))))
    return lights if night else []


def _wheels(
    sp: _Sprite,
    proj: _Projector,
    c: tuple[float, float],
    f: tuple[float, float],
    length: float,
    width: float,
    cam_h: float,
    kind: str,
) -> None:
    r = 0.33 if kind == "car" else (0.36 if kind == "van" else 0.5)
    axles = [length / 2 - 0.85 - (0.3 if kind == "truck" else 0), -length / 2 + 0.85]
    if kind == "truck":
        axles.append(-length / 2 + 2.2)
    lx, lz = f[1], -f[0]
    ang = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    for side in (-1, 1):
        n = np.array([lx * side, 0.0, lz * side])
        centre0 = np.array([c[0] + lx * side * width / 2, r, c[1] + lz * side * width / 2])
        if float(n @ (np.array([0.0, cam_h, 0.0]) - centre0)) <= 0:
            continue
        for ax in axles:
            cen = centre0 + np.array([f[0] * ax, 0.0, f[1] * ax])
            ring = cen[None, :] + np.stack([f[0] * r * np.cos(ang), r * np.sin(ang), f[1] * r * np.cos(ang)], axis=1)
            sp.poly(proj(ring), (0.04, 0.04, 0.045, 0.06))
            hub = cen[None, :] + 0.45 * (ring - cen[None, :])
            sp.poly(proj(hub), (0.35, 0.35, 0.36, 0.3))


def _lamps(
    sp: _Sprite,
    proj: _Projector,
    c: tuple[float, float],
    f: tuple[float, float],
    length: float,
    width: float,
    kind: str,
    cam_h: float,
) -> list[Light]:
    lx, lz = f[1], -f[0]
    y = 0.7 if kind == "car" else (0.8 if kind == "van" else 1.0)
    out = []
    to_cam = np.array([-c[0], -c[1]])
    to_cam /= max(float(np.hypot(*to_cam)), 1e-6)
    for front in (True, False):
        sgn = 1.0 if front else -1.0
        facing = float(np.dot([f[0] * sgn, f[1] * sgn], to_cam))
        for side in (-1, 1):
            off = width / 2 - 0.3
            p = np.array(
                [c[0] + f[0] * sgn * length / 2 + lx * side * off, y, c[1] + f[1] * sgn * length / 2 + lz * side * off]
            )
            if p[2] < 1.0:
                continue
            uv = proj(p)
            rpx = max(0.8, 0.1 * sp_scale(proj, p[2]))
            colour = (0.9, 0.97, 1.0) if front else (0.1, 0.1, 0.9)
            if facing > 0:
                sp.circle(uv, rpx, (*colour, 0.9))
            out.append(
                Light(
                    u=float(uv[0]),
                    v=float(uv[1]),
                    radius=rpx,
                    colour=colour,
                    strength=max(0.0, facing) ** 1.5 * (1.0 if front else 0.25),
                    ground=(float(p[0]), float(p[2])),
                    heading=(f[0] * sgn, f[1] * sgn),
                    beam=front,
                )
            )
    return out


def sp_scale(proj: _Projector, z: float) -> float:
    """Pixels per metre at depth z for a projector."""
    return proj.cam.f / max(z, 0.05)


def draw_static(
    lay: Layers, cam: Pinhole, parked: tuple[tuple[Actor, tuple[float, float, float, float]], ...], sun: float
) -> None:
    """Parked vehicles, drawn like moving ones but never lit."""
    for a, pos in sorted(parked, key=lambda p: -p[1][1]):
        draw_vehicle(lay, cam, a, pos, sun, night=False)
