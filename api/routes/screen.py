"""The alert wall screen: the page and its assets (`pages`), its live stream, state snapshot and energy panel.

`GET /screen/login?key=...` checks a key and stores it in an HttpOnly, SameSite=Strict cookie, then redirects to
`/screen`; the page's requests (including the EventSource, which cannot send headers) carry the cookie.
`GET /api/v1/live` is a server-sent-event stream: first a `snapshot` event (the whole state, so every
(re)connection resyncs), then a `change` event per change (with its sequence number), and a `heartbeat` every
`heartbeat_s` so the page can tell a silent connection from a quiet site.
"""

from __future__ import annotations

import asyncio
import functools
import statistics
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from api.deps import KEY_COOKIE, AlertServices, Reader, Services, alerting, services
from api.energy.calendar import BucketSize, day_start_ms, local_ms, to_local
from api.energy.cells import from_micro
from api.live import Change
from api.screen.font import load_face
from core.types import Kind

ASSETS = Path(__file__).resolve().parent.parent / "screen"
#: Where Debian puts a CJK font; the first found is served at /screen/fonts/cjk (see docs/alert-screen.md).
CJK_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
)
_ASSET_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}

pages = APIRouter(prefix="/screen", tags=["screen"], include_in_schema=False)
router = APIRouter(tags=["screen"])
Alerting = Annotated[AlertServices, Depends(alerting)]
Svc = Annotated[Services, Depends(services)]


# -- the page ------------------------------------------------------------------------------------------


@pages.get("")
def page() -> FileResponse:
    """The screen's HTML (it asks for a key if the cookie is missing)."""
    return FileResponse(ASSETS / "index.html", media_type="text/html", headers={"Cache-Control": "no-store"})


@pages.get("/login")
def login(request: Request, key: Annotated[str, Query(min_length=1, max_length=512)]) -> Response:
    """Check a key, set it as the screen's cookie and go to the screen; 401 for an unknown key."""
    svc: Services = services(request)
    if svc.keys.verify(key) is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid API key")
    response = RedirectResponse("/screen", status.HTTP_303_SEE_OTHER)
    secure = request.url.scheme == "https"
    response.set_cookie(KEY_COOKIE, key, httponly=True, samesite="strict", secure=secure, path="/")
    return response


@pages.get("/fonts/cjk")
def cjk_font() -> Response:
    """A Chinese font from the server's Debian packages, so the wall screen does not depend on the kiosk's."""
    for path in CJK_FONTS:
        if path.is_file():
            return Response(_face(path), media_type="font/ttf", headers={"Cache-Control": "max-age=86400"})
    raise HTTPException(status.HTTP_404_NOT_FOUND, "no CJK font installed: apt-get install fonts-wqy-zenhei")


@functools.lru_cache(maxsize=1)
def _face(path: Path) -> bytes:
    return load_face(path)


@pages.get("/assets/{name}")
def asset(name: str) -> FileResponse:
    """A static file of the page (no sub-folders, known types only)."""
    path = ASSETS / name
    kind = _ASSET_TYPES.get(path.suffix)
    if "/" in name or name.startswith(".") or kind is None or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no asset {name!r}")
    return FileResponse(path, media_type=kind, headers={"Cache-Control": "no-cache"})


# -- data of the page ----------------------------------------------------------------------------------


@router.get("/screen/state")
def screen_state(_: Reader, svc: Alerting) -> dict[str, Any]:
    """The whole live state (cameras, coverage, alerts, gateways) with its sequence number: the resync."""
    return _snapshot(svc)


@router.get("/live", response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def live(request: Request, _: Reader, svc: Alerting) -> StreamingResponse:
    """Server-sent events: `snapshot` first, then `change`s; `heartbeat` every heartbeat_s; `resync` on overflow."""
    queue = svc.live.listen()  # before the snapshot: no change falls between the two

    async def events() -> AsyncIterator[bytes]:
        try:
            snap = _snapshot(svc)
            yield b"retry: 2000\n" + _event("snapshot", snap, snap["seq"])
            while not await request.is_disconnected():
                try:
                    change = await asyncio.wait_for(queue.get(), svc.heartbeat_s)
                except TimeoutError:
                    yield _event("heartbeat", {"seq": svc.live.seq, "mqtt": svc.live.connected})
                    continue
                if change is None:  # fell behind or the live state restarted: the browser reconnects
                    yield _event("resync", {})
                    return
                yield _event("change", _change(change), change.seq)
        finally:
            svc.live.unlisten(queue)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


@router.get("/screen/energy")
def screen_energy(_: Reader, svc: Svc) -> dict[str, Any]:
    """Site electricity today up to the last whole hour, against the median of the same weekday in 4 weeks."""
    tz = svc.site.tz
    now = to_local(int(svc.rollup.clock() * 1000), tz)
    group = svc.energy.topology.total(Kind.ELECTRICITY)
    hour = now.hour

    def until_hour(weeks_back: int) -> float | None:
        day = now.date() - timedelta(weeks=weeks_back)
        start, end = day_start_ms(day, tz), local_ms(datetime.combine(day, time(hour)), tz)
        if end <= start:
            return 0.0
        result = svc.energy.consumption([group], start, end, BucketSize.HOUR)
        total = result.series[0].total
        return round(from_micro(total.tally.amount_u), 3) if total.completeness_pct > 0 else None

    today = until_hour(0)
    past = [until_hour(k) for k in range(1, 5)]
    known = [v for v in past if v is not None]
    usual = round(statistics.median(known), 3) if known else None
    return {
        "unit": group.unit,
        "until": f"{hour:02d}:00",
        "today": today,
        "usual": usual,
        "weeks": len(known),
        "ratio": round(today / usual, 3) if today is not None and usual else None,
    }


def _snapshot(svc: AlertServices) -> dict[str, Any]:
    snap = svc.live.snapshot()
    site = svc.live.site
    snap["heartbeat_s"] = svc.heartbeat_s
    snap["site_info"] = {
        "id": site.site.id,
        "name": site.site.name,
        "cameras": [{"id": c.id, "name": c.name or c.id} for c in site.cameras],
        "gateways": [g.id for g in site.gateways],
        "zones": [{"id": z.id, "name": z.name} for z in site.perimeter.zones] if site.perimeter else [],
    }
    return snap


def _change(c: Change) -> dict[str, Any]:
    return {"seq": c.seq, "kind": c.kind, "key": c.key, "value": c.value}


def _event(name: str, data: Any, seq: int | None = None) -> bytes:
    head = f"event: {name}\n" + (f"id: {seq}\n" if seq is not None else "")
    return head.encode() + b"data: " + orjson.dumps(data) + b"\n\n"
