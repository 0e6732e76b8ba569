"""Binance's websocket API on ``/ws-api/v3``: user data stream subscription and order entry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import trio
from starlette.websockets import WebSocket

from actors.venues.binance import errors
from actors.venues.binance.auth import verify_wsapi
from actors.venues.hub import Conn, dumps, receive_text, refuse_private, serve_conn

if TYPE_CHECKING:
    from actors.venues.binance import BinanceProtocol
    from actors.venues.server import Venue

_decode = msgspec.json.decode


async def wsapi_endpoint(protocol: BinanceProtocol, websocket: WebSocket) -> None:
    """Serve one ws-api connection until it closes or is dropped."""
    if await refuse_private(protocol.venue, websocket):
        return
    conn = Conn(websocket, "wsapi", private=True)
    conn.state["protocol"] = protocol
    await websocket.accept()
    await serve_conn(protocol.venue, conn, _receiver)


async def _receiver(venue: Venue, conn: Conn, nursery: trio.Nursery) -> None:
    protocol: BinanceProtocol = conn.state["protocol"]
    while True:
        text = await receive_text(conn)
        if text is None:
            return
        try:
            req = _decode(text) if isinstance(text, str) else None
        except msgspec.DecodeError:
            req = None
        if not isinstance(req, dict):
            conn.push(dumps(_error(None, errors.BinanceError(400, -1000, "Malformed request."))))
            continue
        # order faults may hold a reply for a long time; other requests must not wait behind it
        nursery.start_soon(_handle, protocol, conn, req)


def _error(rid: Any, e: errors.BinanceError) -> dict[str, Any]:
    body: dict[str, Any] = {"id": rid, "status": e.status, "error": e.body()}
    if e.retry_after is not None:
        body["error"]["data"] = {"retryAfter": e.retry_after}
    return body


async def _handle(protocol: BinanceProtocol, conn: Conn, req: dict[str, Any]) -> None:
    venue = protocol.venue
    orders = protocol.orders
    rid = req.get("id")
    method = req.get("method")
    params = req.get("params") or {}
    faults = venue.faults
    if faults.latency_s:
        await trio.sleep(faults.latency_s)
    try:
        if not isinstance(params, dict):
            raise errors.BinanceError(400, -1000, "Malformed request.")
        protocol.ratelimiter.charge(1)
        if method == "ping":
            result: Any = {}
        elif method == "time":
            result = {"serverTime": venue.now_ms()}
        elif method == "userDataStream.subscribe.signature":
            account = verify_wsapi(venue.accounts, params, venue.now_ms())
            result = {
                "subscriptionId": protocol.user_streams.subscribe(conn, account, wrapped=True)
            }
        elif method in ("userDataStream.unsubscribe",):
            protocol.user_streams.discard(conn)
            result = {}
        elif method == "order.place":
            account = verify_wsapi(venue.accounts, params, venue.now_ms())
            venue.entry.count("ws", "place")
            fault = faults.take_order_fault()
            if fault is not None and fault.mode.endswith("before"):
                if fault.mode == "timeout_before":
                    await trio.sleep(fault.hold_s)
                raise errors.internal_error()
            result = orders.place(account, params)
            if fault is not None:
                if fault.mode == "timeout_after":
                    await trio.sleep(fault.hold_s)
                raise errors.BinanceError(
                    503,
                    -1007,
                    "Timeout waiting for response from backend server. "
                    "Send status unknown; execution status unknown.",
                )
        elif method == "order.cancel":
            account = verify_wsapi(venue.accounts, params, venue.now_ms())
            venue.entry.count("ws", "cancel")
            result = orders.cancel(account, params)
        elif method == "order.status":
            account = verify_wsapi(venue.accounts, params, venue.now_ms())
            result = orders.query(account, params)
        elif method == "openOrders.status":
            account = verify_wsapi(venue.accounts, params, venue.now_ms())
            result = orders.open_orders(account, params)
        elif method == "openOrders.cancelAll":
            account = verify_wsapi(venue.accounts, params, venue.now_ms())
            result = orders.cancel_all(account, params)
        elif method == "account.status":
            account = verify_wsapi(venue.accounts, params, venue.now_ms())
            result = orders.account_json(account)
        else:
            raise errors.BinanceError(400, -1020, "This operation is not supported.")
    except errors.BinanceError as e:
        conn.push(dumps(_error(rid, e)))
        return
    conn.push(dumps({"id": rid, "status": 200, "result": result}))
