"""The learned view of one camera's scene: what `video.features.compare` measures a frame against."""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from video.features import GRID, U8, FrameMaps, row_stats, spread

EDGE_TOP = 0.10  # reference edges: the strongest 10 % of each cell of the reference gradient map
PEAKY = 1.6  # a cell votes if its reference edges are this much stronger than its mean (structure)
#: Saved references carry this; the noise floor of an older one was measured another way and is relearned.
FORMAT = 2

F32 = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]


def _top(c: F32, share: float) -> Mask:
    """Per row, mark the entries in the top `share` of that row."""
    k = min(c.shape[1] - 1, int(c.shape[1] * (1 - share)))
    threshold = np.partition(c, k, axis=1)[:, k : k + 1]
    return np.asarray((c >= threshold) & (c > 0))


class Reference:
    """The learned view of one camera's scene while healthy: edges, coarse picture, sharpness, noise floor.

    Per-cell figures are kept as plain lists (16 entries): `compare` decides cell by cell in Python."""

    def __init__(self, learn_frames: int = 10) -> None:
        if learn_frames < 1:
            raise ValueError("learn_frames must be >= 1")
        self.learn_frames = learn_frames
        self.frames = 0
        self.grad: F32 | None = None  # cell-major mean of gradient maps, each normalised to mean 1
        self.abs_grad: F32 | None = None  # cell-major mean of gradient maps, in grey levels
        self.tiny: F32 | None = None  # cell-major mean coarse picture (each frame's centred per cell)
        self.tiny_centred: F32 | None = None  # ... centred again (exactly: the dot products rely on it)
        self.tiny_norm: list[float] = []  # ... and its per-cell norms
        self.edges: Mask | None = None  # cell-major: the strongest EDGE_TOP of each cell
        self.cell_edges: list[int] = []  # per cell: how many edges
        self.strength: list[float] = []  # per cell: mean gradient on its edges (grey levels)
        self.cell_grad: list[float] = [0.0] * (GRID * GRID)  # per cell: mean gradient (grey levels)
        self.valid: list[bool] = []  # per cell: structure enough to vote
        self.edge_mask: U8 | None = None  # `edges` as an image mask at small scale
        self.edge_mask_half: U8 | None = None  # ... and at half scale
        self.edge_pixels = (0, 0)
        self.edge_index: npt.NDArray[np.intp] = np.zeros(0, np.intp)  # flat indices of the edges, by cell
        self.edge_starts: npt.NDArray[np.intp] = np.zeros(0, np.intp)  # where each cell's edges start
        self.edge_cell: npt.NDArray[np.intp] = np.zeros(0, np.intp)  # the cell of each edge
        self.fine_ratio: float | None = None
        self.noise: float | None = None  # typical frame-to-frame change of the quieter cells while healthy
        self.activity: list[float] | None = None  # per cell: usual frame-to-frame change while healthy
        self.noise_frames = 0  # how many frames they were measured on
        self._since_edges = 0
        self._fine_n = 0
        self._shape: tuple[int, int] | None = None

    @property
    def ready(self) -> bool:
        """True once enough frames have been learned to judge against."""
        return self.frames >= self.learn_frames and self.edges is not None

    def fits(self, shape: tuple[int, ...]) -> bool:
        """True if the reference was learned on pictures of this (small image) size."""
        return self._shape is None or self._shape == shape[:2]

    def update(self, maps: FrameMaps, alpha: float, fine_ratio: float | None) -> None:
        """Blend one healthy frame in: running mean while learning, then exponential with weight `alpha`."""
        a = 1.0 / (self.frames + 1) if self.frames < self.learn_frames else alpha
        abs_grad = maps.mag.astype(np.float32)
        grad = abs_grad * np.float32(1.0 / max(sum(maps.cell_grad) / len(maps.cell_grad), 1e-3))
        # Each frame's coarse picture centred per cell: gain-free offsets do not matter.
        n = maps.tiny.shape[1]
        tiny = maps.tiny - np.array(maps.tiny_sum, np.float32).reshape(-1, 1) / np.float32(n)
        if self.grad is None or self.tiny is None or self.abs_grad is None:
            self.grad, self.tiny, self.abs_grad = grad, tiny, abs_grad
            self._shape = (maps.small.shape[0], maps.small.shape[1])
        else:
            cv2.accumulateWeighted(grad, self.grad, a)
            cv2.accumulateWeighted(tiny, self.tiny, a)
            cv2.accumulateWeighted(abs_grad, self.abs_grad, a)
        self._centre_tiny()
        if fine_ratio is not None:
            # A running mean of its own first: it is measured on the edges, which settle while learning.
            af = 1.0 / (self._fine_n + 1) if self._fine_n < self.learn_frames else alpha
            self.fine_ratio = (
                fine_ratio if self.fine_ratio is None else self.fine_ratio + af * (fine_ratio - self.fine_ratio)
            )
            self._fine_n += 1
        self.frames += 1
        self._since_edges += 1
        # Edge ranks move slowly: recompute them while learning, then every few updates.
        if self.frames <= self.learn_frames or self._since_edges >= 10:
            self._recompute_edges()

    def track_noise(self, motion: tuple[float, ...], rise: float, drop: float, usual: float) -> None:
        """Follow the camera's noise floor from one healthy frame's per-cell change since the previous frame:
        the lower quartile, as a low envelope (weight `drop` when it is quieter, `rise` when it is not);
        and each cell's usual change (a mean with weight `usual`)."""
        quiet = sorted(motion)[len(motion) // 4]
        if self.noise is None:
            self.noise = quiet
        else:
            self.noise += (drop if quiet < self.noise else rise) * (quiet - self.noise)
        if self.activity is None or len(self.activity) != len(motion):
            self.activity = list(motion)
        else:
            self.activity = [a + usual * (m - a) for a, m in zip(self.activity, motion, strict=True)]
        self.noise_frames += 1

    def _centre_tiny(self) -> None:
        assert self.tiny is not None
        self.tiny_centred = self.tiny - self.tiny.mean(axis=1, keepdims=True)
        total, squares, _ = row_stats(self.tiny_centred)
        n = self.tiny_centred.shape[1]
        self.tiny_norm = [spread(s, q, n) for s, q in zip(total, squares, strict=True)]

    def _recompute_edges(self) -> None:
        assert self.grad is not None and self._shape is not None
        assert self.abs_grad is not None
        edges = self.edges = _top(self.grad, EDGE_TOP)
        counts = edges.sum(axis=1)
        self.cell_edges = counts.tolist()
        per_edge = np.maximum(counts, 1)
        self.strength = ((self.abs_grad * edges).sum(axis=1) / per_edge).tolist()
        self.cell_grad = self.abs_grad.mean(axis=1, dtype=np.float64).tolist()
        strength = (self.grad * edges).sum(axis=1) / per_edge
        mean = self.grad.mean(axis=1)
        self.valid = ((strength >= PEAKY * mean) & (mean >= 0.1)).tolist()
        h, w = self._shape
        ch, cw = h // GRID, w // GRID
        image = np.zeros((h, w), np.uint8)
        image[: ch * GRID, : cw * GRID] = (
            edges.reshape(GRID, GRID, ch, cw).transpose(0, 2, 1, 3).reshape(ch * GRID, cw * GRID)
        )
        self.edge_mask = image
        h4, w4 = h // 4, w // 4
        half = cv2.resize(image[: 4 * h4, : 4 * w4], (2 * w4, 2 * h4), interpolation=cv2.INTER_AREA)
        self.edge_mask_half = (half > 0).astype(np.uint8)
        self.edge_pixels = (cv2.countNonZero(self.edge_mask), cv2.countNonZero(self.edge_mask_half))
        # Flat indices of the edges, grouped by cell, for per-cell sums with one `reduceat` (whose indices
        # must lie inside the array, even for a cell without edges).
        self.edge_index = np.flatnonzero(edges)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        self.edge_starts = np.minimum(starts, max(self.edge_index.size - 1, 0)).astype(np.intp)
        self.edge_cell = np.repeat(np.arange(counts.size), counts).astype(np.intp)
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
            "format": np.array([FORMAT]),
            "activity": np.array(self.activity if self.activity is not None else [], np.float64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, npt.NDArray[np.generic]], learn_frames: int = 10) -> Reference:
        """Rebuild a reference saved with `to_arrays`; raise ValueError if the arrays do not fit together."""
        ref = cls(learn_frames)
        try:
            h, w = (int(v) for v in arrays["shape"])
            frames, fine, fine_n, noise = (float(v) for v in arrays["scalars"])
            saved_format = int(arrays["format"][0]) if "format" in arrays else 1
            ref.grad = np.array(arrays["grad"], np.float32)
            ref.abs_grad = np.array(arrays["abs_grad"], np.float32)
            ref.tiny = np.array(arrays["tiny"], np.float32)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
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
        if noise >= 0 and saved_format >= FORMAT and math.isfinite(noise):
            ref.noise, ref.noise_frames = noise, ref.frames
            activity = [float(v) for v in np.asarray(arrays.get("activity", []), np.float64).ravel()]
            ref.activity = activity if len(activity) == GRID * GRID else None
        ref._centre_tiny()
        ref._recompute_edges()
        return ref
