"""The static world of a scene: a pinhole camera, surfaces ray-cast into a panorama wider than the view.

The panorama is larger than the camera's view so that a turned camera (pan, tilt, roll) sees another,
consistent part of the same scene. Besides colour it keeps what the per-frame renderer needs: depth,
IR reflectance, foliage (for sway), lamp light and glow (for night), and the see-through fence layer
that must be drawn again over people walking behind it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from simulators.cameras.noise import band

Array = np.ndarray
SKY_DEPTH = 1.0e4  # metres; anything at or beyond this is sky
WORLD_W = 2.4  # panorama width in view widths
WORLD_H = 2.0  # panorama height in view heights


@dataclass(frozen=True, slots=True)
class Pinhole:
    """A level pinhole camera at (0, height_m, 0) looking along +Z; pixel coordinates of the panorama."""

    f: float  # focal length, pixels
    cx: float  # column of the optical axis
    horizon: float  # row of the horizon
    height_m: float

    def project(self, x: float, y: float, z: float) -> tuple[float, float]:
        """Pixel (u, v) of the point (x right, y up, z forward), metres; z must be > 0."""
        return self.cx + self.f * x / z, self.horizon + self.f * (self.height_m - y) / z

    def scale(self, z: float) -> float:
        """Pixels per metre at depth z."""
        return self.f / z


@dataclass(slots=True)
class Hit:
    """Where a surface was hit, per selected pixel: plane coordinates (metres), footprints, depth."""

    a: Array
    b: Array
    fa: Array  # metres of `a` spanned by one pixel
    fb: Array
    z: Array


@dataclass(slots=True)
class Paint:
    """What a material shows at each hit: BGR albedo in [0, 1], coverage, IR reflectance, sway, glow."""

    rgb: Array  # (n, 3)
    alpha: Array  # (n,)
    ir: Array  # (n,)
    sway: Array | None = None  # 0..1 foliage weight
    glow: Array | None = None  # (n, 3) light emitted when lamps are on (lit windows, lamp heads)


Material = Callable[[Hit], Paint]


@dataclass(frozen=True, slots=True)
class Surface:
    """A rectangle on the ground (a=X, b=Z), on a plane x=pos (a=Z, b=Y) or z=pos (a=X, b=Y)."""

    kind: Literal["ground", "x", "z"]
    pos: float
    a: tuple[float, float]
    b: tuple[float, float]
    material: Material
    transparent: bool = False  # see-through (fence mesh): drawn again over actors behind it


@dataclass(frozen=True, slots=True)
class Lamp:
    """A street lamp: light source position (metres) and relative strength."""

    x: float
    y: float
    z: float
    strength: float = 1.0


@dataclass(slots=True)
class World:
    """A rasterised panorama and everything the renderer samples from it."""

    kind: str
    cam: Pinhole
    view_size: tuple[int, int]  # (w, h) of the camera picture
    view_origin: tuple[int, int]  # top-left of the nominal view in the panorama
    albedo: Array  # (H, W, 3) float32 BGR
    ir: Array  # (H, W) IR reflectance
    depth: Array  # (H, W) metres, SKY_DEPTH for sky
    sway: Array  # (H, W) foliage weight × amplitude factor
    glow: Array  # (H, W, 3) emitted light at night, with bloom
    lamp: Array  # (H, W) street-lamp illuminance
    ground_xz: Array  # (H/4, W/4, 2) X, Z of the hit point (for cloud shadows), 0 for sky
    occ_rgb: Array  # (H, W, 3) see-through layer colour
    occ_alpha: Array  # (H, W)
    occ_depth: Array  # (H, W)
    sway_box: tuple[int, int, int, int] | None = None  # (y0, y1, x0, x1) where sway > 0
    extras: dict[str, float] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        """Panorama (W, H)."""
        return self.albedo.shape[1], self.albedo.shape[0]


def _bbox(cam: Pinhole, s: Surface, w: int, h: int) -> tuple[int, int, int, int] | None:
    """Pixel box (y0, y1, x0, x1) that may contain the surface, or None if it is out of the panorama."""
    if s.kind == "ground":
        zlo, zhi = max(s.b[0], 0.05), s.b[1]
        v0 = cam.horizon + cam.f * cam.height_m / zhi if math.isfinite(zhi) else cam.horizon
        v1 = cam.horizon + cam.f * cam.height_m / zlo
        box = (int(v0) - 1, math.ceil(v1) + 2, 0, w)
    else:
        if s.kind == "x":
            zs = (max(s.a[0], 0.3), max(s.a[1], 0.3))
            pts = [cam.project(s.pos, y, z) for y in s.b for z in zs]
        else:
            if s.pos <= 0.3:
                return None
            pts = [cam.project(x, y, s.pos) for x in s.a for y in s.b]
        us = [p[0] for p in pts]
        vs = [p[1] for p in pts]
        box = (int(min(vs)) - 1, math.ceil(max(vs)) + 2, int(min(us)) - 1, math.ceil(max(us)) + 2)
    y0, y1, x0, x1 = max(box[0], 0), min(box[1], h), max(box[2], 0), min(box[3], w)
    return (y0, y1, x0, x1) if y1 > y0 and x1 > x0 else None


def _hit(cam: Pinhole, s: Surface, uu: Array, vv: Array) -> tuple[Hit, Array, Array, Array, Array]:
    """Intersect the rays of the pixel grid with a surface: Hit, coverage, and the X, Y, Z of each point."""
    f, hc = cam.f, cam.height_m
    dx = (uu - cam.cx) / f
    dy = -(vv - cam.horizon) / f
    with np.errstate(divide="ignore", invalid="ignore"):
        if s.kind == "ground":
            z = np.where(dy < -1e-6, hc / -dy, np.inf)
            x = z * dx
            y = np.zeros_like(z)
            a, b = x, z
            fb = z * z / (f * hc)
            fa = z / f + np.abs(dx) * fb
        elif s.kind == "x":
            z = np.where(dx * s.pos > 1e-9, s.pos / dx, np.inf)
            x = np.full_like(z, s.pos)
            y = hc + z * dy
            a, b = z, y
            fa = z * z / (f * abs(s.pos))
            fb = z / f + np.abs(dy) * fa
        else:
            z = np.full_like(dx, s.pos)
            x = s.pos * dx
            y = hc + s.pos * dy
            a, b = x, y
            fa = fb = z / f
    ok = np.isfinite(z) & (z > 0.05)
    cov = np.where(ok, band(np.where(ok, a, 0), *s.a, np.where(ok, fa, 1)), 0.0)
    cov = cov * np.where(ok, band(np.where(ok, b, 0), *s.b, np.where(ok, fb, 1)), 0.0)
    hit = Hit(a.astype(np.float32), b.astype(np.float32), fa.astype(np.float32), fb.astype(np.float32), z)
    return hit, cov.astype(np.float32), x, y, z


class _Canvas:
    def __init__(self, w: int, h: int) -> None:
        self.albedo = np.zeros((h, w, 3), np.float32)
        self.ir = np.zeros((h, w), np.float32)
        self.depth = np.full((h, w), SKY_DEPTH, np.float32)
        self.sway = np.zeros((h, w), np.float32)
        self.glow = np.zeros((h, w, 3), np.float32)
        self.pts = np.zeros((h, w, 3), np.float32)  # X, Y, Z of the visible point
        self.occ_rgb = np.zeros((h, w, 3), np.float32)
        self.occ_alpha = np.zeros((h, w), np.float32)
        self.occ_depth = np.full((h, w), SKY_DEPTH, np.float32)

    def draw(self, cam: Pinhole, s: Surface, ztest: bool) -> None:
        h, w = self.depth.shape
        box = _bbox(cam, s, w, h)
        if box is None:
            return
        y0, y1, x0, x1 = box
        vv, uu = np.mgrid[y0:y1, x0:x1].astype(np.float32) + np.float32(0.5)
        hit, cov, x, y, z = _hit(cam, s, uu, vv)
        sel = cov > 1e-3
        if ztest:
            sel &= z < self.depth[y0:y1, x0:x1]
        if not sel.any():
            return
        paint = s.material(Hit(hit.a[sel], hit.b[sel], hit.fa[sel], hit.fb[sel], hit.z[sel]))
        alpha = paint.alpha * cov[sel]
        rows, cols = np.nonzero(sel)
        rows += y0
        cols += x0
        a3 = alpha[:, None]
        self.albedo[rows, cols] += (paint.rgb - self.albedo[rows, cols]) * a3
        self.ir[rows, cols] += (paint.ir - self.ir[rows, cols]) * alpha
        sway = paint.sway if paint.sway is not None else np.zeros_like(alpha)
        self.sway[rows, cols] += (sway - self.sway[rows, cols]) * alpha
        glow = paint.glow if paint.glow is not None else np.zeros_like(paint.rgb)
        self.glow[rows, cols] += (glow - self.glow[rows, cols]) * a3
        solid = alpha > 0.5
        zs = z[sel].astype(np.float32)
        r, c = rows[solid], cols[solid]
        self.depth[r, c] = zs[solid]
        self.pts[r, c] = np.stack([x[sel][solid], y[sel][solid], zs[solid]], axis=1)
        if s.transparent:
            self.occ_rgb[rows, cols] += (paint.rgb - self.occ_rgb[rows, cols]) * a3
            self.occ_alpha[rows, cols] = 1 - (1 - self.occ_alpha[rows, cols]) * (1 - alpha)
            self.occ_depth[rows, cols] = np.minimum(self.occ_depth[rows, cols], zs)


def _lamp_light(pts: Array, sky: Array, lamps: Sequence[Lamp]) -> Array:
    """Illuminance of each visible point from the street lamps, 1.0 right under a lamp of strength 1."""
    out = np.zeros(pts.shape[:2], np.float32)
    for lp in lamps:
        d2 = (pts[..., 0] - lp.x) ** 2 + (pts[..., 1] - lp.y) ** 2 + (pts[..., 2] - lp.z) ** 2
        d = np.sqrt(d2) + 1e-3
        hgt = np.maximum(lp.y - pts[..., 1], 0.6)
        out += lp.strength * (lp.y**2 + 1) * hgt / (d * (d2 + 1))
    out[sky] = 0
    return np.minimum(out, 1.5)


def rasterise(
    kind: str,
    cam: Pinhole,
    view_size: tuple[int, int],
    view_origin: tuple[int, int],
    sky: Callable[[Array, Array, Array], tuple[Array, Array]],
    surfaces: Sequence[Surface],
    lamps: Sequence[Lamp],
    haze: tuple[Array, float],
) -> World:
    """Ray-cast the surfaces into a panorama: ground regions in order, solids z-tested, see-through last."""
    vw, vh = view_size
    w, h = round(vw * WORLD_W), round(vh * WORLD_H)
    cv = _Canvas(w, h)
    vv, uu = np.mgrid[0:h, 0:w].astype(np.float32) + np.float32(0.5)
    cv.albedo[:], cv.ir[:] = sky((uu - cam.cx) / cam.f, -(vv - cam.horizon) / cam.f, vv)
    for s in surfaces:
        if s.kind == "ground":
            cv.draw(cam, s, ztest=False)
    for s in surfaces:
        if s.kind != "ground" and not s.transparent:
            cv.draw(cam, s, ztest=True)
    see_through = [s for s in surfaces if s.kind != "ground" and s.transparent]
    for s in sorted(see_through, key=lambda s: -(s.pos if s.kind == "z" else sum(s.a) / 2)):
        cv.draw(cam, s, ztest=True)
    sky_mask = cv.depth >= SKY_DEPTH
    haze_rgb, visibility = haze
    hz = 1 - np.exp(-np.minimum(cv.depth, 5 * visibility) / visibility)
    hz[sky_mask] = 0
    cv.albedo += (haze_rgb[None, None, :] - cv.albedo) * hz[..., None]
    cv.ir *= 1 - 0.7 * hz
    lamp = _lamp_light(cv.pts, sky_mask, lamps)
    # Bloom: lamps and lit windows bleed into their surroundings, as they do through a real lens.
    glow = cv.glow + 0.6 * cv2.GaussianBlur(cv.glow, (0, 0), 2.0) + 0.5 * cv2.GaussianBlur(cv.glow, (0, 0), 9.0)
    small = cv2.resize(cv.pts[..., [0, 2]], (w // 4, h // 4), interpolation=cv2.INTER_NEAREST)
    small[cv2.resize(sky_mask.astype(np.uint8), (w // 4, h // 4), interpolation=cv2.INTER_NEAREST) > 0] = 0
    # Far foliage barely moves on screen: sway amplitude falls off with distance.
    sway = cv.sway * np.clip(25.0 / np.maximum(cv.depth, 1.0), 0, 1)
    sway = cv2.GaussianBlur(sway, (0, 0), 1.5)
    ys, xs = np.nonzero(sway > 0.02)
    box = (int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1) if len(ys) else None
    return World(
        kind=kind,
        cam=cam,
        view_size=view_size,
        view_origin=view_origin,
        albedo=np.clip(cv.albedo, 0, 1),
        ir=np.clip(cv.ir, 0, 1),
        depth=cv.depth,
        sway=sway,
        glow=glow,
        lamp=lamp,
        ground_xz=np.ascontiguousarray(small),
        occ_rgb=cv.occ_rgb,
        occ_alpha=cv.occ_alpha,
        occ_depth=cv.occ_depth,
        sway_box=box,
    )
