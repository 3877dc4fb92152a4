"""Formats the analyzer owns: the retained health message and the `camera_health` InfluxDB line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from core.types import CameraHealth, CameraState
from ingest.lineprotocol import escape_tag, format_float

MEASUREMENT = "camera_health"

#: Stable numeric codes of the states, for dashboards that cannot graph strings.
STATE_CODES: dict[CameraState, int] = {state: i for i, state in enumerate(CameraState)}

#: Features written to InfluxDB (the MQTT message carries them all).
KEY_FEATURES = ("dominant", "still", "motion", "overlap", "lost", "blank", "changed", "sharpness", "luma")


def health_payload(health: CameraHealth) -> bytes:
    """Encode a camera's health as the JSON of its retained MQTT message."""
    since = datetime.fromtimestamp(health.since_ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
    return orjson.dumps(
        {
            "camera": health.camera,
            "state": health.state.value,
            "since_ms": health.since_ms,
            "since": since.replace("+00:00", "Z"),
            "features": dict(health.features),
            "snapshot": health.snapshot,
        }
    )


def parse_health(payload: bytes) -> CameraHealth:
    """Decode a health message (the inverse of `health_payload`); raise ValueError if it is not one."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    try:
        features = data.get("features") or {}
        return CameraHealth(
            camera=str(data["camera"]),
            state=CameraState(data["state"]),
            since_ms=int(data["since_ms"]),
            features=tuple((str(k), float(v)) for k, v in features.items()),
            snapshot=data.get("snapshot"),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"not a health message: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class FeedCounters:
    """A camera's feed and analysis counters at one moment."""

    frames: int  # frames decoded since the service started
    analysed: int
    dropped: int  # samples dropped because analysis lagged
    reconnects: int
    fps: float  # frames analysed per second over the last interval
    lag_s: float  # age of the last analysed frame when its analysis finished
    relearned: int = 0  # references replaced by a recent view after a gradual change of light


def health_line(
    site: str,
    camera: str,
    state: CameraState,
    counters: FeedCounters,
    features: Mapping[str, float],
    ts_ms: int,
) -> str:
    """Encode one `camera_health` point (tags site, camera; millisecond timestamp)."""
    fields = [
        f'state="{state.value}"',
        f"state_code={STATE_CODES[state]}i",
        f"healthy={1 if state is CameraState.OK else 0}i",
        f"frames={int(counters.frames)}i",
        f"analysed={int(counters.analysed)}i",
        f"dropped={int(counters.dropped)}i",
        f"reconnects={int(counters.reconnects)}i",
        f"fps={format_float(counters.fps)}",
        f"lag_s={format_float(counters.lag_s)}",
        f"relearned={int(counters.relearned)}i",
    ]
    fields += [f"f_{name}={format_float(features[name])}" for name in KEY_FEATURES if name in features]
    return f"{MEASUREMENT},camera={escape_tag(camera)},site={escape_tag(site)} {','.join(fields)} {int(ts_ms)}"
