"""CLI: evaluation clips, a single clip, example frames, or live MJPEG cameras.

python -m simulators.cameras clips --out var/clips --seed 1 [--count 3] [--quick] [--workers 2]
python -m simulators.cameras clip --out var/one --scene wall_road --lighting night --event covered:40:60
python -m simulators.cameras serve --cameras 4 --port 8554 --seed 1 [--script events.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import threading
import zlib
from pathlib import Path

from core.logs import add_log_args, setup_logging
from simulators.cameras.camera import Camera
from simulators.cameras.clips import ClipSpec, plan_clip_set, write_clip, write_clip_set
from simulators.cameras.layouts import SCENE_KINDS
from simulators.cameras.nuisances import LIGHTINGS, Nuisances
from simulators.cameras.scene import SceneSpec
from simulators.cameras.server import MjpegServer
from simulators.cameras.tamper import TAMPER_TYPES, TamperEvent

logger = logging.getLogger("simulators.cameras")


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"size must look like 640x360, got {text!r}") from exc
    return w, h


def _event(text: str) -> TamperEvent:
    """TYPE:START[:END] -> TamperEvent."""
    parts = text.split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        end = float(parts[2]) if len(parts) == 3 and parts[2] else None
        return TamperEvent(float(parts[1]), parts[0], end, seed=zlib.crc32(text.encode()))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"event must be TYPE:START[:END] with TYPE in {TAMPER_TYPES}: {exc}") from exc


def _nuisance_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("nuisances (0 = off, 1 = typical)")
    for name, default in (
        ("noise", 1.0),
        ("drift", 1.0),
        ("clouds", 0.5),
        ("traffic", 1.0),
        ("trucks", 0.3),
        ("rain", 0.0),
        ("wind", 0.5),
    ):
        g.add_argument(f"--{name}", type=float, default=default)
    g.add_argument("--ir-switch", type=float, help="dusk/dawn: media time of the IR day/night switch")
    g.add_argument("--osd", action="store_true", help="on-screen camera name and clock")


def _nuisances(a: argparse.Namespace) -> Nuisances:
    return Nuisances(a.noise, a.drift, a.clouds, a.traffic, a.trucks, a.rain, a.wind, a.ir_switch, a.osd)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m simulators.cameras", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--log-level", default="INFO")
    add_log_args(p)
    sub = p.add_subparsers(dest="cmd", required=True)

    c = sub.add_parser("clips", help="write the evaluation set (tamper clips + >= 30 min of clean clips)")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--count", type=int, default=3, help="clips per tamper type")
    c.add_argument("--quick", action="store_true", help="a small, short set for tests")
    c.add_argument("--workers", type=int, help="processes (default: all cores)")

    one = sub.add_parser("clip", help="write one clip with chosen scene, nuisances and events")
    one.add_argument("--out", type=Path, required=True, help="directory")
    one.add_argument("--name", default="clip")
    one.add_argument("--camera", default="cam1")
    one.add_argument("--scene", choices=SCENE_KINDS, default="fence_grass")
    one.add_argument("--lighting", choices=LIGHTINGS, default="day")
    one.add_argument("--colour-night", action="store_true", help="night without IR (colour, lamps only)")
    one.add_argument("--seed", type=int, default=1)
    one.add_argument("--size", type=_size, default=(640, 360))
    one.add_argument("--fps", type=float, default=8.0)
    one.add_argument("--duration", type=float, default=60.0)
    one.add_argument("--quality", type=int, default=80)
    one.add_argument("--event", type=_event, action="append", default=[], help="TYPE:START[:END], repeatable")
    _nuisance_args(one)

    s = sub.add_parser("serve", help="serve live MJPEG cameras on 127.0.0.1")
    s.add_argument("--cameras", type=int, default=4)
    s.add_argument("--site", type=Path, help="serve the cameras of this site file, under their own ids")
    s.add_argument("--port", type=int, default=8554)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--fps", type=float, default=8.0)
    s.add_argument("--size", type=_size, default=(640, 360))
    s.add_argument("--lighting", choices=LIGHTINGS, default="day")
    s.add_argument("--script", type=Path, help='JSON {"cam1": [{"type": "covered", "start_s": 30, "end_s": 60}]}')
    _nuisance_args(s)
    return p


def _script(path: Path) -> dict[str, list[TamperEvent]]:
    doc = json.loads(path.read_text())
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected an object camera id -> list of events")
    out = {}
    for cam, events in doc.items():
        try:
            out[cam] = [
                TamperEvent(float(e["start_s"]), e["type"], e.get("end_s"), int(e.get("seed", i)))
                for i, e in enumerate(events)
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: bad event for {cam}: {exc}") from exc
    return out


def _serve(a: argparse.Namespace) -> int:
    if a.site is not None:
        from core.config import load_site

        ids = [c.id for c in load_site(a.site).cameras]
    else:
        if not 1 <= a.cameras <= 32:
            raise SystemExit("--cameras must be 1..32")
        ids = [f"cam{i + 1}" for i in range(a.cameras)]
    w, h = a.size
    cams = []
    for i, cam_id in enumerate(ids):
        spec = SceneSpec(
            SCENE_KINDS[i % len(SCENE_KINDS)],
            a.seed * 100 + i,
            w,
            h,
            a.lighting,
            True,
            _nuisances(a),
            name=cam_id,
        )
        cams.append(Camera(cam_id, spec, fps=a.fps))
    server = MjpegServer(cams, port=a.port, seed=a.seed)
    if a.script:
        for cam, events in _script(a.script).items():
            server.schedule(cam, events)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with server:
        for c in cams:
            print(f"{c.id}: {server.url(c.id)}  ({c.spec.label})", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            done.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI."""
    a = _parser().parse_args(argv)
    setup_logging("camera-simulator", a.log_format, a.log_level)
    if a.cmd == "clips":
        specs = plan_clip_set(a.seed, a.count, a.quick)
        index = write_clip_set(a.out, specs, a.workers, seed=a.seed)
        tot, gen = index["totals"], index["generation"]
        print(
            f"{tot['clips']} clips ({tot['tamper_clips']} tamper, {tot['clean_clips']} clean, "
            f"{tot['clean_media_s'] / 60:.1f} min clean), {tot['frames']} frames in {gen['wall_s']} s "
            f"({gen['frames_per_s']} frames/s, {gen['workers']} workers) -> {a.out / 'index.json'}"
        )
        return 0
    if a.cmd == "clip":
        w, h = a.size
        scene = SceneSpec(a.scene, a.seed, w, h, a.lighting, not a.colour_night, _nuisances(a), name=a.camera)
        spec = ClipSpec(
            a.name, a.camera, scene, a.duration, a.fps, tuple(a.event), a.quality, "tamper" if a.event else "clean"
        )
        r = write_clip(spec, a.out)
        print(f"{a.out / r.video}: {r.frames} frames in {r.seconds:.1f} s; truth {a.out / r.truth}")
        return 0
    return _serve(a)


if __name__ == "__main__":
    sys.exit(main())
