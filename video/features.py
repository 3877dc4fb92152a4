"""Pure feature extraction: what the health state machine judges a picture by.

Every analysed frame gets a *glance* (`glance`) on a sparse sample of its pixels (96 x 24, read straight
off the decoded frame: a few of its rows and no more): did it change since the last analysed frame
(frozen; or a sudden change worth a closer look); `inspect` adds, when it can matter, its uniformity (a
loss screen) and colourfulness (IR mode). The *scene comparison* reduces the
frame to a grey image 160 pixels wide (`small_grey`, aspect kept) and compares it with the learned
`Reference` (video/reference.py); it runs every frame while anything is amiss, at a low rate while all is
quiet. Both cut the picture into a 4x4 grid of cells that vote separately. All features are rank-based, or
ratios against the camera's own reference, so that they mean the same on any scene, at any brightness, in
colour or IR (night) mode:

- `dominant`: share of the picture within a few grey levels of its most common level (uniform, black or
  "no video" screens);
- `still`: share of cells whose change since the last analysed frame is far below the camera's own
  noise floor (a frozen picture repeats exactly; a live sensor never does);
- per cell, edge `overlap`: share of the reference's strongest edges in that cell that are still among
  the cell's strongest edges now (ranked within the cell: independent of gain, contrast and of what
  happens in other cells);
- per cell, `coherence`: correlation of the fine detail with the previous analysed frame's. Real
  structure (in focus or not) repeats from frame to frame; sensor noise does not. A cell whose edges are
  gone and whose remaining detail is incoherent shows nothing (covered, painted); one whose edges are
  gone but whose detail is coherent shows something else (the camera was turned);
- per cell, `lowfreq`: correlation of the coarse picture (a 40-pixel-wide thumbnail) with the
  reference's: a turned camera sees another coarse picture, a blurred one the same;
- `sharpness`: gradient energy at the small scale over that at half the scale, on the reference's
  edges, relative to the reference: defocus removes fine detail first, darkness and fog scale both alike.

The per-pixel work is a few vectorised calls; what is decided per cell is decided on 16-element lists in
plain Python, which costs less than a numpy call per step. See docs/video-analyzer.md for why each feature
generalises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeVar, cast

import cv2
import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from video.reference import Reference

SMALL_W = 160
PEEK_SIZE = (96, 24)  # (width, height) of the sparse sample every analysed frame is glanced at
GRID = 4  # cells per side of the voting grid
HIT_TOP = 0.25  # a reference edge is "present" if the frame's gradient there is in its cell's top 25 %
DOMINANT_BAND = 4  # grey levels either side of the most common level that count as "the same colour"

#: Thresholds that turn the per-cell measures into votes.
CELL_LOST = 0.45  # fewer than 45 % of a cell's reference edges present (chance level is 25 %)
CELL_INCOHERENT = 0.3  # fine detail correlating less than this with the previous frame is noise
CELL_FADED = 0.15  # the reference's edges keep less than 15 % of their contrast: painted or covered over
GAIN_MIN = 0.25  # coarse contrast below a quarter of the reference's is not a gain change but a cover
CELL_WEAK = 0.5  # a lost cell with less than half the reference's mean gradient shows no view of its own
STILL_ABS = 0.05  # grey levels: below this a cell has not changed at all
STILL_REL = 0.2  # ... or below 20 % of the camera's noise floor

U8 = npt.NDArray[np.uint8]
I16 = npt.NDArray[np.int16]
F32 = npt.NDArray[np.float32]
Scalar = TypeVar("Scalar", bound=np.generic)

_NEUTRAL = np.zeros((PEEK_SIZE[1], PEEK_SIZE[0], 3), np.uint8)
_NEUTRAL[:, :, 1:] = 128  # (Y, Cr, Cb) = (0, 128, 128): the L1 distance to it is Y + the colourfulness


def working_size(width: int, height: int) -> tuple[int, int]:
    """Return (width, height) of the small image for a frame of the given size."""
    if width <= 0 or height <= 0:
        raise ValueError(f"invalid frame size {width}x{height}")
    return SMALL_W, max(GRID * 4, round(SMALL_W * height / width))


def small_grey(image: npt.NDArray[np.uint8]) -> U8:
    """Reduce a BGR (or grey) frame to the small grey image the scene is compared on: halve, then convert."""
    height, width = image.shape[:2]
    size = working_size(width, height)
    out: cv2.typing.MatLike = image
    # Halving with INTER_AREA (a 2x2 box filter) takes OpenCV's fast path; other factors do not.
    while out.shape[1] >= 2 * size[0] and out.shape[0] >= 2 * size[1]:
        out = cv2.resize(out, (out.shape[1] // 2, out.shape[0] // 2), interpolation=cv2.INTER_AREA)
    if out.ndim == 3:
        out = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
    if out.shape[1::-1] != size:
        # Less than 2x left after halving: bilinear is close to a box filter here, and several times faster.
        out = cv2.resize(out, size, interpolation=cv2.INTER_LINEAR)
    return cast(U8, np.ascontiguousarray(out))


def cells(a: npt.NDArray[Scalar], grid: int = GRID) -> npt.NDArray[Scalar]:
    """Rearrange an image into one row per grid cell, row-major (rows/columns that do not fill a cell are
    left out)."""
    ch, cw = a.shape[0] // grid, a.shape[1] // grid
    return np.ascontiguousarray(
        a[: ch * grid, : cw * grid].reshape(grid, ch, grid, cw).transpose(0, 2, 1, 3).reshape(grid * grid, ch * cw)
    )


def cell_means(a: npt.NDArray[np.generic], grid: int = GRID) -> list[float]:
    """Mean of `a` over each grid cell, row-major (rows/columns that do not fill a cell are left out)."""
    ch, cw = a.shape[0] // grid, a.shape[1] // grid
    sums = a[: ch * grid, : cw * grid].reshape(grid, ch, grid, cw).sum(axis=(1, 3), dtype=np.int64)
    n = float(ch * cw)
    return [v / n for v in sums.ravel().tolist()]


def row_stats(c: F32, other: F32 | None = None) -> tuple[list[float], list[float], list[float] | None]:
    """Per row of a cell-major array: its sum, its sum of squares, and its dot product with `other`'s row."""
    total = c.sum(axis=1, dtype=np.float64).tolist()
    squares = np.einsum("ij,ij->i", c, c, dtype=np.float64).tolist()
    dots = None if other is None else np.einsum("ij,ij->i", c, other, dtype=np.float64).tolist()
    return total, squares, dots


def spread(total: float, squares: float, n: int) -> float:
    """Norm of a row minus its mean, from its sum and sum of squares."""
    return math.sqrt(max(squares - total * total / n, 0.0))


def dominant_share(grey: U8) -> float:
    """Share of a grey image within DOMINANT_BAND levels of its most common level."""
    hist = cv2.calcHist([grey], [0], None, [256], [0, 256])
    mode = max(cv2.minMaxLoc(hist)[3])  # (x, y) of the peak: one is 0, the other its level (1-D or column)
    return sum(hist[max(0, mode - DOMINANT_BAND) : mode + DOMINANT_BAND + 1].ravel().tolist()) / grey.size


@dataclass(frozen=True, slots=True)
class Glance:
    """What every analysed frame is checked for, cheaply, on a sparse sample: a frozen picture, a sudden
    change; and, when it can matter (`inspect`), a uniform one and how colourful it is."""

    colour: U8 | None  # the BGR sample (None for a grey frame)
    sample: F32  # its grey levels: one pixel of each block (not averaged: a frozen picture repeats it exactly)
    means: tuple[float, ...]  # per cell: mean grey level of the sample
    luma: float  # mean grey level of the sample
    contrast: float  # its standard deviation: measured by `inspect`, else carried from the previous glance
    motion: float  # mean absolute change since the previous analysed frame (0 without one)
    still: float  # share of cells that did not change (relative to the noise floor)
    motion_cells: tuple[float, ...] | None  # per cell: mean |change|; None without a previous frame
    reshaped: tuple[float, ...] | None  # per cell: that, less the change of the cell's mean (structure, not light)
    chroma: float = 0.0  # mean |Cr - 128| + |Cb - 128| of the sample (~0 in IR mode), and ...
    dominant: float = 0.0  # ... the share of it within a few levels of its most common level: ...
    inspected: bool = False  # ... measured on this frame by `inspect` (else carried from the previous glance)


def glance(image: npt.NDArray[np.uint8], previous: Glance | None, noise: float | None) -> Glance:
    """Sample a BGR (or grey) frame sparsely (a few of its rows, not the frame) and measure its change since
    the previous analysed frame's sample (`noise`: the camera's noise floor)."""
    if image.shape[0] <= 0 or image.shape[1] <= 0:
        raise ValueError(f"invalid frame size {image.shape[1]}x{image.shape[0]}")
    colour = cast(U8, cv2.resize(image, PEEK_SIZE, interpolation=cv2.INTER_NEAREST_EXACT))
    grey = colour if colour.ndim == 2 else cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)
    sample = grey.astype(np.float32)
    # Per-cell means with one area reduction each (the sample divides evenly into cells).
    means = cv2.resize(sample, (GRID, GRID), interpolation=cv2.INTER_AREA).ravel().tolist()
    n = len(means)
    motion = reshaped = None
    mean_motion = still = 0.0
    if previous is not None and previous.sample.shape == sample.shape:
        change = cv2.resize(cv2.absdiff(sample, previous.sample), (GRID, GRID), interpolation=cv2.INTER_AREA)
        motion = tuple(change.ravel().tolist())
        floor = STILL_ABS if noise is None else max(STILL_ABS, STILL_REL * noise)
        mean_motion = sum(motion) / n
        still = sum(1 for m in motion if m <= floor) / n
        reshaped = tuple(m - abs(a - b) for m, a, b in zip(motion, means, previous.means, strict=True))
    carried = (previous.contrast, previous.chroma, previous.dominant) if previous is not None else (0.0, 0.0, 0.0)
    return Glance(
        colour if colour.ndim == 3 else None,
        sample,
        tuple(means),
        sum(means) / n,
        *carried[:1],
        mean_motion,
        still,
        motion,
        reshaped,
        *carried[1:],
    )


def inspect(seen: Glance, uniformity: bool = True) -> Glance:
    """Measure the contrast and colourfulness of a glanced frame and, if asked, its uniformity (on the
    sample)."""
    chroma = 0.0
    if seen.colour is not None:
        # The L1 distance of (Y, Cr, Cb) to (0, 128, 128) is the sum of Y plus that of |Cr - 128| + |Cb - 128|.
        ycc = cv2.cvtColor(seen.colour, cv2.COLOR_BGR2YCrCb)
        chroma = max(cv2.norm(ycc, _NEUTRAL, cv2.NORM_L1) / seen.sample.size - seen.luma, 0.0)
    grey = seen.sample.astype(np.uint8)
    dominant = dominant_share(grey) if uniformity else seen.dominant
    contrast = float(cv2.meanStdDev(grey)[1][0, 0])
    return replace(seen, contrast=contrast, chroma=chroma, dominant=dominant, inspected=True)


@dataclass(frozen=True, slots=True)
class FrameMaps:
    """The gradients and coarse picture of one frame, for comparing its scene with the reference."""

    small: U8
    dominant: float  # `dominant_share` of `small` (area-averaged: overlays and compression ringing blend in)
    grad: tuple[I16, I16]  # |Sobel dx|, |dy| of `small` (absolute: only their energy and sum are used)
    half_grad: tuple[I16, I16]  # Sobel dx, dy of `small` at half the size
    mag: I16  # cell-major (cells x pixels) L1 gradient magnitude of `small`
    cell_grad: list[float]  # per-cell mean of `mag`
    tiny: F32  # cell-major coarse picture (small / 4)
    tiny_sum: list[float]  # per cell: its sum ...
    tiny_norm: list[float]  # ... and the norm of the cell minus its mean


def frame_maps(small: U8) -> FrameMaps:
    """Compute the gradients and the coarse picture of a small grey frame."""
    dx, dy = cast(tuple[I16, I16], cv2.spatialGradient(small))
    np.abs(dx, out=dx)
    np.abs(dy, out=dy)
    mag = cells(dx + dy)
    # Crop to multiples of 4 so the reductions take OpenCV's integer fast path.
    h4, w4 = small.shape[0] // 4, small.shape[1] // 4
    half = cast(U8, cv2.resize(small[: 4 * h4, : 4 * w4], (2 * w4, 2 * h4), interpolation=cv2.INTER_AREA))
    tiny = cells(cv2.resize(half, (w4, h4), interpolation=cv2.INTER_AREA).astype(np.float32))
    total, squares, _ = row_stats(tiny)
    n = tiny.shape[1]
    per_cell = float(mag.shape[1])
    return FrameMaps(
        small=small,
        dominant=dominant_share(small),
        grad=(dx, dy),
        half_grad=cast(tuple[I16, I16], cv2.spatialGradient(half)),
        mag=mag,
        cell_grad=[v / per_cell for v in mag.sum(axis=1, dtype=np.int64).tolist()],
        tiny=tiny,
        tiny_sum=total,
        tiny_norm=[spread(s, q, n) for s, q in zip(total, squares, strict=True)],
    )


def _energy(dx: I16, dy: I16, mask: U8, n: int) -> float:
    """Mean squared Sobel magnitude over `mask` (which has `n` pixels set)."""
    if n == 0:
        return 0.0
    return float((cv2.norm(dx, cv2.NORM_L2SQR, mask=mask) + cv2.norm(dy, cv2.NORM_L2SQR, mask=mask)) / n)


def fine_ratio(maps: FrameMaps, ref: Reference) -> float | None:
    """Gradient energy at the small scale over that at half the scale, on the reference's edges."""
    if ref.edge_mask is None or ref.edge_mask_half is None or ref.edge_mask.shape != maps.small.shape:
        return None
    coarse = _energy(*maps.half_grad, ref.edge_mask_half, ref.edge_pixels[1])
    return _energy(*maps.grad, ref.edge_mask, ref.edge_pixels[0]) / max(coarse, 1e-3)


def _detail(small: U8) -> F32:
    """Fine detail, cell-major: |picture - its 3x3 mean|, 3x3-smoothed (a one-pixel shake keeps it in place).

    Smooth shading (paint, a hand's fall-off, a defocused blob) has none; edges and texture have it in the
    same places frame after frame; sensor noise has it in new places every frame."""
    detail = cv2.blur(cv2.absdiff(small, cv2.blur(small, (3, 3))), (3, 3))
    return cells(detail).astype(np.float32)


def coherence(now: U8, before: U8) -> list[float]:
    """Per cell, correlation of the fine detail of two frames; 0 where either has (nearly) none."""
    a, b = _detail(now), _detail(before)
    n = a.shape[1]
    sa, qa, dots = row_stats(a, b)
    sb, qb, _ = row_stats(b)
    assert dots is not None
    floor = 0.1 * math.sqrt(n)  # less than ~0.1 grey level of detail: nothing to correlate
    out = []
    for i in range(len(dots)):
        na, nb = spread(sa[i], qa[i], n), spread(sb[i], qb[i], n)
        ok = na > floor and nb > floor
        out.append((dots[i] - sa[i] * sb[i] / n) / max(na * nb, 1e-9) if ok else 0.0)
    return out


def _on_edges(mag: I16, ref: Reference) -> tuple[list[float], list[float]]:
    """Per cell: how many of the reference's edges are among the cell's strongest gradients now, and the
    mean gradient on them."""
    cells_n = mag.shape[0]
    if ref.edge_index.size == 0:
        return [0.0] * cells_n, [0.0] * cells_n
    k = min(mag.shape[1] - 1, int(mag.shape[1] * (1 - HIT_TOP)))
    # A gradient of 0 is no edge, whatever the rank: raising the threshold to 1 says so in the same pass.
    threshold = np.maximum(np.partition(mag, k, axis=1)[:, k], 1)
    on = mag.ravel().take(ref.edge_index)
    present = on >= threshold[ref.edge_cell]
    hits = np.add.reduceat(present, ref.edge_starts, dtype=np.int64).tolist()
    total = np.add.reduceat(on, ref.edge_starts, dtype=np.int64).tolist()
    # reduceat gives an empty group its next element: cells without reference edges count nothing.
    counts = ref.cell_edges
    return (
        [float(h) if c else 0.0 for h, c in zip(hits, counts, strict=True)],
        [t / c if c else 0.0 for t, c in zip(total, counts, strict=True)],
    )


@dataclass(frozen=True, slots=True)
class Features:
    """What the state machine judges one analysed frame by (all fractions in [0, 1] unless noted)."""

    luma: float  # mean grey level, 0-255
    contrast: float  # grey level standard deviation
    chroma: float  # colourfulness, ~0 in IR mode
    dominant: float  # share of pixels within a few levels of the most common level
    motion: float  # mean absolute change since the previous analysed frame, grey levels
    still: float  # share of cells changing far less than the noise floor (1.0 = exact repeat)
    overlap: float  # share of reference edges still present, over voting cells
    lost: float  # share of voting cells whose reference edges are mostly gone
    blank: float  # share of voting cells that are lost and show no view of their own (covered, painted)
    changed: float  # share of voting cells that are lost and show coherent, textured detail (another view)
    coherence: float  # mean frame-to-frame correlation of fine detail in lost cells (1.0: none lost)
    strength: float  # median per-cell edge contrast relative to the reference's, corrected for gain
    lowfreq: float  # mean per-cell coarse correlation with the reference
    coarse: float  # median per-cell coarse contrast relative to the reference's (a veil lowers it, blur not)
    sharpness: float  # fine-to-coarse gradient energy ratio relative to the reference
    focus: float  # min(sharpness, strength): blur lowers both (noise at night can hide it from sharpness)
    voting: int  # number of grid cells with enough structure to vote
    lost_coarse: float = 1.0  # median coarse contrast of the lost cells relative to the reference's (1.0: none)

    def pairs(self) -> tuple[tuple[str, float], ...]:
        """Return the features as (name, value) pairs, rounded for reports."""
        return tuple((name, round(float(getattr(self, name)), 4)) for name in self.__slots__)


@dataclass(frozen=True, slots=True)
class Measured:
    """Features of one frame plus what the reference learns from it."""

    features: Features
    fine_ratio: float | None


def compare(seen: Glance, maps: FrameMaps, previous: U8 | None, ref: Reference) -> Measured:
    """Compare one frame's scene with the reference (and its fine detail with the previous frame's)."""
    ratio = fine_ratio(maps, ref)
    sharpness = ratio / ref.fine_ratio if ratio is not None and ref.fine_ratio else 1.0
    # The small image tells uniformity better than the sparse sample: a "no video" screen's caption and
    # its compression ringing blend into the background when averaged.
    seen = replace(seen, dominant=maps.dominant)
    if not ref.ready or ref.tiny_centred is None or not ref.fits(maps.small.shape):
        return Measured(features(seen, sharpness=sharpness), ratio)
    valid = ref.valid
    voting = sum(valid)
    if not voting:
        return Measured(features(seen, sharpness=sharpness), ratio)
    hits, on_edges = _on_edges(maps.mag, ref)
    n_tiny = maps.tiny.shape[1]
    dots = np.einsum("ij,ij->i", maps.tiny, ref.tiny_centred, dtype=np.float64).tolist()
    floor = math.sqrt(n_tiny)  # less than ~1 grey level of coarse contrast: no layout to correlate
    edges, strength_ref, norms_ref = ref.cell_edges, ref.strength, ref.tiny_norm
    votes = [i for i, v in enumerate(valid) if v]
    # A cell is lost when its reference edges moved away, or kept (nearly) no contrast.
    cell_strength = {i: on_edges[i] / max(strength_ref[i], 1e-3) for i in votes}
    faded = {i for i in votes if cell_strength[i] < CELL_FADED}
    lost_cells = [i for i in votes if hits[i] / max(edges[i], 1) < CELL_LOST or i in faded]
    # What replaced the scene there: another view has detail of its own, in the same place from one frame
    # to the next, about as much as any view; a cover or paint has only noise, or hardly any.
    incoherent = faded
    mean_coherence = 1.0
    if previous is not None and previous.shape == maps.small.shape and lost_cells:
        coherent = coherence(maps.small, previous)
        mean_coherence = sum(coherent[i] for i in lost_cells) / len(lost_cells)
        incoherent = {i for i in votes if coherent[i] < CELL_INCOHERENT}
    blank = sum(1 for i in lost_cells if i in incoherent or maps.cell_grad[i] < CELL_WEAK * ref.cell_grad[i])
    corr, ratio_coarse, gained = [], [], []
    lost_set = set(lost_cells)
    lost_coarse: list[float] = []
    for i in votes:
        na, nb = maps.tiny_norm[i], norms_ref[i]
        corr.append(dots[i] / max(na * nb, 1e-9) if na > floor and nb > floor else 0.0)
        rc = na / max(nb, 1e-6)
        ratio_coarse.append(rc)
        if i in lost_set:
            lost_coarse.append(rc)
        # Edge contrast relative to the coarse contrast: a darker or lower-gain picture lowers both, blur only
        # the first. Only for a lower contrast: more coarse contrast (a shadow's or a glare's edge, a big
        # vehicle) adds no fine edges, and is no reason to expect stronger ones. (Not for `blank`: a
        # covered cell has lost both.)
        gained.append(cell_strength[i] / min(max(rc, GAIN_MIN), 1.0))
    found = features(
        seen,
        overlap=sum(hits[i] for i in votes) / max(sum(edges[i] for i in votes), 1),
        lost=len(lost_cells) / voting,
        blank=blank / voting,
        changed=(len(lost_cells) - blank) / voting,
        coherence=mean_coherence,
        strength=sorted(gained)[voting // 2],
        lowfreq=sum(corr) / voting,
        sharpness=sharpness,
        voting=voting,
        coarse=sorted(ratio_coarse)[voting // 2],
        lost_coarse=sorted(lost_coarse)[len(lost_coarse) // 2] if lost_coarse else 1.0,
    )
    return Measured(found, ratio)


def features(
    seen: Glance,
    overlap: float = 0.0,
    lost: float = 0.0,
    blank: float = 0.0,
    changed: float = 0.0,
    coherence: float = 1.0,
    strength: float = 1.0,
    lowfreq: float = 0.0,
    sharpness: float = 1.0,
    voting: int = 0,
    coarse: float = 1.0,
    lost_coarse: float = 1.0,
) -> Features:
    """Assemble the features of a frame from its glance and its scene comparison."""
    return Features(
        luma=seen.luma,
        contrast=seen.contrast,
        chroma=seen.chroma,
        dominant=seen.dominant,
        motion=seen.motion,
        still=seen.still,
        overlap=overlap,
        lost=lost,
        blank=blank,
        changed=changed,
        coherence=coherence,
        strength=strength,
        lowfreq=lowfreq,
        coarse=coarse,
        sharpness=sharpness,
        focus=min(sharpness, strength),
        voting=voting,
        lost_coarse=lost_coarse,
    )


def with_glance(previous: Features, seen: Glance) -> Features:
    """The scene features of an earlier frame with this frame's glance (a frame whose scene was not compared)."""
    # Positional, in field order: this runs for most frames.
    p = previous
    return Features(
        seen.luma, seen.contrast, seen.chroma, seen.dominant, seen.motion, seen.still, p.overlap, p.lost,
        p.blank, p.changed, p.coherence, p.strength, p.lowfreq, p.coarse, p.sharpness, p.focus, p.voting,
        p.lost_coarse,
    )  # fmt: skip
