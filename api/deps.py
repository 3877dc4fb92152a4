"""What endpoints share: the services of the app, the key check, and strict parsing of query parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from alerts.coverage.model import Coverage
from alerts.engine.store import AlertStore
from api.auth import KeyStore, Principal, Role
from api.energy.calendar import BucketSize, count_buckets, parse_local_hour
from api.energy.rollup import Rollup
from api.energy.service import EnergyService
from api.live import LiveState
from core.config import SiteConfig

MAX_RANGE_DAYS = 20 * 366


@dataclass(frozen=True, slots=True)
class Services:
    """Everything the endpoints use, built once by `create_app`."""

    site: SiteConfig
    energy: EnergyService
    rollup: Rollup
    keys: KeyStore
    max_buckets: int


def services(request: Request) -> Services:
    """The app's services."""
    found: Services = request.app.state.services
    return found


_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (`python -m api keys add`)")
_bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token")
#: The alert screen's cookie (set by `/screen/login`): browsers cannot put headers on an EventSource.
KEY_COOKIE = "vigil_key"
_cookie = APIKeyCookie(name=KEY_COOKIE, auto_error=False, description="The key, as set by /screen/login")


def require(role: Role) -> Callable[..., Principal]:
    """A dependency that admits keys of `role` or higher: 401 without a valid key, 403 with too low a role."""

    def check(
        request: Request,
        api_key: Annotated[str | None, Security(_api_key)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        cookie: Annotated[str | None, Security(_cookie)],
    ) -> Principal:
        key = api_key or (bearer.credentials if bearer else None) or cookie
        if not key:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing API key: send it in the X-API-Key header",
                headers={"WWW-Authenticate": "Bearer"},
            )
        principal = services(request).keys.verify(key)
        if principal is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid API key", headers={"WWW-Authenticate": "Bearer"})
        if principal.role < role:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"key {principal.name!r} has role {principal.role.name.lower()}; this needs {role.name.lower()}",
            )
        request.state.principal = principal
        return principal

    return check


Reader = Annotated[Principal, Depends(require(Role.READER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


def invalid(field: str, message: str, value: Any = None) -> RequestValidationError:
    """A 422 in FastAPI's own shape, for a query parameter that parsed but makes no sense."""
    return RequestValidationError([{"type": "value_error", "loc": ("query", field), "msg": message, "input": value}])


def parse_time(text: str, field: str, site: SiteConfig) -> int:
    """A query parameter as UTC epoch ms on a whole local hour (see `calendar.parse_local_hour`); 422 if not."""
    try:
        return parse_local_hour(text, site.tz)
    except ValueError as exc:
        raise invalid(field, str(exc), text) from None


def time_range(start: str, end: str, site: SiteConfig) -> tuple[int, int]:
    """Parse and check a [start, end) pair."""
    start_ms, end_ms = parse_time(start, "start", site), parse_time(end, "end", site)
    if end_ms <= start_ms:
        raise invalid("end", "end must be after start", end)
    if end_ms - start_ms > MAX_RANGE_DAYS * 86_400_000:
        raise invalid("end", f"the range may span at most {MAX_RANGE_DAYS} days", end)
    return start_ms, end_ms


def check_buckets(start_ms: int, end_ms: int, size: BucketSize, limit: int) -> None:
    """Refuse a query that would produce more than `limit` buckets."""
    n = count_buckets(start_ms, end_ms, size)
    if n > limit:
        raise invalid("bucket", f"about {n} {size.value} buckets; at most {limit}: use a coarser bucket", size.value)


@dataclass(frozen=True, slots=True)
class AlertServices:
    """What the alert, camera, perimeter and screen endpoints use (`create_app(state={"alerting": ...})`)."""

    store: AlertStore
    live: LiveState
    coverage: Coverage
    heartbeat_s: float = 5.0  # the screen's stream sends a heartbeat this often; the page is stale after 2×


def alerting(request: Request) -> AlertServices:
    """The app's alert services; 503 if this API runs without them."""
    found: AlertServices | None = getattr(request.app.state, "alerting", None)
    if found is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "this API runs without the alert services")
    return found
