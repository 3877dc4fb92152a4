"""Video analysis cost against the decoding floor, measured in the same run.

    .venv/bin/python bench/video.py [--seconds 20] [--passes 3] [--workdir DIR]

Renders a busy perimeter scene with the camera simulator (falling back to ffmpeg's test source), encodes
it to H.264 with ffmpeg as a camera would stream it (360p sub-stream, 1080p main stream, sensor noise at
full resolution), then, on one core (OpenCV and FFmpeg limited to one thread, process CPU time), reads
each stream exactly as the service's reader does (`video.reader`):

  a. decode: every frame decoded (`grab`) through OpenCV's FFmpeg backend, and the frames due at
     2 analysed frames/s in media time converted to BGR (`retrieve`), which is what the analyzer gets;
     frames that are not due are never converted, in the service as here;
  b. analysis: `CameraAnalyzer.frame` on each due frame, right after it was decoded, as in the service
     (all of it: the sparse glance, and whenever the scene is compared the reduction of the whole frame);
  c. a 360p sub-stream at 2 fps: decode + analysis per frame, hence cameras per core.

The first pass over each stream lets the analyzer learn the view and is not counted: what is measured is
a camera that has been running for a while. `overhead` is analysis cost per analysed frame over decode
cost per decoded frame (decoding all frames of a faster stream costs more; this is the strict comparison).
The last line is `RESULT overhead_360p=.. overhead_1080p=.. cameras_per_core_360p=..`, the line before it
the machine's load average (other work on the machine inflates both columns, not always alike).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/video.py`, this file's folder comes first on sys.path and would shadow the `video`
# package: put the project root there instead.
if Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from video.analyzer import CameraAnalyzer

ANALYSIS_FPS = 2.0


@dataclass(frozen=True, slots=True)
class Clip:
    """An encoded test stream."""

    label: str
    path: Path
    width: int
    height: int
    fps: float


@dataclass(frozen=True, slots=True)
class Cost:
    """CPU cost per frame of one phase."""

    frames: int
    cpu_ms: float  # per frame

    @property
    def per_s(self) -> float:
        """Frames per CPU second."""
        return 1000.0 / self.cpu_ms if self.cpu_ms > 0 else float("inf")


def scene_frames(width: int, height: int, fps: float, seconds: float, seed: int) -> Iterator[np.ndarray]:
    """Frames of a busy perimeter scene from the camera simulator (people, vehicles, wind, noise)."""
    from simulators.cameras.nuisances import Nuisances
    from simulators.cameras.scene import Scene, SceneSpec

    nuisances = Nuisances(noise=1.0, traffic=1.5, wind=0.8, clouds=0.8)
    scene = Scene(SceneSpec("gate_parking", seed, width, height, "day", nuisances=nuisances, name="bench"))
    for i in range(round(seconds * fps)):
        yield scene.render(i / fps)


def encode(
    frames: Iterator[np.ndarray], size: tuple[int, int], fps: float, out: Path, scale_to: tuple[int, int]
) -> None:
    """Encode raw frames to H.264 (yuv420p, 2 s GOP) with ffmpeg, scaled and with sensor noise at full size."""
    w, h = scale_to
    vf = f"scale={w}:{h}:flags=bicubic,noise=alls=5:allf=t" if (w, h) != size else "noise=alls=3:allf=t"
    cmd = [
        "ffmpeg", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{size[0]}x{size[1]}", "-r", str(fps), "-i", "-",
        "-vf", vf, "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", str(int(2 * fps)),
        "-pix_fmt", "yuv420p", "-threads", "2", str(out),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for frame in frames:
        proc.stdin.write(np.ascontiguousarray(frame).tobytes())
    proc.stdin.close()
    if proc.wait(timeout=600) != 0:
        raise RuntimeError(f"ffmpeg failed writing {out}")


def encode_testsrc(size: tuple[int, int], fps: float, seconds: float, out: Path) -> None:
    """Fallback input without the simulator: ffmpeg's test source with noise."""
    w, h = size
    cmd = [
        "ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate={fps}",
        "-t", str(seconds), "-vf", "noise=alls=5:allf=t", "-c:v", "libx264", "-preset", "veryfast",
        "-crf", "23", "-g", str(int(2 * fps)), "-pix_fmt", "yuv420p", str(out),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=600)


def make_clips(workdir: Path, seconds: float, seed: int) -> list[Clip]:
    """Encode the 360p and 1080p test streams (10 fps) and a 360p sub-stream at the analysis rate."""
    specs = [("360p", 640, 360, 10.0), ("1080p", 1920, 1080, 10.0), ("360p@2fps", 640, 360, ANALYSIS_FPS)]
    clips = []
    for label, w, h, fps in specs:
        path = workdir / f"{label.replace('@', '_')}.mp4"
        try:
            encode(scene_frames(640, 360, fps, seconds, seed), (640, 360), fps, path, (w, h))
        except ImportError:
            encode_testsrc((w, h), fps, seconds, path)
        clips.append(Clip(label, path, w, h, fps))
    return clips


def measure(clip: Clip, passes: int) -> tuple[Cost, Cost]:
    """Decode the stream on one thread and analyse it at 2 frames/s as the service does: every frame decoded,
    the due ones converted and analysed right away. Return the decode cost per decoded frame and the analysis
    cost per analysed frame (process CPU time, the first pass learning the view is not counted)."""
    analyzer = CameraAnalyzer("bench")
    step = max(1, round(clip.fps / ANALYSIS_FPS))
    decode_s = analysis_s = 0.0
    decoded = analysed = 0
    t = 0.0
    for lap in range(passes + 1):
        cap = cv2.VideoCapture(str(clip.path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
        if not cap.isOpened():
            raise RuntimeError(f"cannot open {clip.path}")
        index = 0
        while True:
            started = time.process_time()
            if not cap.grab():
                break
            frame = None
            if index % step == 0:
                ok, frame = cap.retrieve()
                frame = frame if ok else None
            read = time.process_time()
            if frame is not None:
                analyzer.frame(t, frame)
                t += 1 / ANALYSIS_FPS
                if lap:
                    analysis_s += time.process_time() - read
                    analysed += 1
            if lap:
                decode_s += read - started
                decoded += 1
            index += 1
        cap.release()
    return Cost(decoded, decode_s * 1000 / max(decoded, 1)), Cost(analysed, analysis_s * 1000 / max(analysed, 1))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table and, last, the RESULT line."""
    p = argparse.ArgumentParser(prog="bench/video.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=20.0, help="length of each test stream")
    p.add_argument("--passes", type=int, default=3, help="measured passes over each stream (after one to learn)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--workdir", type=Path, help="keep the encoded streams here")
    args = p.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        print("ffmpeg is needed to encode the test streams", file=sys.stderr)
        return 2
    cv2.setNumThreads(1)
    os.environ.setdefault("OPENCV_FFMPEG_THREADS", "1")
    tmp = None
    workdir = args.workdir
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="vigil-bench-video-")
        workdir = Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        clips = make_clips(workdir, args.seconds, args.seed)
        rows = {}
        for clip in clips:
            decode, analysis = measure(clip, args.passes)
            rows[clip.label] = (clip, decode, analysis)
    finally:
        if tmp is not None:
            tmp.cleanup()
    print(f"{'stream':<11} {'frames':>6} {'decode ms':>10} {'analysis ms':>12} {'overhead':>9} {'cameras/core':>13}")
    per_core: dict[str, float] = {}
    for label, (clip, decode, analysis) in rows.items():
        # One camera at 2 analysed frames/s, its stream decoded at the stream's own rate.
        cpu_per_s = clip.fps * decode.cpu_ms + ANALYSIS_FPS * analysis.cpu_ms
        per_core[label] = 1000.0 / cpu_per_s
        print(f"{label:<11} {decode.frames:>6} {decode.cpu_ms:>10.3f} {analysis.cpu_ms:>12.3f} "
              f"{analysis.cpu_ms / decode.cpu_ms:>9.3f} {per_core[label]:>13.1f}")  # fmt: skip
    analysis_only = 1000.0 / (ANALYSIS_FPS * rows["360p"][2].cpu_ms)
    print(
        f"(cameras/core: one core decoding the stream at its own rate and analysing 2 frames/s; "
        f"analysis alone at 2 fps: {analysis_only:.0f} cameras/core)"
    )
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    o360 = rows["360p"][2].cpu_ms / rows["360p"][1].cpu_ms
    o1080 = rows["1080p"][2].cpu_ms / rows["1080p"][1].cpu_ms
    print(
        f"RESULT overhead_360p={o360:.3f} overhead_1080p={o1080:.3f} cameras_per_core_360p={per_core['360p@2fps']:.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
