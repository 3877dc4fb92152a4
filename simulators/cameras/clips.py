"""Video clips with ground truth: one clip writer, and the evaluation set (tampers + long clean footage).

Clips are Motion-JPEG in AVI, read back with `cv2.VideoCapture(path, cv2.CAP_FFMPEG)`: every frame is
the JPEG the camera would have streamed, and a frozen picture is byte-identical frame after frame.
A `disconnect` cannot be a gap in a constant-rate file, so the file simply ends where the stream dropped;
its ground truth still covers the full `duration_s`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from simulators.cameras.avi import MjpegAviWriter
from simulators.cameras.camera import Camera
from simulators.cameras.layouts import SCENE_KINDS
from simulators.cameras.noise import rng_for
from simulators.cameras.nuisances import Nuisances
from simulators.cameras.scene import SceneSpec
from simulators.cameras.tamper import TAMPER_TYPES, TamperEvent
from simulators.cameras.truth import dump_truth

logger = logging.getLogger(__name__)

VIDEO_EXT = ".avi"
WARMUP_S = 30.0  # tamper onset never before this, so an analyzer can learn its reference


@dataclass(frozen=True, slots=True)
class ClipSpec:
    """One clip to write: which camera and scene, how long, at what rate, with which tampers."""

    name: str
    camera: str
    scene: SceneSpec
    duration_s: float
    fps: float = 6.0
    events: tuple[TamperEvent, ...] = ()
    jpeg_quality: int = 80
    group: str = "clean"  # "tamper" or "clean"


@dataclass(frozen=True, slots=True)
class ClipResult:
    """What was written for one clip."""

    name: str
    video: str
    truth: str
    frames: int
    seconds: float  # wall time spent
    group: str
    scene: str
    duration_s: float
    fps: float
    events: tuple[str, ...] = field(default=())


def frames_in(spec: ClipSpec) -> int:
    """How many frames the file holds: all of them, or those before the stream dropped."""
    n = round(spec.duration_s * spec.fps)
    for e in spec.events:
        if e.type == "disconnect":
            n = min(n, math.ceil(e.start_s * spec.fps - 1e-9))
    return n


def write_clip(spec: ClipSpec, out_dir: Path) -> ClipResult:
    """Render a clip to `out_dir/NAME.avi` with its ground truth `out_dir/NAME.json`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    cam = Camera(spec.camera, spec.scene, spec.events, fps=spec.fps, jpeg_quality=spec.jpeg_quality)
    video = out_dir / f"{spec.name}{VIDEO_EXT}"
    n = frames_in(spec)
    with MjpegAviWriter(video, spec.scene.width, spec.scene.height, spec.fps) as writer:
        for k in range(n):
            jpeg = cam.jpeg(k / spec.fps)
            if jpeg is None:  # cannot happen before the first disconnect; guard anyway
                break
            writer.write(jpeg)
    truth = out_dir / f"{spec.name}.json"
    dump_truth(cam.truth(spec.duration_s), truth)
    dt = time.perf_counter() - t0
    logger.info("clip %s: %d frames (%s) in %.1f s", spec.name, n, spec.scene.label, dt)
    return ClipResult(
        name=spec.name,
        video=video.name,
        truth=truth.name,
        frames=n,
        seconds=dt,
        group=spec.group,
        scene=spec.scene.label,
        duration_s=spec.duration_s,
        fps=spec.fps,
        events=tuple(e.type for e in spec.events),
    )


# -- the evaluation set -------------------------------------------------------------------------------

#: Tampers of the scene itself: the ones whose detection depends on the learned view.
AFTER_SWITCH_TYPES = ("covered", "spray", "defocus", "moved")
_SIZES = ((480, 270), (480, 270), (640, 360), (480, 270), (400, 300), (480, 270), (640, 360), (320, 240))
_TAMPER_LIGHT = (("day", True), ("night", True), ("day", True), ("dusk", True), ("night", False), ("day", True))

# Clean scenarios: every nuisance somewhere, several at once, on every scene type.
_CLEAN: tuple[tuple[str, bool, dict[str, Any]], ...] = (
    ("day", True, {"clouds": 1.5, "wind": 1.0, "traffic": 1.5}),
    ("dusk", True, {"traffic": 1.5, "ir_switch": True, "wind": 0.5}),
    ("night", True, {"traffic": 2.0, "trucks": 1.0, "rain": 0.6}),
    ("day", True, {"rain": 1.5, "wind": 0.8, "traffic": 1.2}),
    ("dawn", True, {"traffic": 1.5, "ir_switch": True, "clouds": 0.5}),
    ("day", True, {"trucks": 2.0, "traffic": 2.5, "clouds": 0.8}),
    ("night", False, {"traffic": 2.0, "rain": 1.0, "trucks": 0.8}),
    ("day", True, {"wind": 2.0, "clouds": 1.2, "traffic": 1.0}),
)


def _nuisances(rng: Any, lighting: str, extra: dict[str, Any], duration: float, base_wind: float) -> Nuisances:
    ir_at = None
    if extra.get("ir_switch"):
        ir_at = float(rng.uniform(0.3, 0.7) * duration)
    return Nuisances(
        noise=float(rng.uniform(0.7, 1.5)),
        drift=float(rng.uniform(0.5, 1.5)),
        clouds=float(extra.get("clouds", rng.uniform(0, 1.0) if lighting == "day" else 0.0)),
        traffic=float(extra.get("traffic", rng.uniform(0.6, 1.5))),
        trucks=float(extra.get("trucks", rng.uniform(0, 0.6))),
        rain=float(extra.get("rain", rng.uniform(0.4, 1.2) if rng.random() < 0.2 else 0.0)),
        wind=float(extra.get("wind", base_wind)),
        ir_switch_s=ir_at,
        osd=bool(rng.random() < 0.5),
    )


def plan_clip_set(seed: int, count: int = 3, quick: bool = False) -> list[ClipSpec]:
    """The evaluation set: every tamper type `count` times over scene types, day and night, with nuisances;
    one of each scene tamper soon after a dawn or dusk switch; and clean clips with every nuisance totalling
    >= 30 min (quick: a few short, small clips for tests)."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    specs: list[ClipSpec] = []
    warm = 5.0 if quick else WARMUP_S
    for ti, typ in enumerate(TAMPER_TYPES):
        for i in range(1 if quick else count):
            rng = rng_for(seed, "tamper-clip", typ, i)
            kind = SCENE_KINDS[(ti + i) % len(SCENE_KINDS)]
            lighting, ir_night = _TAMPER_LIGHT[(i + ti // 3) % len(_TAMPER_LIGHT)] if not quick else ("day", True)
            duration = 12.0 if quick else float(rng.choice([60.0, 75.0, 90.0]))
            w, h = (256, 144) if quick else _SIZES[(ti * count + i) % len(_SIZES)]
            fps = 4.0 if quick else float(rng.choice([5.0, 6.0, 8.0]))
            start = float(rng.uniform(warm + 1, warm + 12 if not quick else warm + 2))
            end: float | None = None
            if typ != "disconnect" and rng.random() < 0.5:
                end = min(start + float(rng.uniform(12, 25) if not quick else 3.0), duration - (8 if not quick else 2))
            clip_seed = int(rng.integers(1 << 30))
            nz = _nuisances(rng, lighting, {}, duration, float(rng.uniform(0, 1.0)))
            scene = SceneSpec(kind, clip_seed, w, h, lighting, ir_night, nz, name=f"cam{ti * count + i + 1:02d}")
            specs.append(_tamper_clip(f"tamper_{typ}_{i + 1:02d}", scene, duration, fps, typ, start, end, rng))
    if not quick:
        specs.extend(_after_switch(seed, count))
    n_clean = 2 if quick else max(16, 2 * len(_CLEAN))
    for j in range(n_clean):
        rng = rng_for(seed, "clean-clip", j)
        lighting, ir_night, extra = _CLEAN[j % len(_CLEAN)]
        kind = SCENE_KINDS[(j + j // len(_CLEAN)) % len(SCENE_KINDS)]
        duration = 12.0 if quick else 120.0
        w, h = (256, 144) if quick else _SIZES[(j + 3) % len(_SIZES)]
        fps = 4.0 if quick else float(rng.choice([5.0, 6.0]))
        clip_seed = int(rng.integers(1 << 30))
        nz = _nuisances(rng, lighting, extra, duration, float(rng.uniform(0.2, 1.0)))
        scene = SceneSpec(kind, clip_seed, w, h, lighting, ir_night, nz, name=f"cam{50 + j:02d}")
        specs.append(
            ClipSpec(
                name=f"clean_{j + 1:02d}_{scene.label}",
                camera=scene.name,
                scene=scene,
                duration_s=duration,
                fps=fps,
                jpeg_quality=int(rng.integers(60, 90)),
                group="clean",
            )
        )
    return specs


def _after_switch(seed: int, count: int) -> list[ClipSpec]:
    """Scene tampers soon after the day/night switch, one of each: at dawn or dusk the analyzer has just
    changed to the other picture mode's reference (or is still learning it) while street lamps fade in or
    out and the light changes by the minute."""
    specs = []
    for ti, typ in enumerate(AFTER_SWITCH_TYPES):
        rng = rng_for(seed, "switch-clip", typ)
        lighting = ("dawn", "dusk")[ti % 2]
        kind = SCENE_KINDS[(ti + seed) % len(SCENE_KINDS)]
        duration = 120.0
        switch = float(rng.uniform(25.0, 45.0))
        start = switch + float(rng.uniform(8.0, 40.0))
        end = min(start + float(rng.uniform(15, 25)), duration - 8) if rng.random() < 0.5 else None
        clip_seed = int(rng.integers(1 << 30))
        nz = replace(_nuisances(rng, lighting, {}, duration, float(rng.uniform(0, 1.0))), ir_switch_s=switch)
        w, h = _SIZES[(ti + seed) % len(_SIZES)]
        scene = SceneSpec(kind, clip_seed, w, h, lighting, True, nz, name=f"cam{40 + ti:02d}")
        fps = float(rng.choice([5.0, 6.0]))
        specs.append(
            _tamper_clip(f"tamper_{typ}_{count + 1:02d}_{lighting}", scene, duration, fps, typ, start, end, rng)
        )
    return specs


def _tamper_clip(
    name: str, scene: SceneSpec, duration: float, fps: float, typ: str, start: float, end: float | None, rng: Any
) -> ClipSpec:
    """One tamper clip of the evaluation set (its JPEG quality drawn from `rng`, after everything else)."""
    event = TamperEvent(round(start, 2), typ, None if end is None else round(end, 2), scene.seed)
    return ClipSpec(
        name=name,
        camera=scene.name,
        scene=scene,
        duration_s=duration,
        fps=fps,
        events=(event,),
        jpeg_quality=int(rng.integers(60, 90)),
        group="tamper",
    )


def _write(args: tuple[ClipSpec, Path]) -> ClipResult:
    return write_clip(*args)


def write_clip_set(out_dir: Path, specs: list[ClipSpec], workers: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Write the clips (in parallel processes) and `index.json`; return the index."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    workers = workers or os.cpu_count() or 1
    t0 = time.perf_counter()
    # Longest first, so the pool finishes together.
    order = sorted(specs, key=lambda s: -frames_in(s) * s.scene.width * s.scene.height)
    if workers > 1 and len(order) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_write, [(s, out_dir) for s in order]))
    else:
        results = [write_clip(s, out_dir) for s in order]
    wall = time.perf_counter() - t0
    by_name = {r.name: r for r in results}
    results = [by_name[s.name] for s in specs]
    frames = sum(r.frames for r in results)
    index = {
        "seed": seed,
        "video_format": "MJPEG in AVI (read with cv2.VideoCapture(path, cv2.CAP_FFMPEG))",
        "clips": [
            {
                "name": r.name,
                "video": r.video,
                "truth": r.truth,
                "group": r.group,
                "scene": r.scene,
                "duration_s": r.duration_s,
                "fps": r.fps,
                "frames": r.frames,
                "events": list(r.events),
            }
            for r in results
        ],
        "totals": {
            "clips": len(results),
            "tamper_clips": sum(r.group == "tamper" for r in results),
            "clean_clips": sum(r.group == "clean" for r in results),
            "media_s": sum(r.duration_s for r in results),
            "clean_media_s": sum(r.duration_s for r in results if r.group == "clean"),
            "frames": frames,
        },
        "generation": {
            "wall_s": round(wall, 1),
            "workers": workers,
            "frames_per_s": round(frames / max(wall, 1e-9), 1),
        },
    }
    (out_dir / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    return index


def with_size(spec: ClipSpec, width: int, height: int) -> ClipSpec:
    """The same clip at another picture size."""
    return replace(spec, scene=replace(spec.scene, width=width, height=height))
