"""``/_sim/...``: the control endpoint (fault knobs, market control, introspection).

It changes what the venue does, so it is guarded: every request carries the venue's control
token (``X-Sim-Token: <token>`` or ``Authorization: Bearer <token>``), generated per run
unless ``VenueConfig.control_token`` fixes it, printed by ``actors sim-exchange`` and found by
``actors.testing.VenueControl`` for venues of its own process (``local_token``). Bad bodies and
out-of-range values get 400 with a message; nothing here answers 500.
"""

from __future__ import annotations

import hmac
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.venues.config import check_rate
from actors.venues.faults import CONTROL_ACTIONS

if TYPE_CHECKING:
    from actors.venues.server import Venue

TOKEN_HEADER = "x-sim-token"
MAX_BODY = 64 * 1024

_running: dict[tuple[str, int], weakref.ref[Venue]] = {}


def register(venue: Venue) -> None:
    """Remember a venue of this process by address (for ``local_token``)."""
    _running[(_host(venue.host), venue.port)] = weakref.ref(venue)


def unregister(venue: Venue) -> None:
    """Forget a stopped venue."""
    key = (_host(venue.host), venue.port)
    ref = _running.get(key)
    if ref is not None and ref() in (venue, None):
        del _running[key]


def local_token(host: str, port: int) -> str | None:
    """The control token of a venue running in this process at ``host:port``, if any."""
    ref = _running.get((_host(host), port))
    venue = ref() if ref is not None else None
    return None if venue is None else venue.control_token


def _host(host: str) -> str:
    return "127.0.0.1" if host == "localhost" else host


def _json(body: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json")


def _authorized(venue: Venue, request: Request) -> bool:
    given = request.headers.get(TOKEN_HEADER)
    if given is None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
    return given is not None and hmac.compare_digest(given.encode(), venue.control_token.encode())


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object of the request (empty body: ``{}``), else ValueError saying why."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ValueError(f"body larger than {MAX_BODY} bytes")
    if not raw.strip():
        return {}
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ValueError(f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


def _guarded(
    venue: Venue, handler: Callable[[Request], Awaitable[Response]]
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        if not _authorized(venue, request):
            return _json(
                {
                    "error": "control token required: send it as X-Sim-Token (actors "
                    "sim-exchange prints it; VenueControl(url, token=...))"
                },
                401,
            )
        try:
            return await handler(request)
        except (TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)

    return endpoint


def routes(venue: Venue) -> list[Route]:
    """The control routes of ``venue``."""

    async def fault(request: Request) -> Response:
        action = request.path_params["action"]
        if action not in CONTROL_ACTIONS:
            return _json(
                {"error": f"unknown fault {action!r}", "actions": sorted(CONTROL_ACTIONS)}, 404
            )
        kwargs = await _body(request)
        try:
            result = getattr(venue.faults, action)(**kwargs)
        except TypeError as exc:
            # a missing or unexpected argument: say which, without Python's call syntax
            raise ValueError(f"{action}: {str(exc).split(') ', 1)[-1]}") from None
        return _json({"ok": True, "result": result, "faults": venue.faults.state()})

    async def state(request: Request) -> Response:
        return _json(venue.status())

    async def market(request: Request) -> Response:
        action = request.path_params["action"]
        body = await _body(request)
        if action == "pause":
            venue.pause_market()
        elif action == "resume":
            venue.resume_market()
        elif action == "rate":
            if "rate_hz" not in body:
                raise ValueError('rate: body must be {"rate_hz": <events per second>}')
            venue.set_rate(check_rate(body["rate_hz"]))
        else:
            return _json({"error": f"unknown market action {action!r}"}, 404)
        return _json({"ok": True, "state": venue.status()})

    async def book(request: Request) -> Response:
        try:
            return _json(venue.book(request.path_params["symbol"]))
        except KeyError:
            return _json({"error": "unknown symbol"}, 404)

    g = _guarded
    return [
        Route("/_sim/faults/{action}", g(venue, fault), methods=["POST"]),
        Route("/_sim/state", g(venue, state), methods=["GET"]),
        Route("/_sim/market/{action}", g(venue, market), methods=["POST"]),
        Route("/_sim/book/{symbol:path}", g(venue, book), methods=["GET"]),
    ]
