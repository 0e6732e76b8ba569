"""The only module that touches trio-asyncio and ccxt's classes: calls, errors, conversions.

ccxt.pro runs on asyncio; the process runs on trio with one ``trio_asyncio.open_loop()`` at the
root. :func:`aio` turns a ccxt coroutine method into a trio-awaitable. :func:`make_exchange`
builds a ccxt.pro exchange whose REST requests honour a shared :class:`VenueBudget` (token and
venue-wide 429 pause) and whose websocket frames that cannot be parsed are counted and dropped
instead of killing ccxt's receive loop. The converters copy ccxt's live, mutating structures
into immutable messages.

>>> classify_submit_error(RuntimeError("boom"))
'unknown'
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Literal

import ccxt
import ccxt.pro
import trio
import trio_asyncio

from actors.trading.aio_loop import adopt
from actors.trading.dialects import DEFAULT as DEFAULT_DIALECT
from actors.trading.dialects import Dialect, dialect_for
from actors.trading.markets import MarketInfo
from actors.trading.messages import BookSnapshot, Fill, OrderStatus, OrderUpdate, TradeTick
from actors.trading.ratelimit import DEFAULT_RETRY_AFTER, VenueBudget, retry_after

log = logging.getLogger("actors.trading.ccxt")

SubmitOutcome = Literal["rejected", "rate_limited", "unknown"]


@asynccontextmanager
async def open_loop(*, batching: bool = True) -> AsyncIterator[asyncio.AbstractEventLoop]:
    """The process's one asyncio loop, on which every ccxt client runs, for the block's life.

    With ``batching`` (the default) the loop runs every already-queued asyncio callback in
    one trio scheduler pass instead of one per pass (``actors.trading.aio_loop``).

    Errors in asyncio callbacks are logged, never fatal: trio-asyncio's default handler
    re-raises them into the loop's nursery, which would end every ccxt client of the process
    at once (aiohttp's "pong on a closing transport" is one such error). An error in a
    callback belongs to one connection, whose actor notices on its own (a stalled or broken
    stream is a crash it restarts from). ``actors run``, the tests and the benchmarks all
    open their loop here.

    >>> # async with open_loop():
    >>> #     ...  # ccxt.pro clients may be created and awaited through aio()
    """
    async with trio_asyncio.open_loop() as loop:
        loop.set_exception_handler(log_asyncio_error)
        if batching:
            adopt(loop)
        try:
            yield loop
        finally:
            await _linger_once()


def log_asyncio_error(loop: object, context: dict[str, Any]) -> None:
    """An asyncio exception handler that logs the error and keeps the loop running.

    A refused websocket dial leaves ccxt with a rejected future nobody awaits ("Future
    exception was never retrieved", a ``NetworkError``): the actor that dialled got the same
    error and reported it, so that one is logged at debug only.
    """
    exc = context.get("exception")
    if isinstance(exc, ccxt.NetworkError) and "never retrieved" in str(context.get("message")):
        log.debug("unawaited ccxt connection error: %r", exc)
        return
    log.error(
        "error in an asyncio callback: %s (%r)", context.get("message"), context.get("exception")
    )


def aio(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``await aio(exchange.fetch_balance)()`` runs a ccxt coroutine on the asyncio loop."""
    return trio_asyncio.aio_as_trio(fn)


def aio_start(fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> asyncio.Future[Any]:
    """Start ``fn(*args)`` as an asyncio task now, from trio code, without waiting for it.

    Its first step runs on the next pass of trio-asyncio's loop. For a critical path where the
    caller would otherwise ``start_soon`` a trio task whose first act is ``aio(fn)(...)``: that
    costs one more scheduler pass before ``fn`` runs. Collect the outcome with ``aio_wait``.
    """
    loop = trio_asyncio.current_loop.get()
    if loop is None:
        raise RuntimeError("aio_start needs an open trio_asyncio loop")
    return asyncio.ensure_future(fn(*args), loop=loop)


async def aio_wait(future: asyncio.Future[Any]) -> Any:
    """The result of an ``aio_start``ed task (raises its error); cancelling us cancels it."""
    return await trio_asyncio.run_aio_future(future)


@functools.cache
def _budgeted_class(name: str) -> type[Any]:
    """A subclass of ``ccxt.pro.<name>`` with the budget and frame-guard hooks."""
    base = getattr(ccxt.pro, name, None)
    if base is None:
        raise ValueError(f"ccxt.pro has no exchange {name!r}")
    text_frames = dialect_for(name).text_frames

    class Budgeted(base):  # type: ignore[misc,valid-type]
        actors_budget: VenueBudget | None = None

        async def fetch(
            self, url: str, method: str = "GET", headers: Any = None, body: Any = None
        ) -> Any:
            # Every REST call of this instance, ccxt-internal ones (book snapshots) included,
            # waits for the venue-wide budget and any 429 pause.
            if self.actors_budget is not None:
                await self.actors_budget.acquire_async()
            return await super().fetch(url, method, headers, body)

        async def create_order_ws(self, *args: Any, **kwargs: Any) -> Any:
            return await self._budgeted_ws(super().create_order_ws, *args, **kwargs)

        async def cancel_order_ws(self, *args: Any, **kwargs: Any) -> Any:
            return await self._budgeted_ws(super().cancel_order_ws, *args, **kwargs)

        async def _budgeted_ws(
            self, call: Callable[..., Awaitable[Any]], *args: Any, **kw: Any
        ) -> Any:
            # Order entry over the websocket API shares the venue's budget and its pause with
            # REST (exchanges count both against one limit); a rate-limit answer pauses all.
            budget = self.actors_budget
            if budget is not None:
                await budget.acquire_async()
            try:
                return await call(*args, **kw)
            except (ccxt.DDoSProtection, ccxt.RateLimitExceeded) as exc:
                if budget is not None:
                    budget.pause(DEFAULT_RETRY_AFTER, f"rate limited over the websocket: {exc}")
                raise

        def handle_errors(
            self,
            code: int,
            reason: str,
            url: str,
            method: str,
            headers: Any,
            body: Any,
            response: Any,
            request_headers: Any,
            request_body: Any,
        ) -> Any:
            if code in (418, 429) and self.actors_budget is not None:
                self.actors_budget.pause(retry_after(headers), f"HTTP {code} on {method} {url}")
            return super().handle_errors(
                code, reason, url, method, headers, body, response, request_headers, request_body
            )

        def handle_message(self, client: Any, message: Any) -> Any:
            # ccxt passes frames that do not look like JSON on as raw strings, and a
            # well-formed frame with impossible fields can make a handler raise: both are
            # counted and dropped here, so a bad frame never ends the receive loop. Plain
            # text the exchange does send (okx's keep-alive "pong") goes to ccxt.
            if not isinstance(message, (dict, list)) and message not in text_frames:
                self._count_malformed(client, f"non-JSON frame {str(message)[:40]!r}")
                return None
            try:
                return super().handle_message(client, message)
            except Exception as exc:
                self._count_malformed(client, repr(exc))
                return None

        def _count_malformed(self, client: Any, why: str) -> None:
            if self.actors_budget is not None:
                self.actors_budget.malformed_frames += 1
            log.warning("malformed frame from %s dropped: %s", getattr(client, "url", "?"), why)

        def client(self, url: str) -> Any:
            client = super().client(url)
            if not getattr(client, "_actors_guarded", False):
                client._actors_guarded = True
                original = client.handle_text_or_binary_message
                budget = self.actors_budget

                def guarded(data: Any) -> Any:
                    # A frame ccxt cannot decode would raise inside an asyncio callback and
                    # silently end the receive loop; count it and keep reading instead.
                    try:
                        return original(data)
                    except Exception as exc:
                        if budget is not None:
                            budget.malformed_frames += 1
                        log.warning("malformed frame from %s dropped: %r", url, exc)
                        return None

                client.handle_text_or_binary_message = guarded
            return client

    Budgeted.__name__ = f"Budgeted_{name}"
    return Budgeted


@functools.cache
def _ssl_context(cafile: str | None) -> ssl.SSLContext:
    """The default client context trusting ``cafile`` (ccxt's own choice), built once."""
    return ssl.create_default_context(cafile=cafile)


def make_exchange(
    name: str, config: Mapping[str, Any], budget: VenueBudget | None, *, sandbox: bool = False
) -> Any:
    """A ccxt.pro ``name`` instance (call inside the asyncio loop's lifetime; close it after).

    ``sandbox`` switches it to the exchange's test environment (ccxt's ``set_sandbox_mode``:
    Binance's spot testnet, OKX's demo trading).
    """
    cfg = dict(config)
    cfg.setdefault("enableRateLimit", True)
    if "rateLimiterAlgorithm" not in cfg:
        # ccxt 4.5's default leaky bucket starts empty and refills only while requests are
        # queued (its refill clock restarts with each burst; ccxt issue #25556), so every lone
        # request waits cost x rateLimit however long the exchange was idle: 10 ms per binance
        # order. ccxt's documented rolling window over 60 s enforces the same long-run budget
        # (60000 / rateLimit cost units a minute; binance: 1200 = its 6000 request weight)
        # without that idle penalty; the shared VenueBudget still caps bursts per second.
        cfg["rateLimiterAlgorithm"] = "rollingWindow"
        cfg.setdefault("rollingWindowSize", 60000)
    exchange = _budgeted_class(name)(cfg)
    exchange.actors_budget = budget
    if exchange.verify and not exchange.safe_bool(exchange.options, "include_OS_certificates"):
        # ccxt builds a fresh SSL context (parsing the whole CA bundle: 50 ms, over 0.5 s on a
        # loaded machine, with the event loop blocked) for every instance, that is on every
        # restart of every session; one per CA file serves them all.
        exchange.ssl_context = _ssl_context(exchange.cafile)
    if sandbox:
        exchange.set_sandbox_mode(True)
    return exchange


EXIT_LINGER = 0.25
"""Seconds the asyncio loop keeps running after the last exchange closed, before it closes:
what ccxt's ``close`` would sleep per instance (``timeout_on_exit``) so that aiohttp's TLS
transports finish their shutdown (aiohttp's "graceful shutdown" advice)."""

_linger_owed = False


MARKETS_MAX_AGE = 3600.0
"""Seconds a venue's loaded markets are reused across restarts before they are fetched again."""

_MARKET_FIELDS = (
    "markets", "markets_by_id", "symbols", "ids", "currencies", "currencies_by_id",
    "baseCurrencies", "quoteCurrencies", "codes",
)  # fmt: skip


class LoadedMarkets:
    """A venue's markets as ccxt loaded them, kept across the restarts of the actor that
    loaded them, so that a restarted connection does not fetch them again.

    A restart is for a dropped socket or a desync, not for new listings, and the fetch is
    neither cheap nor free: Binance's ``exchangeInfo`` is megabytes of JSON at request
    weight 20, and every restart of every venue would pay it. Kept for ``max_age`` seconds
    (then fetched again on the next start); handed over with ccxt's own
    ``set_markets_from_exchange`` (the markets, their indexes and the options its market
    helpers need). One per actor: a private session's markets may hold what its keys can see.

    >>> cache = LoadedMarkets()
    >>> # await cache.load(exchange)  # fetches the first time, reuses after a restart
    """

    def __init__(self, max_age: float = MARKETS_MAX_AGE) -> None:
        self.max_age = max_age
        self.fetches = 0
        """Times the markets were fetched from the venue."""
        self.reuses = 0
        """Starts that reused them instead."""
        self._kept: Any = None
        self._at = -math.inf

    async def load(self, exchange: Any) -> None:
        """Give ``exchange`` the kept markets if fresh enough, else load them (and keep them)."""
        now = trio.current_time()
        if self._kept is not None and now - self._at < self.max_age:
            exchange.set_markets_from_exchange(self._kept)
            self.reuses += 1
            return
        await aio(exchange.load_markets)()
        helpers = exchange.safe_list(exchange.options, "marketHelperProps", [])
        self._kept = SimpleNamespace(
            id=exchange.id,
            options={"marketHelperProps": helpers, **{h: exchange.options.get(h) for h in helpers}},
            **{name: getattr(exchange, name) for name in _MARKET_FIELDS},
        )
        self._at = now
        self.fetches += 1


async def close_exchange(exchange: Any) -> None:
    """Close an exchange's sessions and sockets; errors are logged, not raised.

    Without ccxt's own 250 ms sleep at the end of ``close`` (``timeout_on_exit``): it only
    gives aiohttp's TLS transports time to shut down before the loop closes, and our loop
    lives on; an actor's ``on_stop`` waited for it on every restart (a quarter of a second
    before the backoff even began, BENCHMARKS.md "Recovery"). :func:`open_loop` sleeps it
    once, at its exit, if an exchange was closed meanwhile.
    """
    global _linger_owed
    exchange.timeout_on_exit = 0
    _linger_owed = True
    try:
        await aio(exchange.close)()
    except Exception:
        log.exception("closing %s failed", getattr(exchange, "id", exchange))


async def _linger_once() -> None:
    """ccxt's exit sleep, once for all the exchanges closed while the loop ran."""
    global _linger_owed
    if _linger_owed:
        _linger_owed = False
        with trio.CancelScope(shield=True):
            await trio.sleep(EXIT_LINGER)


async def fetch_all_trades(
    fetch_my_trades: Callable[..., Awaitable[list[dict[str, Any]]]],
    symbol: str,
    venue_order_id: str | None = None,
    *,
    dialect: Dialect = DEFAULT_DIALECT,
    max_pages: int = 100,
) -> list[dict[str, Any]]:
    """Every trade of ``symbol`` (of one order with ``venue_order_id``), page by page.

    One page of ccxt's default size would silently drop what is beyond it; how an exchange
    filters by order and pages (Binance: ``orderId``, forward by ``fromId``; OKX: ``ordId``,
    backwards by ``after``) is its dialect's. Stops when a page is short or brings nothing
    new (a venue that ignores the paging parameter), or after ``max_pages``. The caller
    still filters by order id: the generic dialect cannot ask the exchange to.
    """
    params = dialect.trade_params(venue_order_id)
    size = dialect.trades_page
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(max_pages):
        page = await fetch_my_trades(symbol, None, size, dict(params))
        new = [t for t in page if str(t.get("id")) not in seen]
        for t in new:
            seen[str(t.get("id"))] = t
        if len(page) < size or not new:
            break
        following = dialect.next_trade_page(params, page)
        if following is None:
            break
        params = following
    return list(seen.values())


def classify_submit_error(exc: BaseException) -> SubmitOutcome:
    """What a failed ``create_order`` means for the order.

    A 429/418 (``DDoSProtection``) is answered before the venue looks at the order:
    ``rate_limited``. Any other ``ExchangeError`` (bad order, funds, duplicate id) is a
    definite refusal: ``rejected``. Time-outs, 5xx (``ExchangeNotAvailable``), dropped
    connections and anything unexpected leave the outcome open: ``unknown``. A refused
    timestamp (-1021, ``InvalidNonce``) is ``rejected``: the venue checks it first.
    """
    if isinstance(exc, (ccxt.DDoSProtection, ccxt.RateLimitExceeded)):
        return "rate_limited"
    if isinstance(exc, ccxt.InvalidNonce):
        # -1021: the venue refused the request's timestamp before looking at the order
        # (ccxt files it under NetworkError, but nothing was placed).
        return "rejected"
    if isinstance(exc, ccxt.NetworkError):
        return "unknown"
    if isinstance(exc, ccxt.ExchangeError):
        return "rejected"
    return "unknown"


def is_network_error(exc: BaseException) -> bool:
    """A connection that failed or dropped (not a venue's answer, not a refused timestamp)."""
    return isinstance(exc, ccxt.NetworkError) and not isinstance(
        exc, (ccxt.InvalidNonce, ccxt.DDoSProtection, ccxt.RateLimitExceeded)
    )


def is_connection_lost(exc: BaseException) -> bool:
    """The websocket itself failed (closed, or a dial refused or timed out), as opposed to a
    venue's answer that ccxt files under a ``NetworkError`` subclass (a -1007 back-end
    time-out is ``RequestTimeout``, a 5xx ``ExchangeNotAvailable``): ccxt.pro raises the
    plain ``NetworkError`` for a lost or refused connection, ``RequestTimeout('Connection
    timeout')`` for a dial that timed out.

    >>> is_connection_lost(ccxt.NetworkError("Connection closed by remote server, code 1006"))
    True
    >>> is_connection_lost(ccxt.RequestTimeout('binance {"code":-1007}'))
    False
    """
    if type(exc) is ccxt.NetworkError:
        return True
    return isinstance(exc, ccxt.RequestTimeout) and str(exc) == "Connection timeout"


def is_order_not_found(exc: BaseException) -> bool:
    """The venue says it does not know the order."""
    return isinstance(exc, ccxt.OrderNotFound)


# --- conversions (copies; ccxt's structures keep mutating) -----------------------------------


def dec(value: Any) -> Decimal:
    """A float/str from ccxt as an exact Decimal (via its shortest repr)."""
    if value is None:
        return Decimal(0)
    return Decimal(str(value))


def market_info_of(venue: str, market: Mapping[str, Any], precision_mode: int) -> MarketInfo:
    """Copy a ccxt market's precision, limits and fees into a :class:`MarketInfo`."""

    def num(value: Any) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    precision = market.get("precision") or {}
    limits = market.get("limits") or {}

    def limit(kind: str, end: str) -> Decimal | None:
        return num((limits.get(kind) or {}).get(end))

    return MarketInfo(
        venue=venue,
        symbol=market["symbol"],
        precision_mode=int(precision_mode),
        price_step=num(precision.get("price")),
        amount_step=num(precision.get("amount")),
        min_amount=limit("amount", "min"),
        max_amount=limit("amount", "max"),
        min_price=limit("price", "min"),
        max_price=limit("price", "max"),
        min_cost=limit("cost", "min"),
        max_cost=limit("cost", "max"),
        taker_fee=num(market.get("taker")),
        maker_fee=num(market.get("maker")),
    )


def _positive(x: float) -> bool:
    """Finite and above zero (NaN fails every comparison, so it fails this too)."""
    return 0.0 < x < math.inf


def snapshot_of(
    venue: str, symbol: str, book: Mapping[str, Any], depth: int, now: float
) -> BookSnapshot:
    """Copy the top ``depth`` levels of a ccxt order book into a ``BookSnapshot``."""
    bids = tuple((float(level[0]), float(level[1])) for level in book["bids"][:depth])
    asks = tuple((float(level[0]), float(level[1])) for level in book["asks"][:depth])
    for side, levels in (("bids", bids), ("asks", asks)):
        for price, amount in levels:
            if not (_positive(price) and _positive(amount)):
                raise ValueError(f"{venue} {symbol} book: {side} level {price} x {amount}")
    return BookSnapshot(
        venue=venue,
        symbol=symbol,
        bids=bids,
        asks=asks,
        nonce=book.get("nonce"),
        timestamp_ms=book.get("timestamp"),
        received_at=now,
    )


def trade_tick_of(venue: str, trade: Mapping[str, Any], now: float) -> TradeTick:
    """A public ccxt trade as a ``TradeTick``."""
    side = trade.get("side")
    price, amount = float(trade["price"]), float(trade["amount"])
    if not (_positive(price) and _positive(amount)):
        raise ValueError(f"{venue} trade {trade.get('id')}: {amount} at {price}")
    return TradeTick(
        venue=venue,
        symbol=trade["symbol"],
        price=price,
        amount=amount,
        side=side if side in ("buy", "sell") else None,
        trade_id=None if trade.get("id") is None else str(trade["id"]),
        timestamp_ms=trade.get("timestamp"),
        received_at=now,
    )


def client_order_id_of_ccxt(order: Mapping[str, Any]) -> str | None:
    """The client order id of a ccxt order or trade (ccxt's field, else the raw one where
    ccxt did not parse it: ``info.c`` of a Binance trade)."""
    cid = order.get("clientOrderId")
    if cid:
        return str(cid)
    info = order.get("info") or {}
    for key in ("clientOrderId", "c", "origClientOrderId"):
        if info.get(key):
            return str(info[key])
    return None


_STATUS = {
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "cancelled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}


def order_update_of(venue: str, order: Mapping[str, Any]) -> OrderUpdate | None:
    """A ccxt order as an ``OrderUpdate`` (None when it carries no client order id)."""
    cid = client_order_id_of_ccxt(order)
    if cid is None:
        return None
    filled = dec(order.get("filled"))
    amount = dec(order.get("amount"))
    remaining = order.get("remaining")
    left = dec(remaining) if remaining is not None else max(amount - filled, Decimal(0))
    raw = order.get("status")
    status = _STATUS.get(str(raw))
    if status is None:
        status = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.OPEN
    if status is OrderStatus.FILLED and amount and filled != amount:
        filled = amount  # 'closed' means fully executed; float noise must not contradict it
        left = Decimal(0)
    average = order.get("average")
    venue_id = order.get("id")
    return OrderUpdate(
        client_order_id=cid,
        venue=venue,
        venue_order_id=None if venue_id is None else str(venue_id),
        status=status,
        filled=filled,
        remaining=left,
        average_price=None if not average else dec(average),
        timestamp_ms=order.get("lastUpdateTimestamp") or order.get("timestamp"),
    )


def fill_of(venue: str, trade: Mapping[str, Any], client_order_id: str) -> Fill:
    """A private ccxt trade (one execution of our order) as a ``Fill``."""
    fee = trade.get("fee") or {}
    return Fill(
        client_order_id=client_order_id,
        venue=venue,
        symbol=trade["symbol"],
        side=trade["side"],
        price=dec(trade["price"]),
        amount=dec(trade["amount"]),
        fee=dec(fee.get("cost")),
        fee_currency=fee.get("currency"),
        trade_id=str(trade["id"]),
        timestamp_ms=trade.get("timestamp"),
    )
