"""What every OKX websocket endpoint shares: ``ping``/``pong``, ``login``, ``subscribe`` and
``unsubscribe`` replies, and OKX's error events.

OKX keeps a connection alive with the text frames ``ping`` (client) and ``pong`` (server), not
websocket pings; ccxt sends ``ping`` every 18 s and expects ``pong``. Requests are JSON
``{"op": ..., "args": [...]}``; every reply and push is JSON except ``pong``.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
import trio

from actors.venues.hub import Conn, dumps, receive_text
from actors.venues.okx.auth import LoginError, verify_login

if TYPE_CHECKING:
    from actors.venues.okx import OkxProtocol
    from actors.venues.server import Venue

_decode = msgspec.json.decode


class WsError(Exception):
    """An OKX websocket error event: ``{"event": "error", "code", "msg"}``."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg


def no_channel(arg: dict[str, Any]) -> WsError:
    """60018: a channel (or instrument) this endpoint does not have."""
    desc = ",".join(f"{k}:{v}" for k, v in arg.items())
    return WsError(
        "60018",
        f"Wrong URL or channel:{desc} doesn't exist. Please use the correct URL, channel and "
        "parameters referring to API document.",
    )


class Endpoint:
    """One websocket URL's channels and operations (``public``, ``business``, ``private``)."""

    name = "?"

    def __init__(self, protocol: OkxProtocol) -> None:
        self.protocol = protocol
        self.venue = protocol.venue

    def subscribe(self, conn: Conn, arg: dict[str, Any]) -> dict[str, Any]:
        """Subscribe ``arg``; returns the ``arg`` echoed in the reply, or raises ``WsError``."""
        raise no_channel(arg)

    def after_subscribe(self, conn: Conn, arg: dict[str, Any]) -> None:
        """First pushes of a new subscription, queued after the reply."""

    def unsubscribe(self, conn: Conn, arg: dict[str, Any]) -> dict[str, Any]:
        """Unsubscribe ``arg``; returns the ``arg`` echoed in the reply."""
        raise no_channel(arg)

    async def operation(self, conn: Conn, req: dict[str, Any]) -> None:
        """Any other ``op`` (order entry on ``private``)."""
        raise WsError("60019", f"Invalid op: {req.get('op')}")

    def tasks(self) -> tuple[Callable[[Venue, Conn], Awaitable[None]], ...]:
        """Extra per-connection tasks (periodic pushes)."""
        return ()


def error_event(conn: Conn, code: str, msg: str) -> str:
    """An OKX error event for ``conn``."""
    return dumps({"event": "error", "code": code, "msg": msg, "connId": conn.state["connId"]})


def new_conn_id() -> str:
    """OKX-style connection id (8 hex digits)."""
    return secrets.token_hex(4)


async def receiver(endpoint: Endpoint, venue: Venue, conn: Conn, nursery: trio.Nursery) -> None:
    """Read requests until the peer closes; operations run in their own tasks."""
    while True:
        text = await receive_text(conn)
        if text is None:
            return
        if text == "ping":
            conn.push("pong")
            continue
        try:
            req = _decode(text) if isinstance(text, str) else None
        except msgspec.DecodeError:
            req = None
        if not isinstance(req, dict) or not isinstance(req.get("op"), str):
            shown = text if isinstance(text, str) else "<binary>"
            conn.push(error_event(conn, "60012", f"Illegal request: {shown[:200]}"))
            continue
        op = req["op"]
        try:
            if op == "login":
                _login(venue, conn, req)
            elif op in ("subscribe", "unsubscribe"):
                _subscriptions(endpoint, conn, req)
            else:
                # order entry may hold a reply (faults); other requests must not wait behind it
                nursery.start_soon(_operation, endpoint, conn, req)
        except WsError as e:
            conn.push(error_event(conn, e.code, e.msg))


async def _operation(endpoint: Endpoint, conn: Conn, req: dict[str, Any]) -> None:
    try:
        await endpoint.operation(conn, req)
    except WsError as e:
        body = {"id": req.get("id", ""), "op": req.get("op"), "code": e.code, "msg": e.msg}
        conn.push(dumps({**body, "data": []}))


def _login(venue: Venue, conn: Conn, req: dict[str, Any]) -> None:
    try:
        conn.account = verify_login(venue.accounts, req.get("args"), venue.now_ms())
    except LoginError as e:
        raise WsError(e.code, e.msg) from None
    conn.push(dumps({"event": "login", "code": "0", "msg": "", "connId": conn.state["connId"]}))


def _subscriptions(endpoint: Endpoint, conn: Conn, req: dict[str, Any]) -> None:
    args = req.get("args")
    if not isinstance(args, list) or not args or not all(isinstance(a, dict) for a in args):
        raise WsError("60013", "Invalid args")
    event = req["op"]
    for arg in args:
        if not isinstance(arg.get("channel"), str):
            raise WsError("60013", "Invalid args")
        if event == "subscribe":
            echoed = endpoint.subscribe(conn, arg)
        else:
            echoed = endpoint.unsubscribe(conn, arg)
        reply: dict[str, Any] = {"event": event, "arg": echoed, "connId": conn.state["connId"]}
        if "id" in req:
            reply["id"] = req["id"]
        conn.push(dumps(reply))
        if event == "subscribe":
            endpoint.after_subscribe(conn, echoed)
