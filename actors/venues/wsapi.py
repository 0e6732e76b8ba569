"""The websocket API on ``/ws-api/v3``: user data stream subscription and order entry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import trio
from starlette.websockets import WebSocket

from actors.venues import errors
from actors.venues.auth import verify_wsapi
from actors.venues.streams import Conn, close_quietly, dumps

if TYPE_CHECKING:
    from actors.venues.server import Venue

_decode = msgspec.json.decode


async def wsapi_endpoint(venue: Venue, websocket: WebSocket) -> None:
    """Serve one ws-api connection until it closes or is dropped."""
    conn = Conn(websocket, "wsapi")
    await websocket.accept()
    venue.hub.conns.add(conn)
    try:
        with conn.scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(conn.sender, venue, False)
                await _receiver(venue, conn, nursery)
                nursery.cancel_scope.cancel()
    finally:
        venue.hub.remove(conn)
        venue.user_conns.discard(conn)
    await close_quietly(websocket, 1001)


async def _receiver(venue: Venue, conn: Conn, nursery: trio.Nursery) -> None:
    while True:
        msg = await conn.websocket.receive()
        if msg["type"] == "websocket.disconnect":
            return
        text = msg.get("text")
        try:
            req = _decode(text) if text is not None else None
        except msgspec.DecodeError:
            req = None
        if not isinstance(req, dict):
            conn.push(dumps(_error(None, errors.BinanceError(400, -1000, "Malformed request."))))
            continue
        # order faults may hold a reply for a long time; other requests must not wait behind it
        nursery.start_soon(_handle, venue, conn, req)


def _error(rid: Any, e: errors.BinanceError) -> dict[str, Any]:
    body: dict[str, Any] = {"id": rid, "status": e.status, "error": e.body()}
    if e.retry_after is not None:
        body["error"]["data"] = {"retryAfter": e.retry_after}
    return body


async def _handle(venue: Venue, conn: Conn, req: dict[str, Any]) -> None:
    rid = req.get("id")
    method = req.get("method")
    params = req.get("params") or {}
    faults = venue.faults
    if faults.latency_s:
        await trio.sleep(faults.latency_s)
    try:
        if not isinstance(params, dict):
            raise errors.BinanceError(400, -1000, "Malformed request.")
        venue.ratelimiter.charge(1)
        if method == "ping":
            result: Any = {}
        elif method == "time":
            result = {"serverTime": venue.now_ms()}
        elif method == "userDataStream.subscribe.signature":
            account = verify_wsapi(venue.accounts, params, venue.now_ms())
            conn.account = account
            venue.next_subscription_id += 1
            conn.user_subscription_id = venue.next_subscription_id
            venue.user_conns.add(conn)
            result = {"subscriptionId": conn.user_subscription_id}
        elif method in ("userDataStream.unsubscribe",):
            venue.user_conns.discard(conn)
            result = {}
        elif method == "order.place":
            account = verify_wsapi(venue.accounts, params, venue.now_ms())
            fault = faults.take_order_fault()
            if fault is not None and fault.mode.endswith("before"):
                if fault.mode == "timeout_before":
                    await trio.sleep(fault.hold_s)
                raise errors.internal_error()
            result = venue.orders.place(account, params)
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
            result = venue.orders.cancel(account, params)
        elif method == "order.status":
            account = verify_wsapi(venue.accounts, params, venue.now_ms())
            result = venue.orders.query(account, params)
        elif method == "openOrders.status":
            account = verify_wsapi(venue.accounts, params, venue.now_ms())
            result = venue.orders.open_orders(account, params)
        elif method == "openOrders.cancelAll":
            account = verify_wsapi(venue.accounts, params, venue.now_ms())
            result = venue.orders.cancel_all(account, params)
        elif method == "account.status":
            account = verify_wsapi(venue.accounts, params, venue.now_ms())
            result = venue.orders.account_json(account)
        else:
            raise errors.BinanceError(400, -1020, "This operation is not supported.")
    except errors.BinanceError as e:
        conn.push(dumps(_error(rid, e)))
        return
    conn.push(dumps({"id": rid, "status": 200, "result": result}))
