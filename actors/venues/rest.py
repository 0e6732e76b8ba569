"""REST routes of ``/api/v3`` (public and signed) and the ``/_sim`` control endpoint."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import msgspec
import trio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.venues import errors, ratelimit
from actors.venues.accounts import Account
from actors.venues.auth import verify_rest
from actors.venues.faults import CONTROL_ACTIONS

if TYPE_CHECKING:
    from actors.venues.server import Venue

Params = dict[str, str]
Handler = Callable[[Params, Account | None], Awaitable[Any]]

_encode = msgspec.json.encode


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        _encode(body), status_code=status, media_type="application/json", headers=headers
    )


class _Timeout(Exception):
    """Raised to turn an order fault into a 5xx after holding the request."""


def _endpoint(
    venue: Venue,
    name: str,
    handler: Handler,
    *,
    signed: bool = False,
    weight: Callable[[Params], int] | int = 1,
    is_order: bool = False,
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        faults = venue.faults
        if faults.latency_s:
            await trio.sleep(faults.latency_s)
        query = request.url.query
        body = (await request.body()).decode() if request.method in ("POST", "PUT") else ""
        params: Params = dict(parse_qsl(query, keep_blank_values=True))
        if body:
            params.update(parse_qsl(body, keep_blank_values=True))
        rl = venue.ratelimiter
        try:
            rl.charge(weight(params) if callable(weight) else weight)
            account = None
            if signed:
                account = verify_rest(
                    venue.accounts,
                    request.headers.get("x-mbx-apikey"),
                    query,
                    body,
                    params,
                    venue.now_ms(),
                )
            fault = faults.take_order_fault() if is_order else None
            if fault is not None and fault.mode.endswith("before"):
                if fault.mode == "timeout_before":
                    await trio.sleep(fault.hold_s)
                return Response("Service Unavailable", status_code=fault.status)
            result = await handler(params, account)
            if fault is not None:
                if fault.mode == "timeout_after":
                    await trio.sleep(fault.hold_s)
                return Response("Service Unavailable", status_code=fault.status)
        except errors.BinanceError as e:
            headers = rl.headers(is_order)
            if e.retry_after is not None:
                headers["retry-after"] = str(e.retry_after)
            return _json(e.body(), e.status, headers)
        return _json(result, 200, rl.headers(is_order))

    endpoint.__name__ = name
    return endpoint


def routes(venue: Venue) -> list[Route]:
    """Every REST route of the venue."""
    svc = venue.orders

    async def ping(p: Params, a: Account | None) -> Any:
        return {}

    async def server_time(p: Params, a: Account | None) -> Any:
        return {"serverTime": venue.now_ms()}

    async def exchange_info(p: Params, a: Account | None) -> Any:
        wanted: set[str] | None = None
        if p.get("symbol"):
            wanted = {p["symbol"].upper()}
        elif p.get("symbols"):
            wanted = {s.strip('"[] ').upper() for s in p["symbols"].split(",")}
        markets = list(venue.engine.markets.values())
        if wanted is not None:
            if not wanted <= set(venue.engine.markets):
                raise errors.invalid_symbol()
            markets = [m for m in markets if m.id in wanted]
        return {
            "timezone": "UTC",
            "serverTime": venue.now_ms(),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": venue.config.weight_limit_1m,
                },
                {
                    "rateLimitType": "ORDERS",
                    "interval": "SECOND",
                    "intervalNum": 10,
                    "limit": venue.config.order_limit_10s,
                },
            ],
            "exchangeFilters": [],
            "symbols": [m.exchange_info() for m in markets],
        }

    def _limit(p: Params, default: int, maximum: int) -> int:
        try:
            return max(1, min(int(p.get("limit", default)), maximum))
        except ValueError:
            raise errors.illegal_chars("limit") from None

    async def depth(p: Params, a: Account | None) -> Any:
        m = svc.market(p)
        last, bids, asks = venue.engine.books[m.id].snapshot(_limit(p, 100, 5000))
        return {
            "lastUpdateId": last,
            "bids": [[m.price_str(px), m.qty_str(q)] for px, q in bids],
            "asks": [[m.price_str(px), m.qty_str(q)] for px, q in asks],
        }

    async def trades(p: Params, a: Account | None) -> Any:
        m = svc.market(p)
        rows = list(venue.engine.books[m.id].trades)[-_limit(p, 500, 1000) :]
        return [
            {
                "id": f.trade_id,
                "price": m.price_str(f.price),
                "qty": m.qty_str(f.qty),
                "quoteQty": m.notional_str(f.price * f.qty),
                "time": f.time_ms,
                "isBuyerMaker": f.buyer_is_maker,
                "isBestMatch": True,
            }
            for f in rows
        ]

    async def agg_trades(p: Params, a: Account | None) -> Any:
        m = svc.market(p)
        rows = list(venue.engine.books[m.id].trades)[-_limit(p, 500, 1000) :]
        return [
            {
                "a": f.trade_id,
                "p": m.price_str(f.price),
                "q": m.qty_str(f.qty),
                "f": f.trade_id,
                "l": f.trade_id,
                "T": f.time_ms,
                "m": f.buyer_is_maker,
                "M": True,
            }
            for f in rows
        ]

    def _symbols(p: Params) -> list[str]:
        if p.get("symbol"):
            return [svc.market(p).id]
        if p.get("symbols"):
            ids = [s.strip('"[] ').upper() for s in p["symbols"].split(",")]
            if not set(ids) <= set(venue.engine.markets):
                raise errors.invalid_symbol()
            return ids
        return list(venue.engine.markets)

    async def ticker_24hr(p: Params, a: Account | None) -> Any:
        rows = [venue.ticker_json(i) for i in _symbols(p)]
        return rows[0] if p.get("symbol") else rows

    async def book_ticker(p: Params, a: Account | None) -> Any:
        rows = [venue.book_ticker_json(i) for i in _symbols(p)]
        return rows[0] if p.get("symbol") else rows

    async def ticker_price(p: Params, a: Account | None) -> Any:
        rows = [{"symbol": i, "price": venue.ticker_json(i)["lastPrice"]} for i in _symbols(p)]
        return rows[0] if p.get("symbol") else rows

    def signed(method: Callable[[Account, Params], Any]) -> Handler:
        """A handler for a signed endpoint: the account is verified by the time it runs."""

        async def handler(p: Params, a: Account | None) -> Any:
            assert a is not None
            return method(a, p)

        return handler

    order_post = signed(svc.place)
    order_get = signed(svc.query)
    order_delete = signed(svc.cancel)
    open_orders_get = signed(svc.open_orders)
    open_orders_delete = signed(svc.cancel_all)
    all_orders = signed(svc.all_orders)
    account = signed(lambda a, _p: svc.account_json(a))
    my_trades = signed(svc.my_trades)

    def w(method: str, path: str) -> int:
        return ratelimit.WEIGHTS.get((method, path), 1)

    def depth_w(p: Params) -> int:
        try:
            return ratelimit.depth_weight(int(p.get("limit", 100)))
        except ValueError:
            return 5

    def ticker_w(p: Params) -> int:
        return ratelimit.ticker_weight(bool(p.get("symbol")))

    E = _endpoint
    v = "/api/v3/"
    table: list[tuple[str, list[str], Callable[[Request], Awaitable[Response]]]] = [
        ("ping", ["GET"], E(venue, "ping", ping, weight=w("GET", "ping"))),
        ("time", ["GET"], E(venue, "time", server_time, weight=w("GET", "time"))),
        ("exchangeInfo", ["GET"], E(venue, "xi", exchange_info, weight=w("GET", "exchangeInfo"))),
        ("depth", ["GET"], E(venue, "depth", depth, weight=depth_w)),
        ("trades", ["GET"], E(venue, "trades", trades, weight=w("GET", "trades"))),
        ("aggTrades", ["GET"], E(venue, "agg", agg_trades, weight=w("GET", "aggTrades"))),
        ("ticker/24hr", ["GET"], E(venue, "t24", ticker_24hr, weight=ticker_w)),
        ("ticker/bookTicker", ["GET"], E(venue, "bt", book_ticker, weight=2)),
        ("ticker/price", ["GET"], E(venue, "tp", ticker_price, weight=2)),
        ("account", ["GET"], E(venue, "acct", account, signed=True, weight=20)),
        ("myTrades", ["GET"], E(venue, "mt", my_trades, signed=True, weight=20)),
        ("allOrders", ["GET"], E(venue, "ao", all_orders, signed=True, weight=20)),
    ]
    result = [Route(v + path, fn, methods=methods) for path, methods, fn in table]
    order_post_ep = E(venue, "op", order_post, signed=True, weight=1, is_order=True)
    order_get_ep = E(venue, "og", order_get, signed=True, weight=4)
    order_del_ep = E(venue, "od", order_delete, signed=True, weight=1)
    oo_get = E(venue, "oog", open_orders_get, signed=True, weight=6)
    oo_del = E(venue, "ood", open_orders_delete, signed=True, weight=1)

    async def order_route(request: Request) -> Response:
        return await {"POST": order_post_ep, "GET": order_get_ep, "DELETE": order_del_ep}[
            request.method
        ](request)

    async def open_orders_route(request: Request) -> Response:
        return await (oo_get if request.method == "GET" else oo_del)(request)

    result.append(Route(v + "order", order_route, methods=["POST", "GET", "DELETE"]))
    result.append(Route(v + "openOrders", open_orders_route, methods=["GET", "DELETE"]))
    result.extend(control_routes(venue))
    return result


def control_routes(venue: Venue) -> list[Route]:
    """``/_sim/...``: fault knobs, market control and introspection for tests and operators."""

    async def fault(request: Request) -> Response:
        action = request.path_params["action"]
        if action not in CONTROL_ACTIONS:
            return _json(
                {"error": f"unknown fault {action!r}", "actions": sorted(CONTROL_ACTIONS)}, 404
            )
        raw = await request.body()
        try:
            kwargs = msgspec.json.decode(raw) if raw else {}
            if not isinstance(kwargs, dict):
                raise TypeError("body must be a JSON object")
            result = getattr(venue.faults, action)(**kwargs)
        except (TypeError, ValueError, msgspec.DecodeError) as e:
            return _json({"error": str(e)}, 400)
        return _json({"ok": True, "result": result, "faults": venue.faults.state()})

    async def state(request: Request) -> Response:
        return _json(venue.status())

    async def market(request: Request) -> Response:
        action = request.path_params["action"]
        if action == "pause":
            venue.pause_market()
        elif action == "resume":
            venue.resume_market()
        elif action == "rate":
            body = msgspec.json.decode(await request.body() or b"{}")
            venue.set_rate(float(body["rate_hz"]))
        else:
            return _json({"error": f"unknown market action {action!r}"}, 404)
        return _json({"ok": True, "state": venue.status()})

    async def book(request: Request) -> Response:
        try:
            return _json(venue.book(request.path_params["symbol"]))
        except KeyError:
            return _json({"error": "unknown symbol"}, 404)

    return [
        Route("/_sim/faults/{action}", fault, methods=["POST"]),
        Route("/_sim/state", state, methods=["GET"]),
        Route("/_sim/market/{action}", market, methods=["POST"]),
        Route("/_sim/book/{symbol:path}", book, methods=["GET"]),
    ]
