"""Ground truth of a clip: the JSON written next to each video file, and a strict reader for it.

Format (one object per clip `NAME.json` next to `NAME.avi`)::

    {"camera": str, "scene": str, "seed": int, "fps": float, "duration_s": float,
     "width": int, "height": int, "nuisances": [str, ...],
     "events": [{"type": str, "start_s": float, "end_s": float | null, "expected_state": str}, ...]}

`expected_state` is a `core.types.CameraState` value; clean clips have `"events": []`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.types import CameraState
from simulators.cameras.tamper import EXPECTED_STATE, TAMPER_TYPES

KEYS = ("camera", "scene", "seed", "fps", "duration_s", "width", "height", "nuisances", "events")
EVENT_KEYS = ("type", "start_s", "end_s", "expected_state")


@dataclass(frozen=True, slots=True)
class TruthEvent:
    """One tamper in a clip and the state a correct analyzer reports while it lasts."""

    type: str
    start_s: float
    end_s: float | None
    expected_state: CameraState


@dataclass(frozen=True, slots=True)
class ClipTruth:
    """What a clip shows: camera, scene, timing, picture size, nuisances, tamper events."""

    camera: str
    scene: str
    seed: int
    fps: float
    duration_s: float
    width: int
    height: int
    nuisances: tuple[str, ...]
    events: tuple[TruthEvent, ...]

    def state_at(self, t: float) -> CameraState:
        """The state a correct analyzer reports at media time t (the latest event started wins)."""
        state = CameraState.OK
        for e in self.events:
            if e.start_s <= t and (e.end_s is None or t < e.end_s):
                state = e.expected_state
        return state

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, keys in the documented order."""
        return {
            "camera": self.camera,
            "scene": self.scene,
            "seed": self.seed,
            "fps": float(self.fps),
            "duration_s": float(self.duration_s),
            "width": self.width,
            "height": self.height,
            "nuisances": list(self.nuisances),
            "events": [
                {
                    "type": e.type,
                    "start_s": float(e.start_s),
                    "end_s": None if e.end_s is None else float(e.end_s),
                    "expected_state": e.expected_state.value,
                }
                for e in self.events
            ],
        }


def _num(doc: Mapping[str, Any], key: str, where: str) -> float:
    v = doc[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ValueError(f"{where}.{key}: expected a finite number, got {v!r}")
    return float(v)


def from_dict(doc: Mapping[str, Any]) -> ClipTruth:
    """Parse and check a ground-truth object; raise ValueError naming the first bad field."""
    if not isinstance(doc, Mapping) or set(doc) != set(KEYS):
        got = sorted(doc) if isinstance(doc, Mapping) else type(doc).__name__
        raise ValueError(f"truth: expected keys {list(KEYS)}, got {got}")
    for key in ("camera", "scene"):
        if not isinstance(doc[key], str) or not doc[key]:
            raise ValueError(f"truth.{key}: expected a non-empty string")
    for key in ("seed", "width", "height"):
        if isinstance(doc[key], bool) or not isinstance(doc[key], int):
            raise ValueError(f"truth.{key}: expected an integer, got {doc[key]!r}")
    fps, duration = _num(doc, "fps", "truth"), _num(doc, "duration_s", "truth")
    if fps <= 0 or duration <= 0 or doc["width"] <= 0 or doc["height"] <= 0:
        raise ValueError("truth: fps, duration_s, width and height must be positive")
    if not isinstance(doc["nuisances"], list) or not all(isinstance(n, str) for n in doc["nuisances"]):
        raise ValueError("truth.nuisances: expected a list of strings")
    if not isinstance(doc["events"], list):
        raise ValueError("truth.events: expected a list")
    events = []
    for i, ev in enumerate(doc["events"]):
        where = f"truth.events[{i}]"
        if not isinstance(ev, Mapping) or set(ev) != set(EVENT_KEYS):
            raise ValueError(f"{where}: expected keys {list(EVENT_KEYS)}")
        if ev["type"] not in TAMPER_TYPES:
            raise ValueError(f"{where}.type: unknown tamper {ev['type']!r}")
        start = _num(ev, "start_s", where)
        end = None if ev["end_s"] is None else _num(ev, "end_s", where)
        if start < 0 or start > duration or (end is not None and end <= start):
            raise ValueError(f"{where}: need 0 <= start_s <= duration_s and end_s > start_s")
        if ev["expected_state"] != EXPECTED_STATE[ev["type"]].value:
            raise ValueError(f"{where}.expected_state: {ev['type']} means {EXPECTED_STATE[ev['type']].value}")
        events.append(TruthEvent(ev["type"], start, end, CameraState(ev["expected_state"])))
    return ClipTruth(
        camera=doc["camera"],
        scene=doc["scene"],
        seed=doc["seed"],
        fps=fps,
        duration_s=duration,
        width=doc["width"],
        height=doc["height"],
        nuisances=tuple(doc["nuisances"]),
        events=tuple(events),
    )


def load_truth(path: Path) -> ClipTruth:
    """Read and check a clip's ground-truth JSON file."""
    return from_dict(json.loads(Path(path).read_text()))


def dump_truth(truth: ClipTruth, path: Path) -> None:
    """Write a clip's ground truth as JSON."""
    Path(path).write_text(json.dumps(truth.to_dict(), indent=1) + "\n")
