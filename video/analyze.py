"""Analyze one file or stream: `python -m video.analyze PATH_OR_URL --camera ID`.

Prints one JSON object per line for each state change, the first line the initial state:

    {"camera": "cam-1", "t": 0.0, "state": "ok"}
    {"camera": "cam-1", "t": 64.5, "state": "occluded"}

`t` is media time in seconds. A file is read as fast as it decodes but sampled at the analysis rate in
media time, so it gives what the live stream would have. The end of a file is reported as a live feed's end
would be: video loss, after the hold time, past the last frame. A stream is read live (with reconnects)
until it ends for good (`--give-up` seconds without a frame) or `--duration` seconds have passed. This output is
a contract with evaluation tooling: keep it stable.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import orjson

from core.types import CameraState
from video.analyzer import CameraAnalyzer, Change
from video.reader import FeedUnavailable, FeedWorker, Sample, Silence, is_stream, iter_file, quiet_backend_logs
from video.state import Rules

logger = logging.getLogger("video.analyze")


def change_line(change: Change, evidence: bool = False) -> bytes:
    """Encode one state change as the CLI's JSON line (without the newline)."""
    out: dict[str, object] = {"camera": change.camera, "t": round(float(change.t), 3), "state": change.state.value}
    if evidence:
        out["previous"] = change.transition.previous.value if change.transition.previous else None
        out["reason"] = change.transition.reason
        out["features"] = dict(change.transition.features.pairs()) if change.transition.features else None
    return orjson.dumps(out)


def analyze_file(
    path: str,
    camera: str,
    fps: float = 2.0,
    rules: Rules | None = None,
    analyzer: CameraAnalyzer | None = None,
    end_is_loss: bool = True,
) -> Iterator[Change]:
    """Yield the state changes of a file, as fast as it decodes; raise FeedUnavailable if it cannot be read.

    With `end_is_loss`, the end of the file is what it would be on a live feed, the stream dropping: the
    analyzer keeps getting no frames until it reports video loss (after its hold time, past the end).
    """
    analyzer = analyzer or CameraAnalyzer(camera, rules)
    last_t: float | None = None
    for item in iter_file(path, fps):
        last_t = item.t
        change = analyzer.frame(item.t, item.image) if isinstance(item, Sample) else analyzer.no_frame(item.t)
        if change:
            yield change
    if end_is_loss and last_t is not None:
        period = 1.0 / fps
        t = last_t
        for _ in range(int((analyzer.rules.loss_hold_s + 2 * analyzer.rules.grace_s) * fps) + 2):
            if analyzer.state is CameraState.VIDEO_LOSS:
                break
            t += period
            change = analyzer.no_frame(t)
            if change:
                yield change


def analyze_stream(
    url: str,
    camera: str,
    fps: float = 2.0,
    *,
    duration_s: float | None = None,
    give_up_s: float = 20.0,
    stall_s: float = 2.0,
    stop: threading.Event | None = None,
    rules: Rules | None = None,
) -> Iterator[Change]:
    """Yield the state changes of a live stream until it is gone for `give_up_s`, or `duration_s` passed."""
    analyzer = CameraAnalyzer(camera, rules)
    worker = FeedWorker(camera, url, fps, read_timeout_s=min(5.0, give_up_s))
    stop = stop or threading.Event()
    silence = Silence(stall_s, first_s=worker.open_timeout_s + stall_s)
    worker.start()
    try:
        while not stop.is_set():
            item = worker.get(timeout=1.0 / fps)
            now = worker.media_time()
            if duration_s is not None and now >= duration_s:
                break
            silence.observe(item)
            change: Change | None = None
            if isinstance(item, Sample):
                change = analyzer.frame(item.t, item.image)
            elif silence.missing(now):
                # Lost connection, or a feed that stalled without saying so: both are missing frames.
                change = analyzer.no_frame(now)
            if change:
                yield change
            if now - silence.last_sample >= give_up_s:
                break
    finally:
        worker.stop(timeout=1.0)


def run(
    source: str,
    camera: str,
    fps: float,
    emit: Callable[[bytes], None],
    *,
    evidence: bool = False,
    duration_s: float | None = None,
    give_up_s: float = 20.0,
    snapshots: Path | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Analyze `source`, emitting one JSON line per change; return the process exit code."""
    changes: Iterator[Change]
    if is_stream(source):
        changes = analyze_stream(source, camera, fps, duration_s=duration_s, give_up_s=give_up_s, stop=stop)
    else:
        changes = analyze_file(source, camera, fps)
    seen = False
    try:
        for change in changes:
            if duration_s is not None and change.t > duration_s:
                break
            seen = True
            emit(change_line(change, evidence))
            if snapshots is not None and change.image is not None:
                snapshots.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(snapshots / f"{camera}_{change.t:09.2f}_{change.state.value}.jpg"), change.image)
    except FeedUnavailable as exc:
        logger.error("camera %s: %s", camera, exc, extra={"camera": camera})
        if not seen:
            emit(orjson.dumps({"camera": camera, "t": 0.0, "state": CameraState.VIDEO_LOSS.value}))
        return 2
    if not seen:
        # Opened but never produced a frame: that is video loss from the start.
        emit(orjson.dumps({"camera": camera, "t": 0.0, "state": CameraState.VIDEO_LOSS.value}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = argparse.ArgumentParser(prog="python -m video.analyze", description=__doc__.split("\n\n")[0])
    p.add_argument("source", help="video file, or rtsp:// / http:// stream URL")
    p.add_argument("--camera", required=True, help="camera id, echoed in every line")
    p.add_argument("--fps", type=float, default=2.0, help="analysis rate in media time (default 2)")
    p.add_argument("--duration", type=float, help="stop after this many seconds of media time")
    p.add_argument("--give-up", type=float, default=20.0, help="streams: stop after this long without frames")
    p.add_argument("--evidence", action="store_true", help="add previous state, reason and features to lines")
    p.add_argument("--snapshots", type=Path, help="write a JPEG of each change's frame into this folder")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not 0 < args.fps <= 30:
        raise SystemExit("--fps must be in (0, 30]")
    if not args.verbose:
        quiet_backend_logs()
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def emit(line: bytes) -> None:
        sys.stdout.buffer.write(line + b"\n")
        sys.stdout.buffer.flush()

    return run(
        args.source,
        args.camera,
        args.fps,
        emit,
        evidence=args.evidence,
        duration_s=args.duration,
        give_up_s=args.give_up,
        snapshots=args.snapshots,
        stop=stop,
    )


if __name__ == "__main__":
    sys.exit(main())
