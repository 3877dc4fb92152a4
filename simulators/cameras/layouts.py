"""Scene types: where the camera is, what surfaces surround it, where people and vehicles go.

Every layout draws its geometry (camera height, field of view, tilt, which side the fence is on,
distances, materials, trees, lamps) from the seed, so two seeds of one type look like two sites.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from simulators.cameras import materials as m
from simulators.cameras.actors import _CARS, Actor, Lane, _bgr, _size
from simulators.cameras.noise import rng_for
from simulators.cameras.world import Lamp, Material, Pinhole, Surface, World, rasterise

SCENE_KINDS = ("fence_grass", "wall_road", "gate_parking", "yard_trees")
INF = 1.0e4

PEOPLE = ("person",)
TRAFFIC = ("car", "van", "truck")


@dataclass(slots=True)
class Layout:
    """Everything a scene type decides: camera, surfaces, lamps, lanes, parked vehicles."""

    cam: Pinhole
    origin: tuple[int, int]
    surfaces: list[Surface] = field(default_factory=list)
    lamps: list[Lamp] = field(default_factory=list)
    lanes: list[Lane] = field(default_factory=list)
    parked: list[tuple[Actor, tuple[float, float, float, float]]] = field(default_factory=list)


@dataclass(slots=True)
class Site:
    """A built scene: the rasterised world plus its moving parts."""

    world: World
    lanes: tuple[Lane, ...]
    parked: tuple[tuple[Actor, tuple[float, float, float, float]], ...]


def _span(a: float, b: float) -> tuple[float, float]:
    """The interval between a and b, whichever is larger."""
    return (min(a, b), max(a, b))


def _camera(rng: np.random.Generator, w: int, h: int) -> tuple[Pinhole, tuple[int, int]]:
    hfov = math.radians(rng.uniform(50, 80))
    f = w / (2 * math.tan(hfov / 2))
    x0 = int(rng.uniform(0.55, 0.85) * w)
    y0 = int(rng.uniform(0.42, 0.58) * h)
    horizon_frac = rng.uniform(0.12, 0.42)
    cam = Pinhole(f=f, cx=x0 + w / 2, horizon=y0 + horizon_frac * h, height_m=rng.uniform(3.0, 7.0))
    return cam, (x0, y0)


def _trees(
    rng: np.random.Generator,
    lay: Layout,
    n: int,
    xr: tuple[float, float],
    zr: tuple[float, float],
    conifer: float = 0.3,
) -> None:
    for _ in range(n):
        x, z = rng.uniform(*xr), rng.uniform(*zr)
        height = rng.uniform(4, 14)
        width = height * rng.uniform(0.45, 0.9)
        mat, (a0, a1) = m.tree(rng, x, height, width, conifer=rng.random() < conifer)
        lay.surfaces.append(Surface("z", z, (a0, a1), (0.0, height + 0.5), mat))


def _lamp(rng: np.random.Generator, lay: Layout, x: float, z: float, height: float, arm: float) -> None:
    lay.surfaces.append(Surface("z", z, (x - 1.2, x + 1.2), (0.0, height + 0.1), m.lamp_post(rng, x, height, arm)))
    lay.lamps.append(Lamp(x + arm * 0.7, height - 0.2, z, rng.uniform(0.7, 1.3)))


def _bezier(
    p0: tuple[float, float], c: tuple[float, float], p1: tuple[float, float], n: int = 8
) -> list[tuple[float, float]]:
    t = np.linspace(0, 1, n)
    pts = (
        (1 - t)[:, None] ** 2 * np.array(p0) + 2 * ((1 - t) * t)[:, None] * np.array(c) + t[:, None] ** 2 * np.array(p1)
    )
    return [(float(x), float(z)) for x, z in pts]


def _posts(rng: np.random.Generator, lay: Layout, xf: float, zs: list[float], top: float) -> None:
    mat = m.metal(rng)
    for z in zs:
        lay.surfaces.append(Surface("z", z, (xf - 0.04, xf + 0.04), (0.0, top), mat))


def _mesh(rng: np.random.Generator, top: float) -> Material:
    kind = rng.integers(3)
    if kind == 0:
        return m.chain_link(rng, top, barbed=rng.random() < 0.6)
    if kind == 1:
        return m.weld_mesh(rng, top)
    return m.palisade(rng, top)


def fence_grass(rng: np.random.Generator, w: int, h: int) -> Layout:
    """Looking along a perimeter fence across grass; a field and a road outside, a service road through a gate."""
    cam, origin = _camera(rng, w, h)
    lay = Layout(cam, origin)
    s = 1 if rng.random() < 0.5 else -1
    xf = s * rng.uniform(2.0, 5.5)
    top = rng.uniform(2.0, 2.6)
    zr = rng.uniform(14, 28)
    track = rng.uniform(1.2, 3.0)
    road_x = xf + s * rng.uniform(8, 20)
    lay.surfaces += [
        Surface("ground", 0, (-INF, INF), (0, INF), m.grass(rng)),
        Surface("ground", 0, _span(xf, s * INF), (0, INF), m.grass(rng) if rng.random() < 0.6 else m.dirt(rng)),
        Surface("ground", 0, _span(xf - s * track, xf), (0, INF), m.gravel(rng) if rng.random() < 0.5 else m.dirt(rng)),
        Surface("ground", 0, _span(road_x - 3.2, road_x + 3.2), (0, INF), m.asphalt(rng, ((road_x, 0.12, 3.0, 6.0),))),
        Surface("ground", 0, _span(-s * INF, road_x), (zr - 2.6, zr + 2.6), m.asphalt(rng, along_b=False)),
    ]
    mesh = _mesh(rng, top)
    lay.surfaces.append(Surface("x", xf, (0.3, zr - 3.6), (0.0, top + 0.45), mesh, transparent=True))
    lay.surfaces.append(Surface("x", xf, (zr + 3.6, 400.0), (0.0, top + 0.45), mesh, transparent=True))
    spacing = rng.uniform(2.4, 3.2)
    zs = [z for z in np.arange(1.0, 150.0, spacing) if abs(z - zr) > 3.7]
    _posts(rng, lay, xf, zs, top + 0.05)
    gate = m.metal(rng, m.bgr(70, 72, 75))
    for zg in (zr - 3.6, zr + 3.6):
        lay.surfaces.append(Surface("z", zg, (xf - 0.09, xf + 0.09), (0.0, top + 0.3), gate))
    lay.surfaces.append(Surface("x", xf + s * 0.3, (zr + 3.8, zr + 10.5), (0.0, top), m.palisade(rng, top), True))
    if rng.random() < 0.6:
        lay.surfaces.append(
            Surface("x", xf + s * 1.2, (zr + 12, zr + 60), (0.0, 2.5), m.hedge(rng, rng.uniform(1.0, 2.2)))
        )
    _trees(rng, lay, int(rng.integers(3, 9)), _span(xf + s * 3, road_x + s * 25), (zr + 8, 110))
    _trees(rng, lay, int(rng.integers(0, 3)), _span(-s * 25, -s * 5), (12, 70))
    lay.surfaces.append(Surface("z", rng.uniform(110, 220), (-INF, INF), (0.0, 30.0), m.treeline(rng, 6, 8)))
    for z in np.arange(rng.uniform(6, 20), 90, rng.uniform(25, 40)):
        _lamp(rng, lay, xf - s * 0.8, float(z), rng.uniform(5, 7), s)
    walk = xf - s * track / 2
    outer = _bezier((road_x - s * 1.6, zr + 10), (road_x - s * 1.6, zr - 1.0), (road_x - s * 10, zr - 1.0))
    lay.lanes += [
        Lane(((walk, 2.0), (walk, 80.0)), PEOPLE, 1.2, (0.9, 1.7), two_way=True),
        Lane(((road_x + s * 1.6, 3.0), (road_x + s * 1.6, 240.0)), TRAFFIC, 1.2, (8, 15)),
        Lane(((road_x - s * 1.6, 240.0), (road_x - s * 1.6, 3.0)), TRAFFIC, 1.2, (8, 15)),
        Lane(tuple([(road_x - s * 1.6, 200.0), *outer, (-s * 80, zr - 1.0)]), TRAFFIC, 0.6, (5, 9), two_way=True),
        Lane(((-s * 40, zr + 1.5), (xf - s * 0.5, zr + 1.5)), PEOPLE, 0.4, (1.0, 1.6), two_way=True),
    ]
    return lay


def wall_road(rng: np.random.Generator, w: int, h: int) -> Layout:
    """Mounted on a perimeter wall looking along its outside: pavement, a two-lane road, the far side."""
    cam, origin = _camera(rng, w, h)
    lay = Layout(cam, origin)
    s = 1 if rng.random() < 0.5 else -1
    xw = s * rng.uniform(0.8, 2.2)
    top = rng.uniform(2.4, 3.4)
    walk = rng.uniform(2.0, 3.5)
    kerb = xw - s * walk
    lane_w = rng.uniform(3.0, 3.6)
    far = kerb - s * 2 * lane_w

    yellow = rng.random() < 0.4
    lines = (
        (kerb - s * lane_w, 0.12, 0.0 if yellow else 3.0, 0.0 if yellow else 6.0),
        (kerb - s * 0.35, 0.1, 0.0, 0.0),
        (far + s * 0.35, 0.1, 0.0, 0.0),
    )
    lay.surfaces += [
        Surface("ground", 0, (-INF, INF), (0, INF), m.grass(rng)),
        Surface("ground", 0, _span(xw, kerb), (0, INF), m.paving(rng)),
        Surface("ground", 0, _span(kerb, far), (0, INF), m.asphalt(rng, lines)),
        Surface("ground", 0, _span(far - s * 2.5, far - s * 4.5), (0, INF), m.paving(rng)),
    ]
    wall = m.brick_wall(rng, top) if rng.random() < 0.5 else m.block_wall(rng, top)
    lay.surfaces.append(Surface("x", xw, (0.2, 400.0), (0.0, top), wall))
    if rng.random() < 0.6:
        lay.surfaces.append(Surface("x", xw, (0.2, 400.0), (top, top + 0.6), m.razor_wire(rng, top), True))
    xb = far - s * rng.uniform(6, 12)
    z = rng.uniform(5, 20)
    while z < 300:
        length = rng.uniform(10, 35)
        if rng.random() < 0.75:
            lay.surfaces.append(Surface("x", xb, (z, z + length), (0.0, rng.uniform(5, 16)), m.facade(rng, 12, 0.3)))
        z += length + rng.uniform(2, 15)
    _trees(rng, lay, int(rng.integers(2, 8)), _span(far - s * 2, xb + s * 1.5), (8, 120))
    lay.surfaces.append(Surface("z", rng.uniform(250, 400), (-INF, INF), (0.0, 40.0), m.treeline(rng, 10, 12)))
    for z in np.arange(rng.uniform(5, 15), 160, rng.uniform(24, 36)):
        _lamp(rng, lay, kerb + s * 0.4, float(z), rng.uniform(6, 8), -s)
    near, away = kerb - s * lane_w / 2, kerb - s * 1.5 * lane_w
    lay.lanes += [
        Lane(((xw - s * walk / 2, 2.0), (xw - s * walk / 2, 90.0)), PEOPLE, 1.5, (0.9, 1.7), two_way=True),
        Lane(((near, 220.0), (near, 3.0)), TRAFFIC, 1.6, (7, 14)),
        Lane(((away, 3.0), (away, 220.0)), TRAFFIC, 1.6, (7, 14)),
    ]
    return lay


def gate_parking(rng: np.random.Generator, w: int, h: int) -> Layout:
    """Looking across a car park at the perimeter fence and its vehicle gate, a road and buildings beyond."""
    cam, origin = _camera(rng, w, h)
    lay = Layout(cam, origin)
    zf = rng.uniform(22, 40)
    xg = rng.uniform(-7, 7)
    gw = rng.uniform(3.0, 4.5)
    top = rng.uniform(2.0, 2.6)
    z1 = rng.uniform(4, 8)
    aisle = z1 + 5 + 3
    bay = rng.uniform(2.4, 2.7)
    lot = m.asphalt(rng, along_b=False) if rng.random() < 0.6 else m.paving(rng)
    lay.surfaces += [
        Surface("ground", 0, (-INF, INF), (0, INF), m.grass(rng)),
        Surface("ground", 0, (-60, 60), (0, zf), lot),
        Surface("ground", 0, (-60, 60), (z1, z1 + 5), m.bay_lines(bay, 0.12)),
        Surface(
            "ground", 0, (-INF, INF), (zf + 2, zf + 9), m.asphalt(rng, ((zf + 5.5, 0.12, 3.0, 6.0),), along_b=False)
        ),
        Surface("ground", 0, (xg - gw, xg + gw), (zf - 1, zf + 2), m.asphalt(rng)),
        Surface("ground", 0, (-INF, INF), (zf + 9, zf + 11.5), m.paving(rng)),
    ]
    if aisle + 8 < zf - 2:
        lay.surfaces.append(Surface("ground", 0, (-60, 60), (aisle + 3, aisle + 8), m.bay_lines(bay, 0.12)))
    mesh = _mesh(rng, top)
    lay.surfaces.append(Surface("z", zf, (-INF, xg - gw - 0.2), (0.0, top + 0.45), mesh, transparent=True))
    lay.surfaces.append(Surface("z", zf, (xg + gw + 0.2, INF), (0.0, top + 0.45), mesh, transparent=True))
    post = m.metal(rng)
    spacing = rng.uniform(2.4, 3.2)
    for x in np.arange(-80, 80, spacing):
        if abs(x - xg) > gw + 0.5:
            lay.surfaces.append(Surface("z", zf - 0.03, (x - 0.04, x + 0.04), (0.0, top + 0.05), post))
    pillar = m.block_wall(rng, top + 0.5)
    for xp in (xg - gw - 0.45, xg + gw + 0.05):
        lay.surfaces.append(Surface("z", zf - 0.1, (xp, xp + 0.4), (0.0, top + 0.5), pillar))
    lay.surfaces.append(Surface("z", zf + 0.3, (xg + gw, xg + 3 * gw), (0.0, top), m.palisade(rng, top), True))
    booth_x = xg - gw - rng.uniform(3, 6) if rng.random() < 0.5 else xg + gw + rng.uniform(3, 6)
    booth = m.facade(rng, 2.8, 0.8)
    lay.surfaces.append(Surface("z", zf - 4, (booth_x - 1.3, booth_x + 1.3), (0.0, 2.8), booth))
    xb = rng.uniform(-60, -20)
    while xb < 60:
        width = rng.uniform(12, 40)
        if rng.random() < 0.8:
            lay.surfaces.append(
                Surface(
                    "z", zf + rng.uniform(14, 30), (xb, xb + width), (0.0, rng.uniform(6, 20)), m.facade(rng, 18, 0.35)
                )
            )
        xb += width + rng.uniform(1, 10)
    _trees(rng, lay, int(rng.integers(2, 7)), (-40, 40), (zf + 11, zf + 14))
    _trees(rng, lay, int(rng.integers(0, 3)), (-30, 30), (zf - 6, zf - 2))
    lay.surfaces.append(Surface("z", rng.uniform(150, 300), (-INF, INF), (0.0, 40.0), m.treeline(rng, 10, 10)))
    for _ in range(int(rng.integers(2, 5))):
        _lamp(rng, lay, rng.uniform(-25, 25), rng.uniform(z1 + 2, zf - 2), rng.uniform(6, 8), rng.choice([-1.0, 1.0]))
    for x in np.arange(rng.uniform(-40, -20), 40, rng.uniform(25, 35)):
        _lamp(rng, lay, float(x), zf + 11, 7.0, -1.0)
    for row_z, heading in ((z1 + 2.5, 1.0), (aisle + 5.5, -1.0)):
        if row_z > zf - 3:
            continue
        for x in np.arange(-30 + bay / 2, 30, bay):
            if rng.random() < 0.55 and abs(x - xg) > 1.5:
                kind = "car" if rng.random() < 0.85 else "van"
                size = _size(kind, rng)
                colour = _bgr(_CARS[rng.integers(len(_CARS))], rng)
                accent = _bgr(_CARS[0], rng)
                car = Actor(kind, -1, 0.0, 0.0, False, colour, accent, size, seed=int(rng.integers(1 << 30)))
                lay.parked.append((car, (float(x), float(row_z), 0.0, heading * rng.choice([1.0, -1.0]))))
    d = 1 if rng.random() < 0.5 else -1
    enter = [
        (-d * 90.0, zf + 4),
        *_bezier((xg - d * 8, zf + 4), (xg, zf + 4), (xg, zf - 3)),
        *_bezier((xg, aisle + 4), (xg, aisle), (xg + d * 8, aisle)),
        (d * 45.0, aisle),
    ]
    lay.lanes += [
        Lane(((-150.0, zf + 4), (150.0, zf + 4)), TRAFFIC, 1.5, (7, 13)),
        Lane(((150.0, zf + 7), (-150.0, zf + 7)), TRAFFIC, 1.5, (7, 13)),
        Lane(tuple(enter), TRAFFIC, 0.7, (3, 6), two_way=True),
        Lane(((-40.0, aisle), (40.0, aisle)), PEOPLE, 0.8, (1.0, 1.6), two_way=True),
        Lane(((xg + gw - 1, zf + 3), (xg + gw - 1, 3.0)), PEOPLE, 0.6, (1.0, 1.6), two_way=True),
        Lane(((-80.0, zf + 10.2), (80.0, zf + 10.2)), PEOPLE, 0.8, (1.0, 1.6), two_way=True),
    ]
    return lay


def yard_trees(rng: np.random.Generator, w: int, h: int) -> Layout:
    """A planted inner yard: lawn, trees and hedges close to the camera, a boundary wall across the back."""
    cam, origin = _camera(rng, w, h)
    lay = Layout(cam, origin)
    zw = rng.uniform(18, 35)
    top = rng.uniform(2.4, 3.2)
    xp = rng.uniform(-5, 5)
    zd = rng.uniform(9, min(16, zw - 4))
    drive = m.paving(rng) if rng.random() < 0.5 else m.asphalt(rng, along_b=False)
    lay.surfaces += [
        Surface("ground", 0, (-INF, INF), (0, INF), m.grass(rng, rng.uniform(0, 0.3))),
        Surface("ground", 0, (xp - 0.9, xp + 0.9), (0, zw), m.paving(rng)),
        Surface("ground", 0, (-INF, INF), (zd - 2.2, zd + 2.2), drive),
    ]
    wall = m.block_wall(rng, top) if rng.random() < 0.6 else m.brick_wall(rng, top)
    lay.surfaces.append(Surface("z", zw, (-INF, INF), (0.0, top), wall))
    if rng.random() < 0.5:
        lay.surfaces.append(Surface("z", zw - 0.05, (-INF, INF), (top, top + 0.6), m.razor_wire(rng, top), True))
    else:
        lay.surfaces.append(
            Surface("z", zw - 0.05, (-INF, INF), (top - 0.05, top + 0.45), m.chain_link(rng, top, True), True)
        )
    for _ in range(int(rng.integers(1, 4))):
        x0 = rng.uniform(-30, 20)
        lay.surfaces.append(
            Surface(
                "z",
                zw - rng.uniform(0.8, 2.0),
                (x0, x0 + rng.uniform(4, 15)),
                (0.0, 2.5),
                m.hedge(rng, rng.uniform(0.8, 2.0)),
            )
        )
    for xr in ((-20.0, -4.0), (4.0, 20.0)):
        _trees(rng, lay, int(rng.integers(1, 4)), xr, (8, zw - 3), conifer=0.35)
    _trees(rng, lay, int(rng.integers(3, 8)), (-40, 40), (zw + 3, zw + 20))
    lay.surfaces.append(Surface("z", zw + rng.uniform(25, 80), (-INF, INF), (0.0, 30.0), m.treeline(rng, 5, 5)))
    for _ in range(int(rng.integers(1, 4))):
        _lamp(rng, lay, rng.uniform(-12, 12), rng.uniform(6, zw - 2), rng.uniform(4, 6), rng.choice([-1.0, 1.0]))
    lay.lanes += [
        Lane(((xp, 2.0), (xp, zw - 1.5)), PEOPLE, 1.2, (0.8, 1.5), two_way=True),
        Lane(((-30.0, zd + 0.8), (30.0, zd + 0.8)), PEOPLE, 0.5, (1.0, 1.5), two_way=True),
        Lane(((-60.0, zd - 0.8), (60.0, zd - 0.8)), ("car", "van", "van", "truck"), 0.5, (3, 7), two_way=True),
    ]
    return lay


_BUILDERS: dict[str, Callable[[np.random.Generator, int, int], Layout]] = {
    "fence_grass": fence_grass,
    "wall_road": wall_road,
    "gate_parking": gate_parking,
    "yard_trees": yard_trees,
}


def build_site(kind: str, seed: int, width: int, height: int) -> Site:
    """Lay out and rasterise a scene of `kind` for a view of width x height; a pure function of its arguments."""
    if kind not in _BUILDERS:
        raise ValueError(f"unknown scene kind {kind!r}; known: {', '.join(SCENE_KINDS)}")
    rng = rng_for(seed, "layout", kind)
    lay = _BUILDERS[kind](rng, width, height)
    sky, haze = m.sky(rng)
    world = rasterise(
        kind, lay.cam, (width, height), lay.origin, sky, lay.surfaces, lay.lamps, (haze, float(rng.uniform(250, 1500)))
    )
    return Site(world, tuple(lay.lanes), tuple(lay.parked))
