"""Evaluate the analyzer on simulator clips: `python -m video.evaluate CLIPS_DIR`.

Each clip `NAME.<video>` has its ground truth in `NAME.json` (`camera, scene, seed, fps, duration_s, width,
height, nuisances, events[type, start_s, end_s, expected_state]`); `index.json` lists the clips (all
`*.json` files are used if it is missing). Every clip is analysed exactly as `python -m video.analyze`
would, and scored:

- an event is *detected* if the analyzer enters its expected state between its start and its end (or the
  clip's end); latency is media time from the start; *in target* if within the issue's targets
  (video_loss/frozen/occluded 10 s, moved 15 s, defocused 30 s);
- a *false change* is a change into a non-ok state outside every event (an event's window extends
  `--settle` seconds past its end, for the state it caused to clear); in tamper-free footage all changes
  into non-ok states are false;
- a *wrong state* is a change, inside an event, into another non-ok state than the expected one.

Prints a table per tamper type and, last, `RESULT recall=.. in_target=.. false_changes=.. clean_minutes=..`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from core.types import CameraState
from video.analyze import analyze_file

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".mjpg", ".mjpeg")
TARGET_S: dict[CameraState, float] = {
    CameraState.VIDEO_LOSS: 10.0,
    CameraState.FROZEN: 10.0,
    CameraState.OCCLUDED: 10.0,
    CameraState.MOVED: 15.0,
    CameraState.DEFOCUSED: 30.0,
}


@dataclass(frozen=True, slots=True)
class Event:
    """One tamper of a clip's ground truth."""

    type: str
    start_s: float
    end_s: float | None
    expected: CameraState


@dataclass(frozen=True, slots=True)
class Clip:
    """A clip and its ground truth."""

    name: str
    video: Path
    camera: str
    duration_s: float
    fps: float
    scene: str
    nuisances: tuple[str, ...]
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the analyzer did on one event."""

    clip: str
    type: str
    expected: CameraState
    latency_s: float | None  # None: missed
    first_state: CameraState | None  # first non-ok state it raised during the event


@dataclass
class ClipResult:
    """The analyzer's changes on one clip and their scoring."""

    clip: str
    duration_s: float
    clean: bool
    changes: list[tuple[float, CameraState]]
    outcomes: list[Outcome] = field(default_factory=list)
    false_changes: list[tuple[float, CameraState]] = field(default_factory=list)
    wrong_states: list[tuple[float, CameraState, str]] = field(default_factory=list)
    seconds: float = 0.0  # wall time the analysis took


def load_clips(folder: Path) -> list[Clip]:
    """Read the clip index and every clip's ground truth; raise ValueError for a malformed one."""
    index = folder / "index.json"
    names: list[str] = []
    if index.is_file():
        doc = json.loads(index.read_text())
        entries = doc.get("clips", doc) if isinstance(doc, dict) else doc
        for entry in entries:
            if isinstance(entry, str):
                names.append(entry)
            elif isinstance(entry, dict):
                names.append(str(entry.get("name") or entry.get("truth") or entry.get("video") or entry.get("file")))
            else:
                raise ValueError(f"{index}: unexpected entry {entry!r}")
    else:
        names = [p.name for p in sorted(folder.glob("*.json"))]
    clips = []
    for name in names:
        stem = Path(name).stem if Path(name).suffix in (".json", *VIDEO_SUFFIXES) else name
        clips.append(_load_clip(folder, stem))
    return clips


def _load_clip(folder: Path, stem: str) -> Clip:
    truth_path = folder / f"{stem}.json"
    doc = json.loads(truth_path.read_text())
    video = next((folder / f"{stem}{s}" for s in VIDEO_SUFFIXES if (folder / f"{stem}{s}").is_file()), None)
    if video is None:
        raise ValueError(f"{truth_path}: no video file next to it")
    try:
        events = tuple(
            Event(str(e["type"]), float(e["start_s"]), None if e["end_s"] is None else float(e["end_s"]),
                  CameraState(e["expected_state"]))
            for e in doc["events"]
        )  # fmt: skip
        return Clip(
            name=stem,
            video=video,
            camera=str(doc["camera"]),
            duration_s=float(doc["duration_s"]),
            fps=float(doc["fps"]),
            scene=str(doc.get("scene", "")),
            nuisances=tuple(doc.get("nuisances", ())),
            events=events,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{truth_path}: bad ground truth: {exc!r}") from exc


def score(clip: Clip, changes: Sequence[tuple[float, CameraState]], settle_s: float = 15.0) -> ClipResult:
    """Score one clip's state changes against its ground truth (pure)."""
    # The end of a file is reported as video loss past its end (as a live feed's end would be): a change
    # after the clip's duration is outside the ground truth.
    changes = [(t, s) for t, s in changes if t <= clip.duration_s + 1e-6]
    result = ClipResult(clip.name, clip.duration_s, not clip.events, list(changes))
    for event in clip.events:
        end = event.end_s if event.end_s is not None else clip.duration_s
        during = [(t, s) for t, s in changes if event.start_s <= t <= end + 1e-6]
        hit = next((t for t, s in during if s is event.expected), None)
        first = next((s for _, s in during if s is not CameraState.OK), None)
        latency = None if hit is None else hit - event.start_s
        result.outcomes.append(Outcome(clip.name, event.type, event.expected, latency, first))
    for t, state in changes[1:]:
        if state is CameraState.OK:
            continue
        inside = [
            e for e in clip.events if e.start_s <= t <= (e.end_s if e.end_s is not None else clip.duration_s) + settle_s
        ]
        if not inside:
            result.false_changes.append((t, state))
        elif all(e.expected is not state for e in inside):
            result.wrong_states.append((t, state, "/".join(e.type for e in inside)))
    if changes and changes[0][1] is not CameraState.OK and not any(e.start_s <= 0.5 for e in clip.events):
        result.false_changes.insert(0, changes[0])
    return result


def run_clip(clip: Clip, fps: float, settle_s: float) -> ClipResult:
    """Analyse one clip and score it."""
    started = time.perf_counter()
    changes = [(c.t, c.state) for c in analyze_file(str(clip.video), clip.camera, fps)]
    result = score(clip, changes, settle_s)
    result.seconds = time.perf_counter() - started
    return result


def _run_all(clips: Sequence[Clip], fps: float, settle_s: float, jobs: int) -> list[ClipResult]:
    if jobs <= 1:
        return [run_clip(c, fps, settle_s) for c in clips]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(run_clip, clips, [fps] * len(clips), [settle_s] * len(clips)))


def summarise(results: Iterable[ClipResult]) -> dict[str, Any]:
    """Aggregate per tamper type: recall, in-target share, latencies; false changes and wrong states."""
    results = list(results)
    by_type: dict[str, list[Outcome]] = {}
    for r in results:
        for o in r.outcomes:
            by_type.setdefault(o.type, []).append(o)
    types: dict[str, Any] = {}
    for kind, outcomes in sorted(by_type.items()):
        latencies = sorted(o.latency_s for o in outcomes if o.latency_s is not None)
        target = TARGET_S.get(outcomes[0].expected, 30.0)
        types[kind] = {
            "expected": outcomes[0].expected.value,
            "events": len(outcomes),
            "detected": len(latencies),
            "in_target": sum(1 for x in latencies if x <= target),
            "target_s": target,
            "latency_median_s": round(statistics.median(latencies), 2) if latencies else None,
            "latency_max_s": round(latencies[-1], 2) if latencies else None,
            "missed": [o.clip for o in outcomes if o.latency_s is None],
            "first_wrong": sorted(
                {f"{o.clip}:{o.first_state.value}" for o in outcomes if o.first_state not in (None, o.expected)}
            ),
        }
    events = sum(t["events"] for t in types.values())
    clean = [r for r in results if r.clean]
    return {
        "types": types,
        "events": events,
        "detected": sum(t["detected"] for t in types.values()),
        "in_target": sum(t["in_target"] for t in types.values()),
        "false_changes": sum(len(r.false_changes) for r in results),
        "false_in_clean": sum(len(r.false_changes) for r in clean),
        "clean_minutes": sum(r.duration_s for r in clean) / 60.0,
        "wrong_states": sum(len(r.wrong_states) for r in results),
        "false_detail": [f"{r.clip}@{t:.1f}:{s.value}" for r in results for t, s in r.false_changes],
        "wrong_detail": [f"{r.clip}@{t:.1f}:{s.value}({k})" for r in results for t, s, k in r.wrong_states],
        "media_minutes": sum(r.duration_s for r in results) / 60.0,
        "analysis_seconds": sum(r.seconds for r in results),
    }


def print_report(summary: dict[str, Any], out: TextIO | None = None) -> None:
    """Print the per-type table, the false changes, and the RESULT line."""
    out = out or sys.stdout
    print(f"{'type':<11} {'state':<11} {'events':>6} {'found':>6} {'recall':>7} {'in tgt':>7} {'median':>7} {'max':>7}",
          file=out)  # fmt: skip
    for kind, t in summary["types"].items():
        recall = t["detected"] / t["events"] if t["events"] else 0.0
        in_target = t["in_target"] / t["events"] if t["events"] else 0.0
        med = "-" if t["latency_median_s"] is None else f"{t['latency_median_s']:.1f}s"
        mx = "-" if t["latency_max_s"] is None else f"{t['latency_max_s']:.1f}s"
        print(f"{kind:<11} {t['expected']:<11} {t['events']:>6} {t['detected']:>6} {recall:>7.1%} {in_target:>7.1%} "
              f"{med:>7} {mx:>7}", file=out)  # fmt: skip
        if t["missed"]:
            print(f"    missed: {', '.join(t['missed'])}", file=out)
        if t["first_wrong"]:
            print(f"    first raised another state: {', '.join(t['first_wrong'])}", file=out)
    events = summary["events"] or 1
    print(f"false changes: {summary['false_changes']} ({summary['false_in_clean']} in "
          f"{summary['clean_minutes']:.1f} min of tamper-free clips); wrong states: {summary['wrong_states']}",
          file=out)  # fmt: skip
    for line in summary["false_detail"][:30]:
        print(f"    false: {line}", file=out)
    for line in summary["wrong_detail"][:30]:
        print(f"    wrong: {line}", file=out)
    speed = summary["media_minutes"] * 60 / max(summary["analysis_seconds"], 1e-9)
    print(f"analysed {summary['media_minutes']:.1f} min of media in {summary['analysis_seconds']:.0f} s of worker time "
          f"({speed:.0f}x real time per worker)", file=out)  # fmt: skip
    print(
        f"RESULT recall={summary['detected'] / events:.3f} in_target={summary['in_target'] / events:.3f} "
        f"false_changes={summary['false_changes']} clean_minutes={summary['clean_minutes']:.1f}",
        file=out,
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = argparse.ArgumentParser(prog="python -m video.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("clips", type=Path, help="folder of simulator clips (index.json, NAME.json + video)")
    p.add_argument("--fps", type=float, default=2.0, help="analysis rate (default 2, as in service mode)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="clips analysed in parallel")
    p.add_argument("--settle", type=float, default=15.0, help="seconds after an event's end still counted in it")
    p.add_argument("--only", help="comma-separated clip names to evaluate")
    p.add_argument("--json", type=Path, help="also write the summary and per-clip changes here")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation; exit 1 if no clip could be read."""
    args = build_parser().parse_args(argv)
    clips = load_clips(args.clips)
    if args.only:
        wanted = set(args.only.split(","))
        clips = [c for c in clips if c.name in wanted]
    if not clips:
        print(f"no clips in {args.clips}", file=sys.stderr)
        return 1
    results = _run_all(clips, args.fps, args.settle, args.jobs)
    summary = summarise(results)
    print_report(summary)
    if args.json:
        detail = {r.clip: [(round(t, 2), s.value) for t, s in r.changes] for r in results}
        args.json.write_text(json.dumps({"summary": summary, "changes": detail}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
