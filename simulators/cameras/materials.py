"""Procedural materials: colour, coverage and IR reflectance as functions of metric surface coordinates.

Each factory draws its look (colours, sizes) from a Generator once and returns a pure `Material`.
Colours are written as RGB for readability and stored BGR, OpenCV's order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simulators.cameras.noise import band, fade, fbm, hash01, smoothstep, stripes, value_noise
from simulators.cameras.world import Array, Hit, Material, Paint


def bgr(r: float, g: float, b: float) -> Array:
    """BGR float colour in [0, 1] from 0..255 RGB."""
    return np.array([b, g, r], np.float32) / 255.0


def _vary(rng: np.random.Generator, colour: Array, amount: float) -> Array:
    """Colour with a random brightness change of ±amount and a slight (quarter as strong) tint."""
    tint = 1 + rng.uniform(-amount, amount, 3) / 4
    return np.clip(colour * tint * rng.uniform(1 - amount, 1 + amount), 0, 1).astype(np.float32)


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(1, 1 << 30))


def _tex(h: Hit, sa: float, sb: float, seed: int, octaves: int) -> Array:
    """Fractal noise with cells of sa x sb metres, band-limited to the pixel footprint."""
    fp = np.maximum(h.fa / sa, h.fb / sb)
    return fbm(h.a / sa, h.b / sb, seed, octaves, fp)


def _mix(c0: Array, c1: Array, t: Array) -> Array:
    return c0[None, :] + (c1 - c0)[None, :] * t[:, None]


def grass(rng: np.random.Generator, dryness: float | None = None) -> Material:
    """Lawn or field grass: patchy hue, clumps, blade-scale grain."""
    dry = rng.uniform(0, 0.7) if dryness is None else dryness
    lush = _vary(rng, bgr(62, 92, 38), 0.12)
    straw = _vary(rng, bgr(128, 118, 72), 0.12)
    base = lush + (straw - lush) * dry
    s = _seed(rng)

    def paint(h: Hit) -> Paint:
        patches = _tex(h, 7.0, 7.0, s, 3)
        clumps = _tex(h, 0.6, 0.6, s + 1, 3)
        tufts = _tex(h, 0.1, 0.18, s + 3, 2)
        blades = _tex(h, 0.025, 0.08, s + 2, 2)
        col = _mix(base, straw, np.clip(0.8 * (patches - 0.35), 0, 1))
        shade = 0.5 + 0.55 * clumps + 0.6 * (tufts - 0.5) + 0.5 * (blades - 0.5)
        return Paint(col * shade[:, None], np.ones_like(shade), 0.5 + 0.25 * clumps)

    return paint


def dirt(rng: np.random.Generator) -> Material:
    """Bare earth or a worn track."""
    base = _vary(rng, bgr(112, 92, 68), 0.15)
    s = _seed(rng)

    def paint(h: Hit) -> Paint:
        big = _tex(h, 3.0, 3.0, s, 3)
        fine = _tex(h, 0.05, 0.05, s + 1, 3)
        shade = 0.6 + 0.5 * big + 0.5 * (fine - 0.5)
        return Paint(base[None, :] * shade[:, None], np.ones_like(shade), 0.35 + 0.1 * big)

    return paint


def gravel(rng: np.random.Generator) -> Material:
    """Loose stones a few centimetres across."""
    base = _vary(rng, bgr(140, 134, 124), 0.12)
    s = _seed(rng)
    size = rng.uniform(0.02, 0.04)

    def paint(h: Hit) -> Paint:
        ia, ib = np.floor(h.a / size), np.floor(h.b / size)
        stone = hash01(ia, ib, s)
        w = fade(np.maximum(h.fa, h.fb), size)
        shade = 0.85 + w * 0.5 * (stone - 0.5) + 0.3 * (_tex(h, 2.0, 2.0, s + 1, 2) - 0.5)
        return Paint(base[None, :] * shade[:, None], np.ones_like(shade), 0.42 + 0.1 * w * (stone - 0.5))

    return paint


def asphalt(
    rng: np.random.Generator,
    lines: tuple[tuple[float, float, float, float], ...] = (),
    along_b: bool = True,
) -> Material:
    """Road surface with patches and cracks; lines are (centre, width, dash, gap) across the road axis."""
    base = _vary(rng, bgr(62, 62, 64), 0.2)
    paint_col = bgr(220, 220, 210) if rng.random() < 0.7 else bgr(215, 180, 60)
    s = _seed(rng)

    def paint(h: Hit) -> Paint:
        across, along = (h.a, h.b) if along_b else (h.b, h.a)
        f_across, f_along = (h.fa, h.fb) if along_b else (h.fb, h.fa)
        patches = _tex(h, 4.0, 4.0, s, 3)
        grain = _tex(h, 0.012, 0.012, s + 1, 2)
        crack_n = _tex(h, 1.5, 1.5, s + 2, 3)
        crack = (1 - smoothstep(0.0, 0.012, np.abs(crack_n - 0.5))) * fade(np.maximum(h.fa, h.fb), 0.02)
        shade = 0.8 + 0.4 * patches + 0.35 * (grain - 0.5) - 0.35 * crack
        col = base[None, :] * shade[:, None]
        ir = 0.22 + 0.05 * patches
        for centre, width, dash, gap in lines:
            m = band(across, centre - width / 2, centre + width / 2, f_across)
            if dash > 0:
                m = m * stripes(along, dash + gap, dash, f_along)
            wear = 0.75 + 0.25 * grain
            col = col + (paint_col[None, :] * wear[:, None] - col) * m[:, None]
            ir = ir + (0.6 - ir) * m
        return Paint(col, np.ones_like(shade), ir)

    return paint


def paving(rng: np.random.Generator, lines: tuple[tuple[float, float], ...] = ()) -> Material:
    """Concrete slabs or pavers with joints; lines are parking-bay stripes (period, width) along a."""
    base = _vary(rng, bgr(150, 146, 138), 0.12)
    tile = rng.uniform(0.3, 1.2)
    line_col = bgr(225, 225, 215)
    s = _seed(rng)

    def paint(h: Hit) -> Paint:
        joints = np.maximum(stripes(h.a, tile, 0.012, h.fa), stripes(h.b, tile, 0.012, h.fb))
        t = hash01(np.floor(h.a / tile), np.floor(h.b / tile), s) - 0.5
        w = fade(np.maximum(h.fa, h.fb), tile)
        shade = 0.9 + 0.25 * w * t + 0.3 * (_tex(h, 3.0, 3.0, s + 1, 3) - 0.5) + 0.2 * (_tex(h, 0.02, 0.02, s, 2) - 0.5)
        shade = shade * (1 - 0.45 * joints)
        col = base[None, :] * shade[:, None]
        for period, width in lines:
            m = stripes(h.a, period, width, h.fa)
            col = col + (line_col - col) * m[:, None]
        return Paint(col, np.ones_like(shade), 0.45 + 0.05 * t)

    return paint


def brick_wall(rng: np.random.Generator, top: float) -> Material:
    """Running-bond brick with mortar joints, weathering, a concrete coping on top."""
    brick = _vary(rng, bgr(150, 72, 52) if rng.random() < 0.7 else bgr(176, 150, 112), 0.15)
    mortar = _vary(rng, bgr(170, 165, 155), 0.08)
    coping = _vary(rng, bgr(160, 160, 155), 0.08)
    s = _seed(rng)
    row, length = 0.075, 0.225

    def paint(h: Hit) -> Paint:
        r = np.floor(h.b / row)
        off = np.mod(r, 2) * length / 2
        k = np.floor((h.a + off) / length)
        w = fade(np.minimum(h.fa, h.fb), row)
        tint = 1 + 0.35 * w * (hash01(k, r, s) - 0.5)
        joint = np.maximum(stripes(h.b, row, 0.011, h.fb), stripes(h.a + off, length, 0.011, h.fa))
        stain = _tex(h, 1.5, 1.5, s + 1, 3)
        grime = 1 - 0.35 * smoothstep(0.6, 0.0, h.b) - 0.2 * (stain - 0.5)
        col = _mix(brick, mortar, joint) * (tint * grime)[:, None]
        cap = band(h.b, top - 0.12, top + 1, h.fb)
        col = col + (coping[None, :] * grime[:, None] - col) * cap[:, None]
        return Paint(col, np.ones_like(tint), 0.45 + 0.1 * joint)

    return paint


def block_wall(rng: np.random.Generator, top: float) -> Material:
    """Rendered concrete-block wall: faint block joints, vertical panels, rain streaks."""
    base = _vary(rng, bgr(178, 174, 164), 0.12)
    s = _seed(rng)
    panel = rng.uniform(3.0, 5.0)

    def paint(h: Hit) -> Paint:
        r = np.floor(h.b / 0.2)
        off = np.mod(r, 2) * 0.2
        joint = 0.5 * np.maximum(stripes(h.b, 0.2, 0.01, h.fb), stripes(h.a + off, 0.4, 0.01, h.fa))
        pillar = stripes(h.a, panel, 0.35, h.fa)
        streaks = _tex(h, 0.15, 2.5, s, 3)
        stain = _tex(h, 2.0, 2.0, s + 1, 3)
        shade = (0.95 - 0.25 * joint - 0.15 * pillar + 0.25 * (streaks - 0.5) + 0.3 * (stain - 0.5)) * (
            1 - 0.25 * smoothstep(0.5, 0.0, h.b)
        )
        cap = band(h.b, top - 0.08, top + 1, h.fb)
        shade = shade * (1 - 0.25 * cap)
        return Paint(base[None, :] * shade[:, None], np.ones_like(shade), 0.5 + 0.05 * stain)

    return paint


def facade(rng: np.random.Generator, top: float, lit_share: float) -> Material:
    """Building front: plaster, a grid of windows (some lit at night), a darker roof band."""
    wall = _vary(
        rng, [bgr(205, 195, 175), bgr(170, 160, 150), bgr(150, 110, 90), bgr(200, 200, 200)][rng.integers(4)], 0.1
    )
    glass = _vary(rng, bgr(60, 75, 90), 0.2)
    lit = _vary(rng, bgr(255, 215, 150), 0.1)
    pw, ww = rng.uniform(2.5, 4.0), rng.uniform(1.0, 1.8)
    fh, wh = rng.uniform(2.9, 3.4), rng.uniform(1.2, 1.7)
    sill = rng.uniform(0.8, 1.1)
    s = _seed(rng)

    def paint(h: Hit) -> Paint:
        win = stripes(h.a, pw, ww, h.fa) * stripes(h.b - sill, fh, wh, h.fb) * band(h.b, sill, top - 0.6, h.fb)
        stain = _tex(h, 3.0, 3.0, s, 3)
        col = wall[None, :] * (0.85 + 0.3 * stain)[:, None]
        refl = 0.7 + 0.6 * smoothstep(0, 1, np.mod(h.b - sill, fh) / wh)
        col = col + (glass[None, :] * refl[:, None] - col) * win[:, None]
        roof = band(h.b, top - 0.35, top + 1, h.fb)
        col = col * (1 - 0.45 * roof)[:, None]
        on = hash01(np.floor(h.a / pw), np.floor((h.b - sill) / fh), s) < lit_share
        glow = lit[None, :] * (win * on)[:, None] * 0.9
        return Paint(col, np.ones_like(stain), 0.5 - 0.35 * win, glow=glow)

    return paint


def chain_link(rng: np.random.Generator, top: float, barbed: bool) -> Material:
    """Diamond wire mesh with a top rail and optional barbed-wire strands above it."""
    col = _vary(rng, bgr(150, 152, 150) if rng.random() < 0.6 else bgr(45, 80, 50), 0.1)
    pitch = rng.uniform(0.045, 0.065)
    wire = rng.uniform(0.003, 0.0045)

    def paint(h: Hit) -> Paint:
        d = 0.7071 * (h.fa + h.fb)
        m1 = stripes(0.7071 * (h.a + h.b), pitch, wire, d)
        m2 = stripes(0.7071 * (h.a - h.b), pitch, wire, d)
        mesh = (1 - (1 - m1) * (1 - m2)) * band(h.b, 0.03, top, h.fb)
        rail = band(h.b, top - 0.05, top, h.fb)
        alpha = np.maximum(mesh, rail)
        if barbed:
            for k in (0.12, 0.24, 0.36):
                alpha = np.maximum(alpha, band(h.b, top + k, top + k + 0.005, h.fb))
        return Paint(np.broadcast_to(col, (len(alpha), 3)).copy(), alpha, np.full_like(alpha, 0.45))

    return paint


def weld_mesh(rng: np.random.Generator, top: float) -> Material:
    """Rigid welded-mesh panels (50 x 200 mm), usually green or black coated."""
    col = _vary(rng, [bgr(40, 90, 55), bgr(35, 35, 38), bgr(140, 142, 140)][rng.integers(3)], 0.1)
    wire = rng.uniform(0.004, 0.006)

    def paint(h: Hit) -> Paint:
        v = stripes(h.a, 0.05, wire, h.fa)
        hz = stripes(h.b, 0.2, wire, h.fb)
        frame = stripes(h.a, 2.5, 0.06, h.fa)
        alpha = np.maximum(np.maximum(v, hz), frame) * band(h.b, 0.0, top, h.fb)
        return Paint(np.broadcast_to(col, (len(alpha), 3)).copy(), alpha, np.full_like(alpha, 0.4))

    return paint


def palisade(rng: np.random.Generator, top: float) -> Material:
    """Steel palisade: vertical pales on two rails (also a sliding gate leaf)."""
    col = _vary(rng, [bgr(35, 60, 40), bgr(30, 30, 32), bgr(120, 124, 124)][rng.integers(3)], 0.1)
    pale, gap = rng.uniform(0.06, 0.08), rng.uniform(0.04, 0.09)

    def paint(h: Hit) -> Paint:
        pales = stripes(h.a, pale + gap, pale, h.fa) * band(h.b, 0.0, top, h.fb)
        rails = band(h.b, 0.35, 0.42, h.fb) + band(h.b, top - 0.45, top - 0.38, h.fb)
        alpha = np.clip(pales + rails, 0, 1)
        ridge = 0.8 + 0.3 * np.mod(h.a, pale + gap) / (pale + gap)
        return Paint(col[None, :] * ridge[:, None], alpha, np.full_like(alpha, 0.4))

    return paint


def metal(rng: np.random.Generator, colour: Array | None = None) -> Material:
    """Painted or galvanised metal (posts, poles): a round-ish shading across its width."""
    col = colour if colour is not None else _vary(rng, bgr(120, 122, 120), 0.2)
    s = _seed(rng)

    def paint(h: Hit) -> Paint:
        shade = 0.85 + 0.3 * (_tex(h, 0.04, 0.5, s, 2) - 0.5)
        return Paint(col[None, :] * shade[:, None], np.ones_like(shade), np.full_like(shade, 0.4))

    return paint


def lamp_post(rng: np.random.Generator, x: float, height: float, arm: float = -1.0) -> Material:
    """A street lamp seen from the side: pole, an arm towards `arm` (+1 / -1 along a), a head that glows."""
    pole = _vary(rng, bgr(90, 92, 95), 0.2)
    light = bgr(255, 200, 120) if rng.random() < 0.6 else bgr(235, 240, 255)
    a0, a1 = sorted((x, x + arm * 0.95))
    h0, h1 = sorted((x + arm * 0.45, x + arm * 1.0))

    def paint(h: Hit) -> Paint:
        p = band(h.a, x - 0.07, x + 0.07, h.fa) * band(h.b, 0, height, h.fb)
        arm = band(h.a, a0, a1, h.fa) * band(h.b, height - 0.08, height, h.fb)
        head = band(h.a, h0, h1, h.fa) * band(h.b, height - 0.2, height - 0.05, h.fb)
        alpha = np.clip(p + arm + head, 0, 1)
        col = np.broadcast_to(pole, (len(alpha), 3)).copy()
        glow = light[None, :] * (head * 3.0)[:, None]
        return Paint(col, alpha, np.full_like(alpha, 0.35), glow=glow)

    return paint


def tree(
    rng: np.random.Generator, x: float, height: float, width: float, conifer: bool = False
) -> tuple[Material, tuple[float, float]]:
    """A tree billboard (trunk + leafy crown with gaps), and its x extent."""
    leaf = _vary(rng, bgr(48, 78, 38) if not conifer else bgr(30, 58, 36), 0.2)
    bark = _vary(rng, bgr(80, 70, 60), 0.2)
    s = _seed(rng)
    crown_base = height * rng.uniform(0.25, 0.45)
    cy = (height + crown_base) / 2
    ry, rx = (height - crown_base) / 2, width / 2
    trunk_w = max(0.12, width * 0.04)

    def paint(h: Hit) -> Paint:
        fp = np.maximum(h.fa, h.fb)
        edge = _tex(h, 0.9, 0.9, s, 3) - 0.5
        if conifer:
            frac = np.clip((h.b - crown_base) / (height - crown_base), 0, 1)
            r = np.abs(h.a - x) / (rx * (1 - frac) + 1e-3)
            d = np.where((h.b >= crown_base) & (h.b <= height), r, 2.0)
        else:
            d = np.sqrt(((h.a - x) / rx) ** 2 + ((h.b - cy) / ry) ** 2)
        d = d + 0.5 * edge
        soft = fp / min(rx, ry) + 0.02
        crown = smoothstep(1 + soft, 1 - soft, d)
        clumps = _tex(h, 0.35, 0.35, s + 1, 3)
        holes = smoothstep(0.25, 0.42, clumps + 0.25 * (1 - d))
        crown = crown * (holes + (1 - holes) * (1 - fade(fp, 0.3)))
        leaves = _tex(h, 0.06, 0.06, s + 2, 2)
        light = 0.5 + 0.5 * np.clip((h.b - cy) / ry, -1, 1) * 0.5
        shade = (0.45 + 0.9 * clumps + 0.4 * (leaves - 0.5)) * (0.75 + 0.5 * light)
        trunk = band(h.a, x - trunk_w / 2, x + trunk_w / 2, h.fa) * band(h.b, 0, cy, h.fb) * (1 - crown)
        col = leaf[None, :] * shade[:, None]
        col = (
            col
            + (bark[None, :] * (0.8 + 0.4 * leaves)[:, None] - col) * (trunk / np.maximum(trunk + crown, 1e-6))[:, None]
        )
        alpha = np.clip(crown + trunk, 0, 1)
        return Paint(col, alpha, 0.55 + 0.2 * clumps * (1 - trunk), sway=crown)

    return paint, (x - rx * 1.3, x + rx * 1.3)


def treeline(rng: np.random.Generator, base: float, amp: float) -> Material:
    """A distant belt of trees with a ragged top."""
    leaf = _vary(rng, bgr(45, 70, 42), 0.2)
    s = _seed(rng)

    def paint(h: Hit) -> Paint:
        top = (
            base
            + amp * value_noise(h.a / 9.0, np.zeros_like(h.a), s)
            + 0.35 * amp * value_noise(h.a / 2.2, np.ones_like(h.a), s + 1)
        )
        alpha = band(h.b, -1.0, top, h.fb)
        clumps = _tex(h, 0.9, 0.9, s + 2, 4)
        shade = 0.45 + 0.9 * clumps
        return Paint(leaf[None, :] * shade[:, None], alpha, 0.5 + 0.25 * clumps, sway=alpha * 0.4)

    return paint


def hedge(rng: np.random.Generator, height: float) -> Material:
    """A clipped hedge or row of bushes with a lumpy top."""
    leaf = _vary(rng, bgr(50, 82, 40), 0.2)
    s = _seed(rng)

    def paint(h: Hit) -> Paint:
        top = height * (0.8 + 0.35 * value_noise(h.a / 1.2, np.zeros_like(h.a), s))
        alpha = band(h.b, -1.0, top, h.fb)
        clumps = _tex(h, 0.25, 0.25, s + 1, 3)
        shade = 0.4 + 0.9 * clumps
        return Paint(leaf[None, :] * shade[:, None], alpha, 0.55 + 0.2 * clumps, sway=alpha * 0.5)

    return paint


def razor_wire(rng: np.random.Generator, base: float) -> Material:
    """Coils of razor wire along the top of a wall: overlapping rings of thin wire."""
    col = _vary(rng, bgr(150, 152, 155), 0.1)
    period, radius = rng.uniform(0.12, 0.25), rng.uniform(0.2, 0.3)

    def paint(h: Hit) -> Paint:
        da = (np.mod(h.a, period) - period / 2) / (radius * 0.55)
        db = (h.b - base - radius) / radius
        ring = np.abs(np.sqrt(da * da + db * db) - 1) * radius
        wire = 0.004 + 0.5 * np.maximum(h.fa, h.fb)
        alpha = (1 - smoothstep(0.0, wire, ring)) * np.clip(0.004 / wire * 2.5, 0, 1)
        return Paint(np.broadcast_to(col, (len(alpha), 3)).copy(), alpha, np.full_like(alpha, 0.5))

    return paint


def bay_lines(period: float, width: float, colour: Array | None = None) -> Material:
    """Painted parking-bay lines along a (see-through between the lines)."""
    col = bgr(228, 228, 218) if colour is None else colour

    def paint(h: Hit) -> Paint:
        alpha = stripes(h.a, period, width, h.fa) * 0.9
        return Paint(np.broadcast_to(col, (len(alpha), 3)).copy(), alpha, np.full_like(alpha, 0.6))

    return paint


SkyFn = Callable[[Array, Array, Array], tuple[Array, Array]]


def sky(rng: np.random.Generator) -> tuple[SkyFn, Array]:
    """Sky by ray direction: gradient from horizon to zenith, clouds on a plane; and the haze colour."""
    overcast = rng.uniform(0, 1)
    zenith = bgr(70, 120, 195) * (1 - overcast) + bgr(165, 170, 178) * overcast
    horizon = bgr(180, 198, 215) * (1 - overcast) + bgr(200, 202, 205) * overcast
    cover = rng.uniform(0.1, 0.8)
    s = _seed(rng)

    def paint(dx: Array, elev: Array, vv: Array) -> tuple[Array, Array]:
        e = np.clip(elev, 0.002, None)
        t = smoothstep(0.0, 0.6, elev)
        col = horizon[None, None, :] + (zenith - horizon)[None, None, :] * t[..., None]
        # Clouds on a plane 1 km up: cell size 400 m, footprint grows towards the horizon.
        cz, cxp = 1.0 / e, dx / e
        fp = np.clip(1.0 / (e * e) * 0.002 / 0.4, 0, 10)
        n = fbm(cxp * 2.5, cz * 2.5, s, 5, fp)
        cloud = smoothstep(1 - cover, 1 - cover + 0.25, n) * smoothstep(0.0, 0.05, elev)
        grey = 0.78 + 0.35 * (fbm(cxp * 6, cz * 6, s + 1, 3, fp * 2.4) - 0.5)
        col = col + (np.array([1.0, 1.0, 1.0], np.float32) * grey[..., None] - col) * cloud[..., None]
        return col.astype(np.float32), np.full(elev.shape, 0.03, np.float32)

    return paint, horizon
