"""Reading camera feeds through OpenCV's FFmpeg backend: files, RTSP and HTTP MJPEG.

Frames are sampled at the analysis rate in *media time*, so a file gives the same samples as the live
stream it was recorded from. `iter_file` reads a file as fast as it decodes (the CLI, evaluation);
`FeedWorker` reads a live source in its own thread into a bounded queue, dropping and counting the oldest
sample when analysis lags (the reader never blocks), and reconnects with capped backoff and jitter.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt

from core.backoff import Backoff
from core.errors import VigilError

logger = logging.getLogger(__name__)

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


class FeedUnavailable(VigilError):
    """The source cannot be opened or read right now."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One frame picked for analysis."""

    t: float  # media time in seconds (files: presentation time; live: seconds since the worker started)
    image: npt.NDArray[np.uint8]  # BGR
    wall_ms: int  # UTC epoch ms when it was read


@dataclass(frozen=True, slots=True)
class Gap:
    """No frame when one was due: connection lost, stream ended or stalled, or a hole in a file."""

    t: float
    wall_ms: int
    reason: str


FeedItem = Sample | Gap


def quiet_backend_logs() -> None:
    """Silence FFmpeg's and OpenCV's own console logging (a process-wide setting: call it from a main).

    Failures still surface: as FeedUnavailable, Gaps and this module's log lines, with the camera id."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET; read when a capture opens
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def is_stream(source: str) -> bool:
    """Return True for a network source (RTSP, HTTP, ...), False for a file path."""
    return source.lower().startswith(STREAM_SCHEMES)


def open_capture(source: str, open_timeout_s: float = 10.0, read_timeout_s: float = 5.0) -> cv2.VideoCapture:
    """Open a source with the FFmpeg backend; raise FeedUnavailable if it cannot be opened."""
    if not is_stream(source) and not os.path.exists(source):
        raise FeedUnavailable(f"{source}: no such file")
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(read_timeout_s * 1000),
    ]
    try:
        cap = cv2.VideoCapture(source, cv2.CAP_FFMPEG, params)
    except cv2.error as exc:
        raise FeedUnavailable(f"{_redact(source)}: {exc}") from exc
    if not cap.isOpened():
        cap.release()
        raise FeedUnavailable(f"{_redact(source)}: cannot open")
    return cap


def _redact(source: str) -> str:
    """Hide credentials in a URL (rtsp://user:pass@host) before it is logged."""
    scheme, sep, rest = source.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return source


@dataclass
class Sampler:
    """Pick frames at `fps` in media time, keeping the phase, restarting after a jump."""

    fps: float
    _next: float | None = None

    def __post_init__(self) -> None:
        if not 0 < self.fps <= 1000:
            raise ValueError(f"invalid analysis rate {self.fps}")

    @property
    def period(self) -> float:
        return 1.0 / self.fps

    def due(self, t: float) -> bool:
        """Return True if the frame at media time `t` should be analysed."""
        if self._next is not None and t < self._next - 1e-6:
            return False
        late = self._next is None or t - self._next >= self.period
        self._next = (t if late or self._next is None else self._next) + self.period
        return True


def _frame_time(cap: cv2.VideoCapture, index: int, fps: float) -> float:
    """Presentation time of the frame just grabbed, from its timestamp, else its index."""
    ms = cap.get(cv2.CAP_PROP_POS_MSEC)
    if ms > 0 or index == 0:
        return max(ms, 0.0) / 1000.0
    return index / fps if fps > 0 else 0.0


def iter_file(path: str, analysis_fps: float, gap_s: float = 1.5) -> Iterator[FeedItem]:
    """Yield the samples of a file (or a finite stream) at the analysis rate, and Gaps for holes in it."""
    cap = open_capture(path)
    sampler = Sampler(analysis_fps)
    fps = cap.get(cv2.CAP_PROP_FPS)
    fps = fps if 0 < fps < 1000 else 0.0
    index = 0
    last_t: float | None = None
    try:
        while cap.grab():
            t = _frame_time(cap, index, fps)
            index += 1
            if last_t is not None and t - last_t > gap_s:
                # A hole in the recording: the camera sent nothing for a while.
                missing = last_t + sampler.period
                while missing < t - 1e-6:
                    yield Gap(missing, _now_ms(), "no frames")
                    missing += sampler.period
            last_t = t if last_t is None else max(last_t, t)
            if sampler.due(t):
                ok, image = cap.retrieve()
                if ok and image is not None:
                    yield Sample(t, _bgr(image), _now_ms())
    finally:
        cap.release()


def _bgr(image: cv2.typing.MatLike) -> npt.NDArray[np.uint8]:
    """The frame OpenCV's FFmpeg backend decoded (8-bit BGR, as the capture converts it), typed as such."""
    return cast(npt.NDArray[np.uint8], image)


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class FeedStats:
    """Counters of one feed (read by the service's metrics; ints are updated atomically under the GIL)."""

    received: int = 0  # frames decoded
    sampled: int = 0  # frames picked for analysis
    dropped: int = 0  # samples dropped because analysis lagged
    reconnects: int = 0
    connected: bool = False
    last_error: str = ""


@dataclass
class FeedWorker:
    """Read one camera's source in a thread; hand samples to the analyzer through a bounded queue."""

    camera: str
    source: str
    analysis_fps: float
    queue_size: int = 4
    backoff: Backoff = field(default_factory=lambda: Backoff(base_s=0.5, cap_s=30.0))
    open_timeout_s: float = 10.0
    read_timeout_s: float = 5.0
    realtime_files: bool = True  # pace a file at its own frame rate, like a camera, and loop it
    clock: Callable[[], float] = time.monotonic
    stats: FeedStats = field(default_factory=FeedStats)

    def __post_init__(self) -> None:
        if self.queue_size < 1:
            raise ValueError("queue_size must be >= 1")
        self.queue: queue.Queue[FeedItem] = queue.Queue(maxsize=self.queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = self.clock()

    def media_time(self) -> float:
        """Seconds since the worker started: the time base of a live feed."""
        return self.clock() - self._t0

    def start(self) -> None:
        """Start the reader thread."""
        self._t0 = self.clock()
        self._thread = threading.Thread(target=self._run, name=f"feed-{self.camera}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the reader thread (it may take up to the read timeout to notice)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout if timeout is not None else self.read_timeout_s + 2)

    def get(self, timeout: float) -> FeedItem | None:
        """Return the next sample or gap, or None if nothing came within `timeout` seconds."""
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def _offer(self, item: FeedItem) -> None:
        """Queue an item without ever blocking: when full, drop the oldest and count it."""
        while True:
            try:
                self.queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    old = self.queue.get_nowait()
                except queue.Empty:
                    continue
                if isinstance(old, Sample):
                    self.stats.dropped += 1

    def _gap(self, reason: str) -> None:
        self.stats.connected = False
        self.stats.last_error = reason
        self._offer(Gap(self.media_time(), _now_ms(), reason))

    def _run(self) -> None:
        attempt = 0
        sampler = Sampler(self.analysis_fps)
        while not self._stop.is_set():
            try:
                got = self._read_once(sampler)
            except FeedUnavailable as exc:
                logger.warning("camera %s: %s", self.camera, exc, extra={"camera": self.camera})
                self._gap(str(exc))
                got = 0
            except Exception:  # a thread loop must survive anything one source does
                logger.exception("camera %s: reader failed", self.camera, extra={"camera": self.camera})
                self._gap("reader error")
                got = 0
            if self._stop.is_set():
                break
            attempt = 0 if got else attempt + 1
            self.stats.reconnects += 1
            delay = self.backoff.delay(attempt)
            logger.info("camera %s: reconnecting in %.1f s", self.camera, delay, extra={"camera": self.camera})
            self._stop.wait(delay)

    def _read_once(self, sampler: Sampler) -> int:
        """Read until the source fails or ends; return how many frames it gave."""
        cap = open_capture(self.source, self.open_timeout_s, self.read_timeout_s)
        stream = is_stream(self.source)
        fps = cap.get(cv2.CAP_PROP_FPS)
        pace = 1.0 / fps if self.realtime_files and not stream and 0 < fps < 1000 else 0.0
        got = 0
        logger.info("camera %s: connected to %s", self.camera, _redact(self.source), extra={"camera": self.camera})
        try:
            started = self.clock()
            while not self._stop.is_set():
                if not cap.grab():
                    self._gap("stream ended" if got else "no frames")
                    return got
                if got == 0:
                    self.stats.connected = True
                got += 1
                self.stats.received += 1
                if pace:
                    delay = started + got * pace - self.clock()
                    if delay > 0:
                        self._stop.wait(delay)
                t = self.media_time()
                if sampler.due(t):
                    ok, image = cap.retrieve()
                    if ok and image is not None:
                        self.stats.sampled += 1
                        self._offer(Sample(t, _bgr(image), _now_ms()))
            return got
        finally:
            cap.release()


@dataclass
class Silence:
    """When a live feed's silence means missing frames: after a Gap, or `stall_s` without a sample.

    Before the feed has said anything (no sample, no gap) silence is the connection still opening, not a
    missing frame, for up to `first_s` (the open timeout: a camera that cannot be reached gives a Gap
    sooner). Without this, cameras opened one after another at start-up were called `video_loss` for the
    seconds they waited their turn.
    """

    stall_s: float = 2.0
    first_s: float = 0.0
    last_sample: float = 0.0
    gap: bool = False
    heard: bool = False

    def observe(self, item: FeedItem | None) -> None:
        """Note what the queue gave (None: nothing within the wait)."""
        if isinstance(item, Sample):
            self.last_sample, self.gap, self.heard = item.t, False, True
        elif isinstance(item, Gap):
            self.gap = self.heard = True

    def missing(self, now: float) -> bool:
        """True if a frame is missing at media time `now`: call the analyzer's `no_frame`."""
        if not self.heard and now < self.first_s:
            return False
        return self.gap or now - self.last_sample >= self.stall_s
