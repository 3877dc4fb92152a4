"""Cameras: each camera's configuration with its latest health and snapshot reference (from MQTT)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.deps import AlertServices, Reader, alerting

router = APIRouter(prefix="/cameras", tags=["cameras"])
Alerting = Annotated[AlertServices, Depends(alerting)]


class CameraOut(BaseModel):
    """A camera as configured, and its last health message (state None: none heard yet, or cleared)."""

    id: str
    name: str
    position: tuple[float, float]
    heading_deg: float
    hfov_deg: float
    range_m: float
    state: str | None
    since_ms: int | None
    snapshot: str | None
    health_received_ms: int | None


@router.get("", response_model=list[CameraOut])
def cameras(_: Reader, svc: Alerting) -> list[CameraOut]:
    """Every camera of the site file, in its order, with its latest health."""
    live = svc.live.cameras()
    out = []
    for cam in svc.live.site.cameras:
        h = live.get(cam.id)
        out.append(
            CameraOut(
                id=cam.id,
                name=cam.name or cam.id,
                position=cam.position,
                heading_deg=cam.heading_deg,
                hfov_deg=cam.hfov_deg,
                range_m=round(cam.effective_range_m, 2),
                state=h.state if h else None,
                since_ms=h.since_ms if h else None,
                snapshot=h.snapshot if h else None,
                health_received_ms=h.received_ms if h else None,
            )
        )
    return out
