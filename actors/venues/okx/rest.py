"""OKX v5 REST routes under ``/api/v5``: public market data and signed account/trade calls.

Every answer is OKX's envelope ``{"code": "0", "msg": "", "data": [...]}``; private calls are
signed with OKX's headers (``auth.py``); order requests report each order's outcome in
``data[i].sCode``/``sMsg`` with ``code`` ``"1"`` when all failed and ``"2"`` when some did.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import msgspec
import trio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.venues.accounts import Account
from actors.venues.candles import INTERVALS_MS
from actors.venues.okx import errors
from actors.venues.okx.auth import verify_rest
from actors.venues.okx.errors import OkxError, OrderFailure
from actors.venues.okx.shapes import (
    BARS,
    balance_json,
    candle_row,
    instrument_json,
    levels,
    ticker_json,
    trade_json,
)

if TYPE_CHECKING:
    from actors.venues.okx import OkxProtocol

Params = dict[str, Any]
Handler = Callable[[Any, Account | None], Awaitable[Any]]

_encode = msgspec.json.encode
_decode = msgspec.json.decode


def _json(body: Any, status: int = 200) -> Response:
    return Response(_encode(body), status_code=status, media_type="application/json")


def envelope(data: list[Any], code: str = "0", msg: str = "") -> dict[str, Any]:
    """OKX's answer around ``data``."""
    return {"code": code, "msg": msg, "data": data}


def batch_envelope(results: list[dict[str, Any]], *, websocket: bool = False) -> dict[str, Any]:
    """The answer of an order request: ``code`` 1 when every order failed, 2 when some did.

    Over REST OKX says so in ``msg`` too; over the websocket ``msg`` stays empty and only the
    orders' ``sCode``/``sMsg`` tell (ccxt reads them there only when ``msg`` is empty).
    """
    failed = sum(1 for r in results if r["sCode"] != "0")
    if failed == 0:
        return envelope(results)
    if failed == len(results):
        return envelope(results, "1", "" if websocket else "All operations failed")
    return envelope(results, "2", "" if websocket else "Bulk operation partially succeeded")


def run_orders(
    args: list[Any], op: Callable[[Any], dict[str, Any]], now_ms: int
) -> list[dict[str, Any]]:
    """Apply ``op`` to each order argument; a failure is that order's ``sCode``/``sMsg``."""
    results = []
    for arg in args:
        try:
            if not isinstance(arg, dict):
                raise OrderFailure("50002", "Json data format error")
            results.append(op(arg))
        except OrderFailure as f:
            cid = arg.get("clOrdId", "") if isinstance(arg, dict) else ""
            oid = arg.get("ordId", "") if isinstance(arg, dict) else ""
            results.append(
                {
                    "clOrdId": cid or "",
                    "ordId": oid or "",
                    "tag": "",
                    "ts": str(now_ms),
                    "sCode": f.s_code,
                    "sMsg": f.s_msg,
                }
            )
    return results


def routes(protocol: OkxProtocol) -> list[Route]:
    """Every REST route of an OKX-protocol venue."""
    venue = protocol.venue
    svc = protocol.orders

    def endpoint(
        path: str, handler: Handler, *, private: bool = False, places: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            faults = venue.faults
            if faults.latency_s:
                await trio.sleep(faults.latency_s)
            raw = (
                (await request.body()).decode(errors="replace") if request.method == "POST" else ""
            )
            try:
                protocol.ratelimiter.charge(path)
                account = None
                if private:
                    request_path = request.url.path
                    if request.url.query:
                        request_path += "?" + request.url.query
                    account = verify_rest(
                        venue.accounts,
                        request.headers,
                        request.method,
                        request_path,
                        raw,
                        venue.now_ms(),
                    )
                if request.method == "POST":
                    try:
                        payload: Any = _decode(raw) if raw else {}
                    except msgspec.DecodeError:
                        raise errors.body_not_json() from None
                else:
                    payload = dict(parse_qsl(request.url.query, keep_blank_values=True))
                if places:  # counted as they arrive, whatever a fault then makes of them
                    venue.entry.count(
                        "rest", "place", len(payload) if isinstance(payload, list) else 1
                    )
                fault = faults.take_order_fault() if places else None
                if fault is not None and fault.mode.endswith("before"):
                    if fault.mode == "timeout_before":
                        await trio.sleep(fault.hold_s)
                    return Response("Service Unavailable", status_code=fault.status)
                result = await handler(payload, account)
                if fault is not None:
                    if fault.mode == "timeout_after":
                        await trio.sleep(fault.hold_s)
                    return Response("Service Unavailable", status_code=fault.status)
            except OkxError as e:
                return _json(e.body(), e.status)
            if isinstance(result, dict):
                return _json(result)
            return _json(envelope(result))

        run.__name__ = path.replace("/", "_")
        return run

    # -- public -----------------------------------------------------------------------------

    async def server_time(p: Params, a: Account | None) -> Any:
        return [{"ts": str(venue.now_ms())}]

    async def status(p: Params, a: Account | None) -> Any:
        return []

    async def instruments(p: Params, a: Account | None) -> Any:
        inst_type = p.get("instType")
        if not inst_type:
            raise errors.empty("instType")
        if inst_type != "SPOT":
            return []
        wanted = p.get("instId")
        return [
            instrument_json(m, protocol.code_of[m.id], protocol.list_ms)
            for m in venue.markets
            if not wanted or wanted == m.okx_id
        ]

    def book_json(p: Params, maximum: int) -> Any:
        m = svc.market(p)
        assert m is not None
        try:
            depth = max(1, min(int(p.get("sz") or 1), maximum))
        except ValueError:
            raise errors.bad_param("sz") from None
        book = venue.engine.books[m.id]
        _, bids, asks = book.snapshot(depth)
        return [
            {
                "asks": levels(m, book, False, asks),
                "bids": levels(m, book, True, bids),
                "ts": str(venue.now_ms()),
            }
        ]

    async def books(p: Params, a: Account | None) -> Any:
        return book_json(p, 400)

    async def books_full(p: Params, a: Account | None) -> Any:
        return book_json(p, 5000)

    async def ticker(p: Params, a: Account | None) -> Any:
        m = svc.market(p)
        assert m is not None
        return [ticker_json(venue, m)]

    async def tickers(p: Params, a: Account | None) -> Any:
        if not p.get("instType"):
            raise errors.empty("instType")
        if p["instType"] != "SPOT":
            return []
        return [ticker_json(venue, m) for m in venue.markets]

    async def trades(p: Params, a: Account | None) -> Any:
        m = svc.market(p)
        assert m is not None
        try:
            limit = max(1, min(int(p.get("limit") or 100), 500))
        except ValueError:
            raise errors.bad_param("limit") from None
        fills = list(venue.engine.books[m.id].trades)[-limit:]
        return [trade_json(m, [f]) for f in reversed(fills)]

    async def candles(p: Params, a: Account | None) -> Any:
        m = svc.market(p)
        assert m is not None
        bar = p.get("bar") or "1m"
        if bar not in BARS:
            raise errors.bad_param("bar")
        width = INTERVALS_MS[BARS[bar]]
        try:
            after = int(p["after"]) if p.get("after") else None
            before = int(p["before"]) if p.get("before") else None
            limit = max(1, min(int(p.get("limit") or 100), 300))
        except ValueError:
            raise errors.bad_param("after/before/limit") from None
        now = venue.now_ms()
        end = now if after is None else after - 1
        rows = venue.engine.books[m.id].candles.series(width, before, end, limit=10_000)
        rows = [c for c in rows if before is None or c.open_ms > before][-limit:]
        current = now - now % width
        return [candle_row(m, c, c.open_ms < current) for c in reversed(rows)]

    # -- private ----------------------------------------------------------------------------

    async def currencies(p: Params, a: Account | None) -> Any:
        assets = sorted({x for m in venue.markets for x in (m.base, m.quote)})
        return [
            {
                "ccy": c,
                "chain": f"{c}-{c}",
                "name": c,
                "canDep": False,
                "canWd": False,
                "canInternal": False,
                "minDep": "",
                "minWd": "",
                "maxWd": "",
                "wdTickSz": "8",
                "fee": "0",
                "minFee": "0",
                "maxFee": "0",
                "mainNet": True,
            }
            for c in assets
        ]

    async def balance(p: Params, a: Account | None) -> Any:
        assert a is not None
        wanted = [c for c in str(p.get("ccy") or "").split(",") if c]
        assets = [x for x in a.assets() if not wanted or x in wanted]
        return [balance_json(a, assets, venue.now_ms())]

    async def account_config(p: Params, a: Account | None) -> Any:
        return [
            {
                "uid": protocol.uid,
                "acctLv": "1",
                "posMode": "net_mode",
                "autoLoan": False,
                "greeksType": "PA",
                "level": "Lv1",
                "ctIsoMode": "automatic",
                "mgnIsoMode": "automatic",
                "label": venue.config.name,
            }
        ]

    async def trade_fee(p: Params, a: Account | None) -> Any:
        cfg = venue.config
        return [
            {
                "instType": "SPOT",
                "level": "Lv1",
                "maker": f"-{cfg.maker_fee.normalize():f}",
                "taker": f"-{cfg.taker_fee.normalize():f}",
                "makerU": "",
                "takerU": "",
                "ts": str(venue.now_ms()),
            }
        ]

    def orders_op(
        op: Callable[[Account, Any], dict[str, Any]], batch: bool, counted: str | None = None
    ) -> Handler:
        # placements are counted on arrival (before faults), by ``endpoint``
        async def handler(body: Any, a: Account | None) -> Any:
            assert a is not None
            args = body if batch else [body]
            if not isinstance(args, list) or (batch and not args):
                raise errors.body_not_json()
            if counted is not None:
                venue.entry.count("rest", counted, len(args))
            if len(args) > 20:
                raise OkxError("51111", "Maximum 20 orders can be placed in bulk.")
            results = run_orders(args, lambda arg: op(a, arg), venue.now_ms())
            return batch_envelope(results)

        return handler

    def query(op: Callable[[Account, Params], Any]) -> Handler:
        async def handler(p: Params, a: Account | None) -> Any:
            assert a is not None
            result = op(a, p)
            return result if isinstance(result, list) else [result]

        return handler

    v = "/api/v5/"
    public: list[tuple[str, Handler]] = [
        ("public/time", server_time),
        ("system/status", status),
        ("public/instruments", instruments),
        ("market/books", books),
        ("market/books-full", books_full),
        ("market/ticker", ticker),
        ("market/tickers", tickers),
        ("market/trades", trades),
        ("market/history-trades", trades),
        ("market/candles", candles),
        ("market/history-candles", candles),
    ]
    private_get: list[tuple[str, Handler]] = [
        ("asset/currencies", currencies),
        ("account/balance", balance),
        ("account/config", account_config),
        ("account/trade-fee", trade_fee),
        ("trade/order", query(svc.query)),
        ("trade/orders-pending", query(svc.pending)),
        ("trade/orders-history", query(svc.history)),
        ("trade/orders-history-archive", query(svc.history)),
        ("trade/fills", query(svc.fills)),
        ("trade/fills-history", query(svc.fills)),
    ]
    private_post: list[tuple[str, Handler, bool]] = [
        ("trade/order", orders_op(svc.place, batch=False), True),
        ("trade/batch-orders", orders_op(svc.place, batch=True), True),
        ("trade/cancel-order", orders_op(svc.cancel, batch=False, counted="cancel"), False),
        ("trade/cancel-batch-orders", orders_op(svc.cancel, batch=True, counted="cancel"), False),
        ("trade/amend-order", orders_op(svc.amend, batch=False, counted="amend"), False),
        ("trade/amend-batch-orders", orders_op(svc.amend, batch=True, counted="amend"), False),
    ]
    result = [Route(v + path, endpoint(path, h), methods=["GET"]) for path, h in public]
    gets = {path: endpoint(path, h, private=True) for path, h in private_get}
    posts = {path: endpoint(path, h, private=True, places=p) for path, h, p in private_post}
    for path in sorted(set(gets) | set(posts)):
        get_ep, post_ep = gets.get(path), posts.get(path)

        async def route(request: Request, g: Any = get_ep, po: Any = post_ep) -> Response:
            handler = g if request.method == "GET" else po
            if handler is None:
                return _json(OkxError("50115", "Invalid request method").body(), 405)
            return await handler(request)

        result.append(Route(v + path, route, methods=["GET", "POST"]))
    return result
