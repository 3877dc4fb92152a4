"""Pure feature extraction on a small grey image: what the health state machine judges a picture by.

Every frame is reduced at once to a grey image 160 pixels wide (`prepare`, aspect kept) and cut into a
4x4 grid of cells that vote separately. All features are rank-based, or ratios against a learned
`Reference` of the same camera, so that they mean the same on any scene, at any brightness, in colour or
IR (night) mode:

- `dominant`: share of the picture within a few grey levels of its most common level (uniform, black or
  "no video" screens);
- `still`: share of cells whose change since the last analysed frame is far below the camera's own
  noise floor (a frozen picture repeats exactly; a live sensor never does);
- per cell, edge `overlap`: share of the reference's strongest edges in that cell that are still among
  the cell's strongest edges now (ranked within the cell: independent of gain, contrast and of what
  happens in other cells);
- per cell, `coherence`: correlation of the fine gradient map with the previous analysed frame's. Real
  structure (in focus or not) repeats from frame to frame; sensor noise does not. A cell whose edges are
  gone and whose remaining detail is incoherent shows nothing (covered, painted); one whose edges are
  gone but whose detail is coherent shows something else (the camera was turned);
- per cell, `lowfreq`: correlation of the coarse picture (a 40-pixel-wide thumbnail) with the
  reference's: a turned camera sees another coarse picture, a blurred one the same;
- `sharpness`: gradient energy at the small scale over that at half the scale, on the reference's
  edges, relative to the reference: defocus removes fine detail first, darkness and fog scale both alike.

See docs/video-analyzer.md for why each generalises.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

SMALL_W = 160
GRID = 4  # cells per side of the voting grid
EDGE_TOP = 0.10  # reference edges: the strongest 10 % of each cell of the reference gradient map
HIT_TOP = 0.25  # a reference edge is "present" if the frame's gradient there is in its cell's top 25 %
PEAKY = 1.6  # a cell votes if its reference edges are this much stronger than its mean (structure)
DOMINANT_BAND = 4  # grey levels either side of the most common level that count as "the same colour"
NOISE_DOWN = 0.2  # weight of a quieter frame in the noise floor (it tracks the low envelope)

U8 = npt.NDArray[np.uint8]
I16 = npt.NDArray[np.int16]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Views:
    """A frame reduced to what the analyzer looks at: a small grey image and how colourful it was."""

    small: U8  # grey, SMALL_W wide
    chroma: float  # mean |Cr - 128| + |Cb - 128| of a coarse sample: ~0 in IR (monochrome) mode


def working_size(width: int, height: int) -> tuple[int, int]:
    """Return (width, height) of the small image for a frame of the given size."""
    if width <= 0 or height <= 0:
        raise ValueError(f"invalid frame size {width}x{height}")
    return SMALL_W, max(GRID * 4, round(SMALL_W * height / width))


def prepare(image: npt.NDArray[np.uint8]) -> Views:
    """Reduce a BGR (or grey) frame to the small views, cheaply: halve first, convert late."""
    height, width = image.shape[:2]
    size = working_size(width, height)
    # Halving with INTER_AREA (a 2x2 box filter) takes OpenCV's fast path; other factors do not.
    while image.shape[1] >= 2 * size[0] and image.shape[0] >= 2 * size[1]:
        image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
    chroma = 0.0
    if image.ndim == 3:
        # Colourfulness from a coarse sample: IR (night) pictures are grey, B = G = R.
        sample = cv2.resize(image, (size[0] // 4, size[1] // 4), interpolation=cv2.INTER_NEAREST)
        spread = cv2.mean(cv2.absdiff(cv2.cvtColor(sample, cv2.COLOR_BGR2YCrCb), (0, 128, 128, 0)))
        chroma = float(spread[1] + spread[2])
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.shape[1::-1] != size:
        # Less than 2x left after halving: bilinear is close to a box filter here, and several times faster.
        image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    return Views(small=np.ascontiguousarray(image), chroma=chroma)


def cells(a: npt.NDArray[np.generic], grid: int = GRID) -> npt.NDArray[np.generic]:
    """Rearrange an image into one row per grid cell, row-major (rows/columns that do not fill a cell are
    left out)."""
    ch, cw = a.shape[0] // grid, a.shape[1] // grid
    return np.ascontiguousarray(
        a[: ch * grid, : cw * grid].reshape(grid, ch, grid, cw).transpose(0, 2, 1, 3).reshape(grid * grid, ch * cw)
    )


def _top(c: npt.NDArray[np.generic], share: float) -> Mask:
    """Per row, mark the entries in the top `share` of that row."""
    k = min(c.shape[1] - 1, int(c.shape[1] * (1 - share)))
    threshold = np.partition(c, k, axis=1)[:, k : k + 1]
    return np.asarray((c >= threshold) & (c > 0))


def _energy(dx: I16, dy: I16, mask: U8, n: int) -> float:
    """Mean squared Sobel magnitude over `mask` (which has `n` pixels set)."""
    if n == 0:
        return 0.0
    return float((cv2.norm(dx, cv2.NORM_L2SQR, mask=mask) + cv2.norm(dy, cv2.NORM_L2SQR, mask=mask)) / n)


def cell_means(a: npt.NDArray[np.generic], grid: int = GRID) -> F64:
    """Mean of `a` over each grid cell, row-major (rows/columns that do not fill a cell are left out)."""
    ch, cw = a.shape[0] // grid, a.shape[1] // grid
    rows = a[: ch * grid, : cw * grid].reshape(grid, ch, cw * grid).sum(axis=1, dtype=np.int64)
    return rows.reshape(grid * grid, cw).sum(axis=1) / float(ch * cw)


def _centred(c: F32) -> tuple[F32, F64]:
    """Rows minus their mean, and each row's norm (for correlations)."""
    c = c - c.mean(axis=1, keepdims=True)
    return c, np.sqrt(np.einsum("ij,ij->i", c, c, dtype=np.float64))


def _corr(a: tuple[F32, F64], b: tuple[F32, F64], floor: float) -> F64:
    """Row-wise correlation of two centred cell arrays; 0 where either row is flatter than `floor`."""
    (ca, na), (cb, nb) = a, b
    dot = np.einsum("ij,ij->i", ca, cb, dtype=np.float64)
    ok = (na > floor) & (nb > floor)
    return np.where(ok, dot / np.maximum(na * nb, 1e-9), 0.0)


def detail_cells(small: U8) -> tuple[F32, F64]:
    """Fine detail, cell-major and centred: |picture - its 3x3 mean|, 3x3-smoothed (a one-pixel shake
    keeps it in place).

    Smooth shading (paint, a hand's fall-off, a defocused blob) has none; edges and texture have it in the
    same places frame after frame; sensor noise has it in new places every frame."""
    detail = cv2.blur(cv2.absdiff(small, cv2.blur(small, (3, 3))), (3, 3))
    return _centred(cells(detail).astype(np.float32))


@dataclass(frozen=True, slots=True)
class Glance:
    """What every analysed frame is checked for, cheaply: a blank picture, a frozen one."""

    small: U8
    chroma: float
    luma: float
    contrast: float
    dominant: float
    motion: float  # mean absolute change since the previous analysed frame (0 without one)
    still: float
    motion_cells: F64 | None  # per cell; None without a previous frame


def glance(views: Views, previous: U8 | None, ref: Reference) -> Glance:
    """Check one frame for uniformity and for change since the previous analysed frame."""
    small = views.small
    hist = cv2.calcHist([small], [0], None, [256], [0, 256]).ravel()
    mode = int(np.argmax(hist))
    dominant = float(hist[max(0, mode - DOMINANT_BAND) : mode + DOMINANT_BAND + 1].sum() / small.size)
    mean, std = cv2.meanStdDev(small)
    motion_cells: F64 | None = None
    motion = still = 0.0
    if previous is not None and previous.shape == small.shape:
        motion_cells = cell_means(cv2.absdiff(small, previous))
        motion = float(motion_cells.mean())
        floor = STILL_ABS if ref.noise is None else max(STILL_ABS, STILL_REL * ref.noise)
        still = float(np.count_nonzero(motion_cells <= floor) / motion_cells.size)
    return Glance(small, views.chroma, float(mean[0, 0]), float(std[0, 0]), dominant, motion, still, motion_cells)


@dataclass(frozen=True, slots=True)
class FrameMaps:
    """The gradients and coarse picture of one frame, for comparing its scene with the reference."""

    small: U8
    grad: tuple[I16, I16]  # Sobel dx, dy of `small`
    half_grad: tuple[I16, I16]  # Sobel dx, dy of `small` at half the size
    mag: I16  # cell-major (cells x pixels) L1 gradient magnitude of `small`
    cell_grad: F64  # per-cell mean of `mag`
    tiny: tuple[F32, F64]  # cell-major centred coarse picture (small / 4) and row norms


def frame_maps(small: U8) -> FrameMaps:
    """Compute the gradients and the coarse picture of a small grey frame."""
    dx, dy = cv2.spatialGradient(small)
    mag = cells(np.abs(dx) + np.abs(dy))
    # Crop to multiples of 4 so the reductions take OpenCV's integer fast path.
    h4, w4 = small.shape[0] // 4, small.shape[1] // 4
    half = cv2.resize(small[: 4 * h4, : 4 * w4], (2 * w4, 2 * h4), interpolation=cv2.INTER_AREA)
    tiny = cv2.resize(half, (w4, h4), interpolation=cv2.INTER_AREA)
    return FrameMaps(
        small=small,
        grad=(dx, dy),
        half_grad=cv2.spatialGradient(half),
        mag=mag,
        cell_grad=mag.mean(axis=1),
        tiny=_centred(cells(tiny.astype(np.float32))),
    )


class Reference:
    """The learned view of one camera's scene while healthy: edges, coarse picture, sharpness, noise floor."""

    def __init__(self, learn_frames: int = 10) -> None:
        if learn_frames < 1:
            raise ValueError("learn_frames must be >= 1")
        self.learn_frames = learn_frames
        self.frames = 0
        self.grad: F32 | None = None  # cell-major mean of gradient maps, each normalised to mean 1
        self.abs_grad: F32 | None = None  # cell-major mean of gradient maps, in grey levels
        self.strength: F64 | None = None  # per cell, mean gradient on its edges (grey levels)
        self.cell_grad: F64 = np.zeros(GRID * GRID)  # per cell, mean gradient (grey levels)
        self.tiny: F32 | None = None  # cell-major mean coarse picture
        self.edges: Mask | None = None  # cell-major: the strongest EDGE_TOP of each cell
        self.cell_edges: F64 | None = None
        self.valid: Mask | None = None  # cells with structure enough to vote
        self.edge_mask: U8 | None = None  # `edges` as an image mask at small scale
        self.edge_mask_half: U8 | None = None  # ... and at half scale
        self.fine_ratio: float | None = None
        self.noise: float | None = None  # typical frame-to-frame change of the quieter cells while healthy
        self._tiny_c: tuple[F32, F64] | None = None
        self._since_edges = 0
        self._fine_n = 0
        self._shape: tuple[int, int] | None = None
        self.edge_pixels = (0, 0)
        self.edge_index: npt.NDArray[np.intp] = np.zeros(0, np.intp)
        self.edge_starts: npt.NDArray[np.intp] = np.zeros(0, np.intp)
        self.edge_counts: npt.NDArray[np.intp] = np.zeros(0, np.intp)

    @property
    def ready(self) -> bool:
        """True once enough frames have been learned to judge against."""
        return self.frames >= self.learn_frames and self.edges is not None

    def fits(self, shape: tuple[int, ...]) -> bool:
        """True if the reference was learned on pictures of this (small image) size."""
        return self._shape is None or self._shape == shape[:2]

    def update(self, maps: FrameMaps, alpha: float, motion: F64 | None, fine_ratio: float | None) -> None:
        """Blend one healthy frame in: running mean while learning, then exponential with weight `alpha`."""
        a = 1.0 / (self.frames + 1) if self.frames < self.learn_frames else alpha
        grad = maps.mag.astype(np.float32)
        grad *= 1.0 / max(float(grad.mean()), 1e-3)
        tiny = maps.tiny[0] + 0.0  # centred per cell: gain-free offsets do not matter
        if self.grad is None or self.tiny is None or self.abs_grad is None:
            self.grad, self.tiny, self._shape = grad, tiny, (maps.small.shape[0], maps.small.shape[1])
            self.abs_grad = maps.mag.astype(np.float32)
        else:
            cv2.accumulateWeighted(grad, self.grad, a)
            cv2.accumulateWeighted(tiny, self.tiny, a)
            cv2.accumulateWeighted(maps.mag.astype(np.float32), self.abs_grad, a)
        self._tiny_c = _centred(self.tiny)
        if fine_ratio is not None:
            # A running mean of its own first: it is measured on the edges, which settle while learning.
            af = 1.0 / (self._fine_n + 1) if self._fine_n < self.learn_frames else alpha
            self.fine_ratio = (
                fine_ratio if self.fine_ratio is None else self.fine_ratio + af * (fine_ratio - self.fine_ratio)
            )
            self._fine_n += 1
        if motion is not None:
            # Track the low envelope: follow drops quickly, rises (rain, wind) only at the slow rate.
            quiet = float(np.sort(motion, axis=None)[motion.size // 4])
            if self.noise is None:
                self.noise = quiet
            else:
                self.noise += (max(a, NOISE_DOWN) if quiet < self.noise else a) * (quiet - self.noise)
        self.frames += 1
        self._since_edges += 1
        # Edge ranks move slowly: recompute them while learning, then every few updates.
        if self.frames <= self.learn_frames or self._since_edges >= 10:
            self._recompute_edges()

    def tiny_centred(self) -> tuple[F32, F64] | None:
        """The coarse reference picture, centred per cell, with its norms."""
        return self._tiny_c

    def _recompute_edges(self) -> None:
        assert self.grad is not None and self._shape is not None
        assert self.abs_grad is not None
        self.edges = _top(self.grad, EDGE_TOP)
        self.cell_edges = self.edges.sum(axis=1).astype(np.float64)
        self.strength = (self.abs_grad * self.edges).sum(axis=1) / np.maximum(self.cell_edges, 1.0)
        self.cell_grad = self.abs_grad.mean(axis=1).astype(np.float64)
        strength = (self.grad * self.edges).sum(axis=1) / np.maximum(self.cell_edges, 1.0)
        mean = self.grad.mean(axis=1)
        self.valid = (strength >= PEAKY * mean) & (mean >= 0.1)
        h, w = self._shape
        ch, cw = h // GRID, w // GRID
        image = np.zeros((h, w), np.uint8)
        image[: ch * GRID, : cw * GRID] = (
            self.edges.reshape(GRID, GRID, ch, cw).transpose(0, 2, 1, 3).reshape(ch * GRID, cw * GRID)
        )
        self.edge_mask = image
        h4, w4 = h // 4, w // 4
        half = cv2.resize(image[: 4 * h4, : 4 * w4], (2 * w4, 2 * h4), interpolation=cv2.INTER_AREA)
        self.edge_mask_half = (half > 0).astype(np.uint8)
        self.edge_pixels = (cv2.countNonZero(self.edge_mask), cv2.countNonZero(self.edge_mask_half))
        # Flat indices of the edges, grouped by cell, for per-cell sums with one `reduceat`.
        counts = self.edges.sum(axis=1)
        self.edge_index = np.flatnonzero(self.edges)
        self.edge_starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.intp)
        self.edge_counts = counts.astype(np.intp)
        if self.frames <= self.learn_frames:
            self.fine_ratio, self._fine_n = None, 0  # the edges moved: measure sharpness afresh
        self._since_edges = 0

    def to_arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """Return the learned state as named arrays (to persist it across restarts)."""
        if not self.ready or self.grad is None or self.tiny is None or self._shape is None:
            raise ValueError("nothing learned yet")
        noise = self.noise if self.noise is not None else -1.0
        scalars = [self.frames, self.fine_ratio or 0.0, self._fine_n, noise]
        return {
            "grad": self.grad,
            "abs_grad": self.abs_grad if self.abs_grad is not None else self.grad,
            "tiny": self.tiny,
            "shape": np.array(self._shape),
            "scalars": np.array(scalars, dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, npt.NDArray[np.generic]], learn_frames: int = 10) -> Reference:
        """Rebuild a reference saved with `to_arrays`; raise ValueError if the arrays do not fit together."""
        ref = cls(learn_frames)
        try:
            h, w = (int(v) for v in arrays["shape"])
            frames, fine, fine_n, noise = (float(v) for v in arrays["scalars"])
            ref.grad = np.array(arrays["grad"], np.float32)
            ref.abs_grad = np.array(arrays["abs_grad"], np.float32)
            ref.tiny = np.array(arrays["tiny"], np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a saved reference: {exc!r}") from exc
        ch, cw = h // GRID, w // GRID
        if (
            ref.grad.shape != (GRID * GRID, ch * cw)
            or ref.abs_grad.shape != ref.grad.shape
            or ref.tiny.shape != (GRID * GRID, (ch // 4) * (cw // 4))
        ):
            raise ValueError("saved reference arrays do not match its picture size")
        ref._shape = (h, w)
        ref.frames, ref._fine_n = max(int(frames), learn_frames), int(fine_n)
        ref.fine_ratio = fine if fine > 0 else None
        ref.noise = noise if noise >= 0 else None
        ref._tiny_c = _centred(ref.tiny)
        ref._recompute_edges()
        return ref


def fine_ratio(maps: FrameMaps, ref: Reference) -> float | None:
    """Gradient energy at the small scale over that at half the scale, on the reference's edges."""
    if ref.edge_mask is None or ref.edge_mask_half is None or ref.edge_mask.shape != maps.small.shape:
        return None
    coarse = _energy(*maps.half_grad, ref.edge_mask_half, ref.edge_pixels[1])
    return _energy(*maps.grad, ref.edge_mask, ref.edge_pixels[0]) / max(coarse, 1e-3)


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

    def pairs(self) -> tuple[tuple[str, float], ...]:
        """Return the features as (name, value) pairs, rounded for reports."""
        return tuple((name, round(float(getattr(self, name)), 4)) for name in self.__slots__)


#: Thresholds that turn the per-cell measures into votes.
CELL_LOST = 0.45  # fewer than 45 % of a cell's reference edges present (chance level is 25 %)
CELL_INCOHERENT = 0.3  # fine detail correlating less than this with the previous frame is noise
CELL_FADED = 0.15  # the reference's edges keep less than 15 % of their contrast: painted or covered over
GAIN_MIN = 0.25  # coarse contrast below a quarter of the reference's is not a gain change but a cover
CELL_WEAK = 0.5  # a lost cell with less than half the reference's mean gradient shows no view of its own
STILL_ABS = 0.05  # grey levels: below this a cell has not changed at all
STILL_REL = 0.2  # ... or below 20 % of the camera's noise floor


@dataclass(frozen=True, slots=True)
class Measured:
    """Features of one frame plus what the reference learns from it."""

    features: Features
    fine_ratio: float | None


def _on_edges(mag: I16, ref: Reference) -> tuple[F64, F64]:
    """Per cell: how many of the reference's edges are among the cell's strongest gradients now, and the
    mean gradient on them."""
    k = min(mag.shape[1] - 1, int(mag.shape[1] * (1 - HIT_TOP)))
    threshold = np.partition(mag, k, axis=1)[:, k]
    if ref.edge_index.size == 0:
        zeros = np.zeros(mag.shape[0])
        return zeros, zeros
    on = mag.ravel().take(ref.edge_index)
    present = (on >= np.repeat(threshold, ref.edge_counts)) & (on > 0)
    some = ref.edge_counts > 0  # reduceat gives an empty group its next element: mask those out
    hits = np.add.reduceat(present, ref.edge_starts, dtype=np.int64) * some
    total = np.add.reduceat(on, ref.edge_starts, dtype=np.int64) * some
    return hits.astype(np.float64), total / np.maximum(ref.edge_counts, 1)


def compare(seen: Glance, maps: FrameMaps, previous: U8 | None, ref: Reference) -> Measured:
    """Compare one frame's scene with the reference (and its fine detail with the previous frame's)."""
    overlap = lost = blank = changed = lowfreq = 0.0
    strength = coherence = sharpness = coarse = 1.0
    voting = 0
    ratio = fine_ratio(maps, ref)
    tiny_ref = ref.tiny_centred()
    if ref.ready and ref.grad is not None and ref.grad.shape == maps.mag.shape and tiny_ref is not None:
        assert ref.cell_edges is not None and ref.valid is not None and ref.strength is not None
        valid = ref.valid
        voting = int(valid.sum())
        hits, on_edges = _on_edges(maps.mag, ref)
        cell_strength = on_edges / np.maximum(ref.strength, 1e-3)
        corr = _corr(maps.tiny, tiny_ref, 1.0 * np.sqrt(maps.tiny[0].shape[1]))
        if voting:
            # A cell is lost when its reference edges moved away, or kept (nearly) no contrast.
            faded = valid & (cell_strength < CELL_FADED)
            cell_lost = ((hits / np.maximum(ref.cell_edges, 1.0) < CELL_LOST) & valid) | faded
            # What replaced the scene there: another view has detail of its own, in the same place from one
            # frame to the next, about as much as any view; a cover or paint has only noise, or hardly any.
            incoherent = faded
            if previous is not None and previous.shape == maps.small.shape and cell_lost.any():
                now, before = detail_cells(maps.small), detail_cells(previous)
                # A cell with less than ~0.1 grey level of detail has none to correlate.
                coherent = _corr(now, before, 0.1 * np.sqrt(now[0].shape[1]))
                coherence = float(coherent[cell_lost].mean())
                incoherent = coherent < CELL_INCOHERENT
            weak = maps.cell_grad < CELL_WEAK * ref.cell_grad
            cell_blank = cell_lost & (incoherent | weak)
            overlap = float(hits[valid].sum() / ref.cell_edges[valid].sum())
            lost = float(cell_lost.sum() / voting)
            blank = float(cell_blank.sum() / voting)
            changed = float((cell_lost & ~cell_blank).sum() / voting)
            lowfreq = float(corr[valid].mean())
            # Edge contrast relative to the coarse contrast: a darker or lower-gain picture lowers both,
            # blur only the first. (Not for `blank`: a covered cell has lost both.)
            ratio_coarse = maps.tiny[1] / np.maximum(tiny_ref[1], 1e-6)
            gain = np.clip(ratio_coarse, GAIN_MIN, 1.0 / GAIN_MIN)
            strength = float(np.sort((cell_strength / gain)[valid])[voting // 2])
            coarse = float(np.sort(ratio_coarse[valid])[voting // 2])
        if ratio is not None and ref.fine_ratio:
            sharpness = ratio / ref.fine_ratio
    found = features(seen, overlap, lost, blank, changed, coherence, strength, lowfreq, sharpness, voting, coarse)
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
    )


def with_glance(previous: Features, seen: Glance) -> Features:
    """The scene features of an earlier frame with this frame's glance (a frame whose scene was not compared)."""
    return features(
        seen,
        previous.overlap,
        previous.lost,
        previous.blank,
        previous.changed,
        previous.coherence,
        previous.strength,
        previous.lowfreq,
        previous.sharpness,
        previous.voting,
        previous.coarse,
    )
