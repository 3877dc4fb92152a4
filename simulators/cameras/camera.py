"""A simulated camera: a scene plus a tamper timeline, giving frames, JPEG bytes and ground truth."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterable

import cv2
import numpy as np

from simulators.cameras.scene import Scene, SceneSpec
from simulators.cameras.tamper import EXPECTED_STATE, TamperEvent, black_frame, blue_frame, lenses_at, pose_at
from simulators.cameras.truth import ClipTruth, TruthEvent

Array = np.ndarray


class Camera:
    """Frames of one camera at any media time; the tamper timeline can be replaced while it runs."""

    def __init__(
        self,
        camera_id: str,
        spec: SceneSpec,
        events: Iterable[TamperEvent] = (),
        fps: float = 8.0,
        jpeg_quality: int = 80,
    ) -> None:
        if not 0.5 <= fps <= 60:
            raise ValueError(f"camera {camera_id}: fps {fps} out of range [0.5, 60]")
        if not 10 <= jpeg_quality <= 100:
            raise ValueError(f"camera {camera_id}: jpeg_quality {jpeg_quality} out of range [10, 100]")
        self.id = camera_id
        self.spec = spec
        self.fps = float(fps)
        self.jpeg_quality = int(jpeg_quality)
        self.scene = Scene(spec)
        self._events: tuple[TamperEvent, ...] = tuple(sorted(events))
        self._lock = threading.Lock()
        self._frozen: OrderedDict[float, tuple[Array, bytes]] = OrderedDict()

    @property
    def events(self) -> tuple[TamperEvent, ...]:
        """The tamper timeline, sorted by start."""
        return self._events

    @events.setter
    def events(self, events: Iterable[TamperEvent]) -> None:
        self._events = tuple(sorted(events))

    def freeze_source(self, e: TamperEvent) -> float:
        """Media time of the last frame before a freeze: the picture it keeps repeating."""
        k = math.ceil(e.start_s * self.fps - 1e-9) - 1
        return max(k, 0) / self.fps

    def _picture(self, t: float, events: tuple[TamperEvent, ...]) -> Array:
        for e in events:
            if e.type == "blue" and e.active(t):
                return blue_frame(e, self.spec.width, self.spec.height, self.id)
        for e in events:
            if e.type == "black" and e.active(t):
                return black_frame(e, t, self.spec.width, self.spec.height)
        return self.scene.render(t, pose_at(events, t), lenses_at(events, t))

    def _frozen_at(self, t: float, events: tuple[TamperEvent, ...]) -> tuple[Array, bytes] | None:
        for e in events:
            if e.type == "frozen" and e.active(t):
                src = self.freeze_source(e)
                with self._lock:
                    hit = self._frozen.get(src)
                if hit is None:
                    img = self._picture(src, events)
                    hit = (img, self._encode(img))
                    with self._lock:
                        self._frozen[src] = hit
                        while len(self._frozen) > 4:
                            self._frozen.popitem(last=False)
                return hit
        return None

    def _encode(self, img: Array) -> bytes:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise RuntimeError(f"camera {self.id}: JPEG encoding failed")
        return buf.tobytes()

    def connected(self, t: float) -> bool:
        """False while a `disconnect` tamper is on."""
        return not any(e.type == "disconnect" and e.active(t) for e in self._events)

    def frame(self, t: float) -> Array | None:
        """The picture at media time t (uint8 BGR), or None while disconnected."""
        events = self._events
        if not self.connected(t):
            return None
        frozen = self._frozen_at(t, events)
        return frozen[0] if frozen is not None else self._picture(t, events)

    def jpeg(self, t: float) -> bytes | None:
        """The JPEG the camera sends at t (byte-identical while frozen), or None while disconnected."""
        events = self._events
        if not self.connected(t):
            return None
        frozen = self._frozen_at(t, events)
        return frozen[1] if frozen is not None else self._encode(self._picture(t, events))

    def truth(self, duration_s: float) -> ClipTruth:
        """Ground truth for the first duration_s seconds of this camera."""
        return ClipTruth(
            camera=self.id,
            scene=self.spec.label,
            seed=self.spec.seed,
            fps=self.fps,
            duration_s=float(duration_s),
            width=self.spec.width,
            height=self.spec.height,
            nuisances=tuple(self.spec.nuisances.names(self.spec.lighting, self.spec.ir_night)),
            events=tuple(
                TruthEvent(e.type, e.start_s, e.end_s, EXPECTED_STATE[e.type])
                for e in self._events
                if e.start_s < duration_s
            ),
        )
