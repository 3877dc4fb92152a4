"""A camera's scene rendered at media time t: world view, actors, light, weather, optics, sensor.

`Scene.render(t, pose, lenses)` is a pure function of the spec and its arguments: the same seed gives the
same frame, whatever order frames are asked for in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import cv2
import numpy as np

from simulators.cameras.actors import Layers, Light, Schedule, draw_person, draw_static, draw_vehicle
from simulators.cameras.layouts import SCENE_KINDS, build_site
from simulators.cameras.noise import fbm, rng_for
from simulators.cameras.nuisances import (
    LIGHTINGS,
    Lighting,
    LightState,
    Nuisances,
    cloud_shadow,
    drops_mask,
    frame_noise,
    noise_bank,
    rain_bank,
    shake,
    sway_maps,
)
from simulators.cameras.world import SKY_DEPTH, Array, World

#: A lens-level effect (defocus, paint, a hand over the lens): float BGR view image -> image.
Lens = Callable[[Array, LightState], Array]


@dataclass(frozen=True, slots=True)
class SceneSpec:
    """What a camera looks at: scene type, layout seed, picture size, time of day, nuisances."""

    kind: str = "fence_grass"
    seed: int = 0
    width: int = 640
    height: int = 360
    lighting: str = "day"
    ir_night: bool = True  # at night (and after a dusk switch) the picture is IR greyscale
    nuisances: Nuisances = field(default_factory=Nuisances)
    name: str = "cam"  # shown by the on-screen display

    def __post_init__(self) -> None:
        if self.kind not in SCENE_KINDS:
            raise ValueError(f"unknown scene kind {self.kind!r}; known: {', '.join(SCENE_KINDS)}")
        if self.lighting not in LIGHTINGS:
            raise ValueError(f"unknown lighting {self.lighting!r}; known: {', '.join(LIGHTINGS)}")
        if not (64 <= self.width <= 1920 and 48 <= self.height <= 1080):
            raise ValueError(f"picture size {self.width}x{self.height} out of range (64..1920 x 48..1080)")

    @property
    def label(self) -> str:
        """Scene name used in the ground truth, e.g. `wall_road_night`."""
        return f"{self.kind}_{self.lighting}"


@dataclass(frozen=True, slots=True)
class Pose:
    """Where the camera points relative to its installation: pan/tilt as fractions of the view, roll."""

    pan: float = 0.0  # + right, in view widths
    tilt: float = 0.0  # + down, in view heights
    roll_deg: float = 0.0


HOME = Pose()
_LAMP_SODIUM = np.array([0.35, 0.7, 1.0], np.float32)
_LAMP_LED = np.array([1.0, 0.97, 0.92], np.float32)
_HEADLAMP = np.array([0.9, 0.97, 1.0], np.float32)
_TONE_SCALE = 1024.0  # LUT entries per unit of exposed radiance


def _tone_curve() -> Array:
    """Linear up to 0.7, then a soft shoulder: highlights (IR hot spots, headlights) roll off instead of clipping."""
    x = np.arange(4 * int(_TONE_SCALE), dtype=np.float64) / _TONE_SCALE
    y = np.where(x < 0.7, x, 0.7 + 0.3 * np.tanh((x - 0.7) / 0.3))
    return np.round(np.clip(y, 0, 1) * 255).astype(np.uint8)


_TONE = _tone_curve()
_START_HOUR = {"day": 11.0, "dusk": 18.2, "night": 23.0, "dawn": 5.6}


class Scene:
    """A renderer for one SceneSpec; heavy constants (world, noise banks) are built once here."""

    def __init__(self, spec: SceneSpec) -> None:
        self.spec = spec
        w, h = spec.width, spec.height
        nz = spec.nuisances
        site = build_site(spec.kind, spec.seed, w, h)
        self.world: World = site.world
        self.cam = self.world.cam
        if site.parked:
            wd = self.world
            lay = Layers(wd.albedo, wd.ir, wd.depth, wd.lamp, wd.occ_rgb, wd.occ_alpha, wd.occ_depth, (0, 0))
            draw_static(lay, self.cam, site.parked, sun=0.7)
        self.schedule = Schedule(site.lanes, spec.seed, nz.traffic, nz.trucks)
        self.lighting = Lighting(spec.lighting, spec.ir_night, nz, spec.seed)
        rng = rng_for(spec.seed, "scene")
        self.noise = noise_bank(spec.seed, w, h) if nz.noise > 0 else None
        self.sigma = float(rng.uniform(1.2, 2.4)) * nz.noise
        self.rain = rain_bank(spec.seed, w, h, float(rng.uniform(-0.35, 0.35))) if nz.rain > 0 else None
        n_drops = int(rng.integers(0, 5))
        self.drops = drops_mask(spec.seed, w, h, n_drops)[..., None] if nz.rain >= 0.5 and n_drops else None
        self.cloud_size = float(rng.uniform(25, 70))
        ang = rng.uniform(0, 2 * math.pi)
        speed = rng.uniform(3, 9)
        self.cloud_wind = (speed * math.cos(ang), speed * math.sin(ang))
        self.sway_amp = nz.wind * 2.2 * w / 480
        self.sway_freq = float(rng.uniform(0.35, 0.8))
        self.sway_phase = None
        if self.world.sway_box is not None and nz.wind > 0:
            y0, y1, x0, x1 = self.world.sway_box
            yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
            self.sway_phase = (2 * math.pi * 2 * fbm(xx / 40, yy / 40, spec.seed, 2)).astype(np.float32)
        self.ir_range = float(rng.uniform(12, 35))
        self.ir_bias = float(rng.uniform(0.7, 1.4))
        self.lamp_rgb = _LAMP_SODIUM if rng.random() < 0.5 else _LAMP_LED
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2 * 0.6
        self.vignette = (1 - 0.25 * r2)[..., None].astype(np.float32)
        self.ir_vignette = (1 - 0.5 * r2)[..., None].astype(np.float32)
        self.hot = (rng.integers(0, h, 40), rng.integers(0, w, 40), rng.uniform(0.1, 0.6, 40).astype(np.float32))
        start_hour = _START_HOUR[spec.lighting] + rng.uniform(-0.5, 0.5)
        self.clock0 = datetime(2026, 1, 5) + timedelta(days=int(rng.integers(0, 300)), hours=start_hour)

    # -- geometry -------------------------------------------------------------------------------------

    def _window(self, t: float, pose: Pose) -> tuple[int, int, int, int]:
        w, h = self.spec.width, self.spec.height
        pw, ph = self.world.size
        sx, sy = shake(t, self.spec.seed, self.spec.nuisances.wind)
        cx = self.world.view_origin[0] + w / 2 + pose.pan * w + sx
        cy = self.world.view_origin[1] + h / 2 + pose.tilt * h + sy
        if abs(pose.roll_deg) > 1e-3:
            r = math.radians(pose.roll_deg)
            ww = math.ceil(w * abs(math.cos(r)) + h * abs(math.sin(r))) + 4
            hh = math.ceil(w * abs(math.sin(r)) + h * abs(math.cos(r))) + 4
        else:
            ww, hh = w, h
        ww, hh = min(ww, pw), min(hh, ph)
        x0 = int(np.clip(round(cx - ww / 2), 0, pw - ww))
        y0 = int(np.clip(round(cy - hh / 2), 0, ph - hh))
        return x0, y0, ww, hh

    # -- rendering ------------------------------------------------------------------------------------

    def render(self, t: float, pose: Pose = HOME, lenses: Sequence[Lens] = ()) -> Array:
        """The picture (uint8 BGR, height x width) at media time t, turned by `pose`, through `lenses`."""
        spec, wd = self.spec, self.world
        w, h = spec.width, spec.height
        x0, y0, ww, hh = self._window(t, pose)
        ls = self.lighting.at(t)
        sl = (slice(y0, y0 + hh), slice(x0, x0 + ww))
        lay = Layers(
            wd.albedo[sl].copy(),
            wd.ir[sl].copy(),
            wd.depth[sl].copy(),
            wd.lamp[sl].copy(),
            wd.occ_rgb[sl],
            wd.occ_alpha[sl],
            wd.occ_depth[sl],
            (x0, y0),
        )
        self._sway(lay, t)
        lights = self._actors(lay, t, ls)
        img = self._light(lay, t, ls, lights)
        if abs(pose.roll_deg) > 1e-3:
            m = cv2.getRotationMatrix2D((ww / 2, hh / 2), pose.roll_deg, 1.0)
            m[:, 2] += (w / 2 - ww / 2, h / 2 - hh / 2)
            img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            lights = [_moved(li, m) for li in lights]
        elif (ww, hh) != (w, h):
            img = cv2.resize(img, (w, h))
        img *= self.ir_vignette if ls.ir else self.vignette
        if lights:
            glare = self._glare(lights, w, h)
            if ls.ir:  # the IR picture is desaturated as a whole, lamps included
                glare = np.repeat(glare.mean(axis=2, keepdims=True), 3, axis=2)
            img += glare
        img = self._weather(img, t, ls)
        for lens in lenses:
            img = lens(img, ls)
        return self._sensor(img, t, ls)

    def _sway(self, lay: Layers, t: float) -> None:
        box, phase = self.world.sway_box, self.sway_phase
        if box is None or phase is None:
            return
        x0, y0 = lay.origin
        hh, ww = lay.depth.shape
        by0, by1, bx0, bx1 = max(box[0], y0), min(box[1], y0 + hh), max(box[2], x0), min(box[3], x0 + ww)
        if by1 <= by0 or bx1 <= bx0:
            return
        region = self.world.sway[by0:by1, bx0:bx1]
        ph = phase[by0 - box[0] : by1 - box[0], bx0 - box[2] : bx1 - box[2]]
        dx, dy = sway_maps(region, ph, t, self.sway_amp, self.sway_freq)
        yy, xx = np.mgrid[by0:by1, bx0:bx1].astype(np.float32)
        mx, my = xx + dx, yy + dy
        dst = (slice(by0 - y0, by1 - y0), slice(bx0 - x0, bx1 - x0))
        lay.albedo[dst] = cv2.remap(self.world.albedo, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        lay.ir[dst] = cv2.remap(self.world.ir, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    def _actors(self, lay: Layers, t: float, ls: LightState) -> list[Light]:
        night = ls.sun < 0.3
        sun = float(np.clip(ls.sun, 0, 1)) if not ls.ir else 0.0
        lights: list[Light] = []
        for actor, pos, dist in sorted(self.schedule.at(t), key=lambda a: -a[1][1]):
            if actor.kind == "person":
                draw_person(lay, self.cam, actor, pos, dist, sun)
            else:
                lights += draw_vehicle(lay, self.cam, actor, pos, sun, night)
        return lights

    def _light(self, lay: Layers, t: float, ls: LightState, lights: list[Light]) -> Array:
        wd = self.world
        x0, y0 = lay.origin
        hh, ww = lay.depth.shape
        sl = (slice(y0, y0 + hh), slice(x0, x0 + ww))
        beams = self._beams(lights, lay) if lights else None
        if ls.ir:
            d = lay.depth
            d2 = d * d + np.float32(self.cam.height_m**2)
            irl = 1.4 / (1 + d2 / np.float32(self.ir_range**2))
            grey = irl + np.float32(0.6 * ls.sun)
            if ls.lamps > 0:
                grey += np.float32(0.25 * ls.lamps) * lay.lamp
            if beams is not None:
                grey += 0.5 * beams
            grey *= lay.ir
            if ls.lamps > 0:
                grey += np.float32(0.5 * ls.lamps) * wd.glow[sl].mean(axis=2)
            return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
        warm = np.float32(ls.warmth)
        sun_rgb = (np.float32(1) - warm) + warm * np.array([0.55, 0.78, 1.0], np.float32)
        nz = self.spec.nuisances
        if nz.clouds > 0 and ls.sun > 0.2:
            xz = wd.ground_xz[y0 // 4 : (y0 + hh) // 4 + 1, x0 // 4 : (x0 + ww) // 4 + 1]
            shade = cloud_shadow(xz, t, self.spec.seed, 0.45 * min(nz.clouds, 1.6), self.cloud_size, self.cloud_wind)
            shade = cv2.resize(shade, (ww, hh), interpolation=cv2.INTER_LINEAR)
            shade[lay.depth >= SKY_DEPTH] = 1.0
            light = (np.float32(ls.sun) * shade)[..., None] * sun_rgb
        else:
            light = np.broadcast_to(np.float32(ls.sun) * sun_rgb, (hh, ww, 3)).copy()
        if ls.lamps > 0:
            light += (np.float32(0.35 * ls.lamps) * lay.lamp)[..., None] * self.lamp_rgb
        if beams is not None:
            light += beams[..., None] * _HEADLAMP
        img = lay.albedo * light
        if ls.lamps > 0:
            img += np.float32(0.6 * ls.lamps) * wd.glow[sl]
        return img

    def _beams(self, lights: list[Light], lay: Layers) -> Array | None:
        """Headlamp light on the road ahead of each vehicle, (hh, ww)."""
        wd, cam = self.world, self.cam
        x0, y0 = lay.origin
        hh, ww = lay.depth.shape
        qh, qw = hh // 4 + 1, ww // 4 + 1
        xz = wd.ground_xz[y0 // 4 : y0 // 4 + qh, x0 // 4 : x0 // 4 + qw]
        acc = np.zeros(xz.shape[:2], np.float32)
        for li in lights:
            if not li.beam:
                continue
            gx, gz = li.ground
            hx, hz = li.heading
            reach = 25.0 if hz >= 0 else min(25.0, max(0.0, (gz - 1.5) / -hz))
            if reach < 2:
                continue
            lx, lz = hz, -hx
            pts = [
                (gx + lx * 0.6 + hx * 0.5, gz + lz * 0.6 + hz * 0.5),
                (gx - lx * 0.6 + hx * 0.5, gz - lz * 0.6 + hz * 0.5),
                (gx - lx * reach * 0.3 + hx * reach, gz - lz * reach * 0.3 + hz * reach),
                (gx + lx * reach * 0.3 + hx * reach, gz + lz * reach * 0.3 + hz * reach),
            ]
            poly = []
            for px, pz in pts:
                u, v = cam.project(px, 0.0, max(pz, 1.0))
                poly.append(((u - x0) / 4, (v - y0) / 4))
            m = np.zeros_like(acc)
            cv2.fillPoly(m, [np.round(np.array(poly) * 8).astype(np.int32)], 1.0, cv2.LINE_8, 3)
            d2 = (xz[..., 0] - gx) ** 2 + (xz[..., 1] - gz) ** 2
            acc += m * (1.2 / (1 + d2 / 100.0))
        if not acc.any():
            return None
        acc = cv2.GaussianBlur(acc, (0, 0), 1.2)
        return cv2.resize(acc, (ww, hh), interpolation=cv2.INTER_LINEAR)[:hh, :ww]

    def _glare(self, lights: list[Light], w: int, h: int) -> Array:
        """Lamps facing the lens: bright cores with halos (half resolution, added to the picture)."""
        core = np.zeros((h // 2 + 1, w // 2 + 1, 3), np.float32)
        for li in lights:
            if li.strength <= 0.01:
                continue
            r = max(1, round(li.radius / 2))
            c = tuple(float(x * li.strength * 6) for x in li.colour)
            cv2.circle(core, (round(li.u / 2), round(li.v / 2)), r, c, -1, cv2.LINE_AA)
        if not core.any():
            return np.zeros((h, w, 3), np.float32)
        glare = core + cv2.GaussianBlur(core, (0, 0), 2.0) * 1.5 + cv2.GaussianBlur(core, (0, 0), 10.0) * 1.2
        return cv2.resize(glare, (w, h), interpolation=cv2.INTER_LINEAR)[:h, :w]

    def _weather(self, img: Array, t: float, ls: LightState) -> Array:
        nz = self.spec.nuisances
        if self.rain is None:
            return img
        k = np.float32(min(nz.rain, 2.0))
        mean = np.float32(img.mean())
        img = img * (1 - 0.15 * k) + 0.15 * k * mean
        streaks = self.rain[int(t * 25) % len(self.rain)]
        gain = 0.8 if ls.ir else 0.25 + 0.5 * min(ls.sun, 1.0)
        img += (streaks * np.float32(0.12 * k * gain))[..., None]
        if self.drops is not None:
            img = img * (1 - self.drops) + cv2.GaussianBlur(img, (0, 0), 4.0) * self.drops
        return img

    def _sensor(self, img: Array, t: float, ls: LightState) -> Array:
        """Auto-exposure, noise, quantisation, on-screen display."""
        spec = self.spec
        lum = float(img[::4, ::4].mean())
        gmax = 8.0 if ls.ir else 12.0
        gain = float(np.clip((0.42 / (lum + 1e-4)) ** 0.6, 0.35, gmax))
        gain *= ls.kick * (self.ir_bias if ls.ir else 1.0)
        img *= np.float32(gain * _TONE_SCALE)
        frame = round(t * 1000)
        if self.noise is not None:
            rng = rng_for(spec.seed, "flicker", frame)
            img *= np.float32(1 + 0.004 * rng.standard_normal())
            sigma = self.sigma * (0.6 + 0.8 * math.sqrt(gain))
            n = frame_noise(self.noise, spec.seed, frame, grey=ls.ir)
            img += n * np.float32(sigma * _TONE_SCALE / 255)
            if gain > 4:
                hy, hx, hv = self.hot
                img[hy, hx] += (hv * np.float32(0.15 * (gain - 4) * _TONE_SCALE))[:, None]
        np.clip(img, 0, len(_TONE) - 1, out=img)
        out: Array = _TONE[img.astype(np.uint16)]
        if spec.nuisances.osd:
            self._osd(out, t)
        return out

    def _osd(self, out: Array, t: float) -> None:
        h = out.shape[0]
        text = f"{self.spec.name.upper()}  {(self.clock0 + timedelta(seconds=int(t))):%Y-%m-%d %H:%M:%S}"
        scale = h / 520
        org = (int(h * 0.03), int(h * 0.07))
        # Outline by offset copies: a thicker stroke would also widen the glyph advance and misalign the text.
        for dx, dy in ((-1, -1), (1, -1), (-1, 1), (1, 1)):
            pos = (org[0] + dx, org[1] + dy)
            cv2.putText(out, text, pos, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (235, 235, 235), 1, cv2.LINE_AA)


def _moved(li: Light, m: Array) -> Light:
    u = m[0, 0] * li.u + m[0, 1] * li.v + m[0, 2]
    v = m[1, 0] * li.u + m[1, 1] * li.v + m[1, 2]
    return Light(float(u), float(v), li.radius, li.colour, li.strength, li.ground, li.heading, li.beam)
