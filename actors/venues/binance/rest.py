"""Binance REST routes: ``/api/v3`` (public, API-key and signed) and ``/sapi/v1/asset/tradeFee``.

Parameters are read from the query string and, for POST, PUT and DELETE, from a form body as
well (Binance accepts either; python-binance sends a cancel's parameters in the body). A
signed request's payload is the query string followed by the body, as Binance signs it.
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
from actors.venues.binance import errors, ratelimit
from actors.venues.binance.auth import account_of, verify_rest
from actors.venues.binance.filters import exchange_info
from actors.venues.binance.market_data import (
    agg_json,
    avg_price,
    book_ticker_json,
    kline_row,
    mini_ticker_json,
    ticker_json,
)
from actors.venues.candles import INTERVALS_MS
from actors.venues.engine import same_price_runs

if TYPE_CHECKING:
    from actors.venues.binance import BinanceProtocol

Params = dict[str, str]
Handler = Callable[[Params, Account | None], Awaitable[Any]]
PUBLIC, API_KEY, SIGNED = "public", "api-key", "signed"

_encode = msgspec.json.encode


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        _encode(body), status_code=status, media_type="application/json", headers=headers
    )


def _endpoint(
    protocol: BinanceProtocol,
    name: str,
    handler: Handler,
    *,
    auth: str = PUBLIC,
    weight: Callable[[Params], int] | int = 1,
    is_order: bool = False,
) -> Callable[[Request], Awaitable[Response]]:
    venue = protocol.venue

    async def endpoint(request: Request) -> Response:
        faults = venue.faults
        if faults.latency_s:
            await trio.sleep(faults.latency_s)
        query = request.url.query
        body = ""
        if request.method in ("POST", "PUT", "DELETE"):
            body = (await request.body()).decode(errors="replace")
        params: Params = dict(parse_qsl(query, keep_blank_values=True))
        if body:
            params.update(parse_qsl(body, keep_blank_values=True))
        rl = protocol.ratelimiter
        try:
            rl.charge(weight(params) if callable(weight) else weight)
            account = None
            if auth == SIGNED:
                account = verify_rest(
                    venue.accounts,
                    request.headers.get("x-mbx-apikey"),
                    query,
                    body,
                    params,
                    venue.now_ms(),
                )
            elif auth == API_KEY:
                account = account_of(venue.accounts, request.headers.get("x-mbx-apikey"))
            if is_order:  # counted as it arrives, whatever a fault then makes of it
                venue.entry.count("rest", "place")
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


def _limit(p: Params, default: int, maximum: int) -> int:
    try:
        return max(1, min(int(p.get("limit", default)), maximum))
    except ValueError:
        raise errors.illegal_chars("limit") from None


def _opt_int(p: Params, name: str) -> int | None:
    raw = p.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.illegal_chars(name) from None


def routes(protocol: BinanceProtocol) -> list[Route]:
    """Every REST route of a Binance-protocol venue."""
    venue = protocol.venue
    svc = protocol.orders

    async def ping(p: Params, a: Account | None) -> Any:
        return {}

    async def server_time(p: Params, a: Account | None) -> Any:
        return {"serverTime": venue.now_ms()}

    async def exchange_info_(p: Params, a: Account | None) -> Any:
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
            "symbols": [exchange_info(m, venue.config.default_stp) for m in markets],
        }

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
        groups = same_price_runs(list(venue.engine.books[m.id].trades))
        from_id = _opt_int(p, "fromId")
        if from_id is not None:
            groups = [g for g in groups if g[0].trade_id >= from_id]
        limit = _limit(p, 500, 1000)
        picked = groups[:limit] if from_id is not None else groups[-limit:]
        return [agg_json(m, g, stream=False) for g in picked]

    async def klines(p: Params, a: Account | None) -> Any:
        m = svc.market(p)
        interval = p.get("interval")
        if not interval:
            raise errors.mandatory_param("interval")
        if interval not in INTERVALS_MS:
            raise errors.invalid_interval()
        width = INTERVALS_MS[interval]
        end = _opt_int(p, "endTime")
        candles = venue.engine.books[m.id].candles.series(
            width,
            _opt_int(p, "startTime"),
            venue.now_ms() if end is None else end,
            _limit(p, 500, 1000),
        )
        return [kline_row(m, c, width) for c in candles]

    async def avg_price_(p: Params, a: Account | None) -> Any:
        m = svc.market(p)
        return {
            "mins": 5,
            "price": m.price_str(avg_price(venue, m)),
            "closeTime": venue.now_ms(),
        }

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
        kind = p.get("type", "FULL").upper()
        if kind not in ("FULL", "MINI"):
            raise errors.BinanceError(400, -1139, "Invalid ticker type.")
        render = mini_ticker_json if kind == "MINI" else ticker_json
        rows = [render(venue, i) for i in _symbols(p)]
        return rows[0] if p.get("symbol") else rows

    async def book_ticker(p: Params, a: Account | None) -> Any:
        rows = [book_ticker_json(venue, i) for i in _symbols(p)]
        return rows[0] if p.get("symbol") else rows

    async def ticker_price(p: Params, a: Account | None) -> Any:
        rows = [{"symbol": i, "price": ticker_json(venue, i)["lastPrice"]} for i in _symbols(p)]
        return rows[0] if p.get("symbol") else rows

    def signed(method: Callable[[Account, Params], Any], counted: str | None = None) -> Handler:
        """A handler for an authenticated endpoint: the account is known by the time it runs;
        ``counted`` names the order operation the venue counts as a REST request."""

        async def handler(p: Params, a: Account | None) -> Any:
            assert a is not None
            if counted is not None:
                venue.entry.count("rest", counted)
            return method(a, p)

        return handler

    async def listen_key_post(p: Params, a: Account | None) -> Any:
        assert a is not None
        return {"listenKey": protocol.listen_keys.create(a)}

    async def listen_key_put(p: Params, a: Account | None) -> Any:
        assert a is not None
        protocol.listen_keys.keepalive(p.get("listenKey"), a)
        return {}

    async def listen_key_delete(p: Params, a: Account | None) -> Any:
        assert a is not None
        key = protocol.listen_keys.close(p.get("listenKey"), a)
        protocol.close_listen_key(key)
        return {}

    async def trade_fee(p: Params, a: Account | None) -> Any:
        return svc.trade_fees(p)

    def w(method: str, path: str) -> int:
        return ratelimit.WEIGHTS.get((method, path), 1)

    def depth_w(p: Params) -> int:
        try:
            return ratelimit.depth_weight(int(p.get("limit", 100)))
        except ValueError:
            return 5

    def ticker_w(p: Params) -> int:
        return ratelimit.ticker_weight(bool(p.get("symbol")))

    def E(name: str, handler: Handler, **kw: Any) -> Callable[[Request], Awaitable[Response]]:
        return _endpoint(protocol, name, handler, **kw)

    def by_method(**eps: Callable[[Request], Awaitable[Response]]) -> Any:
        async def route(request: Request) -> Response:
            return await eps[request.method](request)

        return route

    v = "/api/v3/"
    table: list[tuple[str, list[str], Callable[[Request], Awaitable[Response]]]] = [
        ("ping", ["GET"], E("ping", ping, weight=w("GET", "ping"))),
        ("time", ["GET"], E("time", server_time, weight=w("GET", "time"))),
        ("exchangeInfo", ["GET"], E("xi", exchange_info_, weight=w("GET", "exchangeInfo"))),
        ("depth", ["GET"], E("depth", depth, weight=depth_w)),
        ("trades", ["GET"], E("trades", trades, weight=w("GET", "trades"))),
        ("aggTrades", ["GET"], E("agg", agg_trades, weight=w("GET", "aggTrades"))),
        ("klines", ["GET"], E("klines", klines, weight=w("GET", "klines"))),
        ("uiKlines", ["GET"], E("uiKlines", klines, weight=w("GET", "uiKlines"))),
        ("avgPrice", ["GET"], E("avg", avg_price_, weight=w("GET", "avgPrice"))),
        ("ticker/24hr", ["GET"], E("t24", ticker_24hr, weight=ticker_w)),
        ("ticker/bookTicker", ["GET"], E("bt", book_ticker, weight=2)),
        ("ticker/price", ["GET"], E("tp", ticker_price, weight=2)),
        (
            "account",
            ["GET"],
            E("acct", signed(lambda a, _p: svc.account_json(a)), auth=SIGNED, weight=20),
        ),
        ("myTrades", ["GET"], E("mt", signed(svc.my_trades), auth=SIGNED, weight=20)),
        ("allOrders", ["GET"], E("ao", signed(svc.all_orders), auth=SIGNED, weight=20)),
        (
            "order",
            ["POST", "GET", "DELETE"],
            by_method(
                POST=E("op", signed(svc.place), auth=SIGNED, weight=1, is_order=True),
                GET=E("og", signed(svc.query), auth=SIGNED, weight=4),
                DELETE=E("od", signed(svc.cancel, "cancel"), auth=SIGNED, weight=1),
            ),
        ),
        (
            "openOrders",
            ["GET", "DELETE"],
            by_method(
                GET=E("oog", signed(svc.open_orders), auth=SIGNED, weight=6),
                DELETE=E("ood", signed(svc.cancel_all), auth=SIGNED, weight=1),
            ),
        ),
        (
            "userDataStream",
            ["POST", "PUT", "DELETE"],
            by_method(
                POST=E("udsp", listen_key_post, auth=API_KEY, weight=2),
                PUT=E("udsk", listen_key_put, auth=API_KEY, weight=2),
                DELETE=E("udsd", listen_key_delete, auth=API_KEY, weight=2),
            ),
        ),
    ]
    result = [Route(v + path, fn, methods=methods) for path, methods, fn in table]
    result.append(
        Route(
            "/sapi/v1/asset/tradeFee", E("fee", trade_fee, auth=SIGNED, weight=1), methods=["GET"]
        )
    )
    return result
