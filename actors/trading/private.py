"""The private session of one venue: order entry, the user-data streams, reconciliation queries.

It speaks ccxt's unified API; what ccxt leaves open per exchange (client-id lookups, how the
private stream is confirmed, error codes, trade paging, self-trade parameters) comes from the
venue's dialect (:mod:`actors.trading.dialects`). It also loads the venue's markets (fetched
once, kept across restarts: :class:`LoadedMarkets`) and hands every strategy their precision
and limits on every start (:class:`Markets`, also the answer to :class:`GetMarkets`).

A separate ccxt.pro instance from the market-data connection, so a market-data crash does not
drop order updates. It runs ``watch_orders`` / ``watch_my_trades`` / ``watch_balance`` and
sends what they report to the router as :class:`OrderUpdate`, :class:`Fill` and
:class:`Balances`. :class:`PlaceOrder` (sent, not asked) starts the order at once and the
outcome goes back to the router as an ``OrderUpdate`` (ack or venue rejection) or a
:class:`SubmitUnknown` (time-out, 5xx, dropped connection: the venue may or may not have it;
never retried here).

Orders and cancels go over the exchange's websocket API (``create_order_ws``,
``cancel_order_ws``: the private socket the user streams use, one hop less than HTTP) where
the venue's ``order_entry`` is ``ws`` and the exchange has it (:class:`EntryPath`), and over
REST while that socket is down: a private socket the venue refuses at start-up (while REST
answers) does not crash the session; it trades over REST, without user streams, and retries
the socket with backoff; once back, the streams start and the router reconciles
(:class:`SessionUp`). An order sent over the socket with no answer within
``submit_timeout`` is UNKNOWN, as over REST; a cancel the socket fails is retried over REST.
The router's reconciliation asks are answered from the venue by client order id. A dropped
private socket is resubscribed in place (:class:`Resubscriber`: a lost connection, after the
last subscription was confirmed, at most once a second; orders go over REST meanwhile); any
other stream error is a crash. Either way the session first waits until the venue confirms
the new user-data subscription, then tells the router (:class:`SessionUp`), which reconciles
the venue: subscribe first, reconcile second, so nothing that happens in between can fall
through the gap.

A user stream can also die silently (connected, but no events). Silence proves nothing on a
quiet account, so the liveness check compares facts instead: every
``VenueSpec.liveness_interval`` seconds it asks the router for its live orders on this venue and
the venue for its open orders (REST). An order the router holds as OPEN/PARTIALLY_FILLED that
the venue no longer lists, or has filled further, is a suspect; the same suspect (the router's
view unchanged) on the next check means the stream missed it, and the session crashes with
:class:`UserStreamStale` (restart, resubscribe, reconcile). One sighting is not enough: an event
may be on its way. A failed probe (other than a rate limit) is a crash too.

>>> # ChildSpec("sim", lambda: PrivateSession(venue_spec, budget))
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import trio

from actors.runtime import Actor, ActorError, Ref, Refuse
from actors.trading.book_actor import Fanout
from actors.trading.ccxt_bridge import (
    LoadedMarkets,
    aio,
    aio_start,
    aio_wait,
    classify_submit_error,
    client_order_id_of_ccxt,
    close_exchange,
    dec,
    fetch_all_trades,
    fill_of,
    is_connection_lost,
    is_network_error,
    is_order_not_found,
    make_exchange,
    market_info_of,
    order_update_of,
)
from actors.trading.config import ROUTER, VenueSpec
from actors.trading.dialects import Dialect, dialect_for
from actors.trading.entry import EntryPath, Transport
from actors.trading.markets import Markets
from actors.trading.messages import (
    CancelRejected,
    OrderStatus,
    OrderUpdate,
    SubmitOrder,
    SubmitUnknown,
)
from actors.trading.protocol import (
    Balances,
    CancelAtVenue,
    FetchBalances,
    FetchFills,
    FetchOpenOrders,
    FetchOrder,
    GetMarkets,
    GetOrders,
    LookupOrder,
    OrderView,
    PlaceOrder,
    Quiesce,
    SessionUp,
    VenueFill,
    VenueOrder,
)
from actors.trading.ratelimit import VenueBudget
from actors.trading.resubscribe import Resubscriber

QUERIES = (CancelAtVenue, FetchOrder, LookupOrder, FetchOpenOrders, FetchFills, FetchBalances)

AUTH_RETRY_INITIAL = 5.0
AUTH_RETRY_MAX = 300.0
"""Seconds between credential retries of a venue marked down (doubling up to the max)."""
SOCKET_RETRY_INITIAL = 0.5
SOCKET_RETRY_MAX = 10.0
"""Seconds between attempts to reopen a refused private socket while REST serves orders."""

LIVE_STATUSES = frozenset({OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED})
"""Router states the liveness check compares: acknowledged and not being cancelled. In-flight
(SUBMITTING, UNKNOWN) and CANCELLING orders are settled by REST answers and reconciliation,
not by the user stream, so they say nothing about it."""


class VenueDown(Exception):
    """The venue refuses this session's credentials (or clock); the reason says which."""


class UserStreamStale(Exception):
    """The user-data stream missed events, its subscription was not confirmed, or a liveness
    probe failed: the session crashes so that it resubscribes and the router reconciles."""

    def __init__(self, venue: str, detail: str) -> None:
        super().__init__(f"{venue} user stream: {detail}")
        self.venue = venue


class PrivateSession(Actor):
    """Orders, fills and balances of one venue account."""

    def __init__(
        self,
        venue: VenueSpec,
        budget: VenueBudget | None = None,
        *,
        market_subscribers: tuple[str, ...] = (),
        loaded_markets: LoadedMarkets | None = None,
    ) -> None:
        self.venue = venue
        self.loaded_markets = loaded_markets if loaded_markets is not None else LoadedMarkets()
        """ccxt's markets of the venue, kept across restarts when the factory hands the same."""
        self.budget = budget
        self.dialect = dialect_for(venue.exchange)
        self.market_subscribers = market_subscribers
        """Paths told the venue's :class:`Markets` whenever this session (re)loads them."""
        self.markets: Markets | None = None
        self.entry = EntryPath(ws_enabled=False)
        """Which path orders take (websocket or REST) and what each carried."""
        self._reopening = False
        self.exchange: Any = None
        self.submits = 0
        self.unknown = 0
        self.liveness_checks = 0
        """Liveness checks that compared the router's view with the venue's."""
        self._scopes: list[trio.CancelScope] = []
        self._stream_scopes: list[trio.CancelScope] = []
        self._stream_retry = Resubscriber()
        self._resubscribing = False
        self._liveness_started = False
        self.resubscribes = 0
        """User streams resubscribed in place after their socket dropped."""
        self._quiet = False
        self.down: str | None = None
        """Why the venue refuses this session's credentials (None: it does not)."""
        self.auth_failures = 0

    def _spawn(self, fn: Any, *args: Any) -> None:
        """Run a stream loop that ``on_stop`` can cancel before the exchange closes."""
        self._scopes.append(self.ctx.start_soon(fn, *args))

    async def on_start(self) -> None:
        """Create the exchange, load markets (and tell the strategies), start the streams."""
        self._router: Ref | None = None
        config = dict(self.venue.ccxt)
        config["timeout"] = int(self.venue.submit_timeout * 1000)
        self.exchange = make_exchange(
            self.venue.exchange, config, self.budget, sandbox=self.venue.sandbox
        )
        self.entry = EntryPath(
            ws_enabled=self.venue.order_entry == "ws" and self.dialect.ws_order_entry(self.exchange)
        )
        problem = await self._check_credentials()
        if problem is not None:
            # Wrong keys or a clock the venue refuses: restarting cannot fix that, so the
            # session stays up, marked down, and retries on a slow clock of its own.
            self._mark_down(problem)
            self.ctx.start_soon(self._recover_credentials)
            return
        await self._go_live()

    def _publish_markets(self) -> None:
        """Copy the venue's markets of our symbols and send them to the strategies."""
        found = self.exchange.markets or {}
        missing = [s for s in self.venue.symbols if s not in found]
        if missing:
            raise ValueError(f"venue {self.venue.name} does not list {missing}")
        mode = self.exchange.precisionMode
        self.markets = Markets(
            venue=self.venue.name,
            markets=tuple(
                market_info_of(self.venue.name, found[s], mode) for s in self.venue.symbols
            ),
        )
        Fanout(self, self.market_subscribers).publish(self.markets)
        self.ctx.log.info(
            "venue %s: %s (%s dialect), %d market(s) loaded, order entry %s",
            self.venue.name,
            self.venue.exchange,
            "generic" if self.dialect.generic else "its own",
            len(self.markets.markets),
            "over the websocket API (REST while it is down)"
            if self.entry.ws_enabled
            else "over REST",
        )

    async def _go_live(self) -> None:
        if not await self._open_private():
            # REST serves orders; the socket is retried, and the router reconciles once back.
            self._reopen_private()
            return
        self._start_streams()
        if self.ctx.incarnation > 1 or self.auth_failures:
            # Updates may have been missed while we were down: the router reconciles.
            await self._tell(SessionUp(venue=self.venue.name, incarnation=self.ctx.incarnation))

    def _start_streams(self) -> None:
        """Start the user streams (the venue confirmed the subscription) unless they run, and,
        once, the liveness check."""
        self._stream_retry.delivered = True
        self._resubscribing = False
        # Idempotent: a dropped socket may be reopened both by the streams' resubscription
        # and by an order that lost it (``_reopen_private``); one set of streams, not two.
        if self.venue.user_streams and not self._stream_scopes:
            for loop in (self._orders_loop, self._trades_loop, self._balance_loop):
                self._stream_scopes.append(self.ctx.start_soon(self._user_stream, loop))
            if self.venue.liveness_interval > 0 and not self._liveness_started:
                self._liveness_started = True
                self._spawn(self._liveness_loop)

    async def _user_stream(self, loop: Any) -> None:
        """Run one user stream; a dropped socket is resubscribed in place (``Resubscriber``),
        anything else is a crash."""
        try:
            await loop()
        except Exception as exc:
            if self._resubscribing and is_connection_lost(exc):
                return  # the same drop, seen by a sibling stream that is handling it
            if not self._stream_retry.allow(exc, trio.current_time()):
                raise
            self._resubscribing = True
            self.resubscribes += 1
            if self.budget is not None:
                self.budget.resubscribes += 1
            for scope in self._stream_scopes:
                scope.cancel()  # the siblings wait on the same dead socket
            self._stream_scopes.clear()
            reason = f"{type(exc).__name__}: {str(exc)[:200]}"
            self._socket_down(reason)
            self.ctx.log.warning(
                "venue %s: user streams dropped (%s): resubscribing in place (orders over REST "
                "meanwhile)",
                self.venue.name,
                reason,
            )
            self._spawn(self._resubscribe)

    async def _resubscribe(self) -> None:
        """Subscribe the user streams again, then have the router reconcile what the gap hid.

        A subscription that fails is a crash (the supervisor's backoff), unless websocket
        order entry is on: then REST serves and the socket is retried with backoff, as when
        the venue refuses it at start-up.
        """
        began = trio.current_time()
        if not await self._open_private():
            self._reopen_private()
            return
        self._start_streams()
        self.ctx.log.info(
            "venue %s: user streams back %.0f ms after the drop",
            self.venue.name,
            (trio.current_time() - began) * 1e3,
        )
        await self._tell(SessionUp(venue=self.venue.name, incarnation=self.ctx.incarnation))

    # --- the private socket ----------------------------------------------------------------

    async def _open_private(self) -> bool:
        """Open the private socket (user streams, websocket order entry) and wait for the
        venue's confirmation; False when the venue refuses the socket while websocket entry
        is on (REST then serves; without websocket entry that is a crash, as before)."""
        if not self.venue.user_streams and not self.entry.ws_enabled:
            return True
        try:
            await self._subscribe_user_stream()
        except Exception as exc:
            if not (self.entry.ws_enabled and is_network_error(exc)):
                raise
            self._socket_down(f"{type(exc).__name__}: {str(exc)[:200]}")
            return False
        self.entry.mark_up()
        return True

    def _socket_down(self, reason: str) -> None:
        """The private socket failed: orders and cancels go over REST from now on."""
        if self.entry.mark_down(reason):
            self.ctx.log.warning(
                "venue %s: private websocket down (%s): orders over REST until it is back",
                self.venue.name,
                reason,
            )

    def _reopen_private(self) -> None:
        """Retry the socket with backoff (once at a time) until the venue confirms it."""
        if not self._reopening:
            self._reopening = True
            self._spawn(self._reopen_loop)

    async def _reopen_loop(self) -> None:
        delay = SOCKET_RETRY_INITIAL
        try:
            while True:
                await trio.sleep(delay)
                delay = min(delay * 2, SOCKET_RETRY_MAX)
                if await self._open_private():
                    break
        finally:
            self._reopening = False
        self.ctx.log.warning(
            "venue %s: private websocket back: orders over it again", self.venue.name
        )
        self._start_streams()
        # Fills and updates of the outage came over no stream: the router reconciles.
        await self._tell(SessionUp(venue=self.venue.name, incarnation=self.ctx.incarnation))

    # --- credentials ---------------------------------------------------------------------

    async def _check_credentials(self) -> str | None:
        """None when a signed request passes; else the venue's own words, once clearly.

        Markets are loaded first (once, then handed to the strategies): with keys, ccxt's
        ``load_markets`` may itself sign a request (okx's currencies; binance's with
        ``fetchCurrencies``), so refused keys can surface there already. ccxt.pro's binance
        hides an authentication failure of the user-data subscription behind
        ``KeyError('spot')`` (it drops the subscription before raising), so a signed REST
        call goes first: it fails with the venue's code and message. A clock the venue
        refuses (-1021) is measured and compensated once (ccxt's time difference) before it
        counts as a failure.
        """
        for attempt in range(2):
            try:
                if self.markets is None:
                    await self.loaded_markets.load(self.exchange)
                    self._publish_markets()
                await aio(self.exchange.fetch_balance)()
                return None
            except Exception as exc:
                kind = self.dialect.credential_error(exc)
                if kind is None:
                    raise  # not a credentials problem: a crash like any other
                if kind == "clock" and attempt == 0:
                    with contextlib.suppress(Exception):
                        await aio(self.exchange.load_time_difference)()
                        self.ctx.log.warning(
                            "clock of venue %s differs from ours by %s ms: compensating",
                            self.venue.name,
                            self.exchange.options.get("timeDifference"),
                        )
                        continue
                what = "clock rejected" if kind == "clock" else "authentication failed"
                return f"{what} on venue {self.venue.name}: {str(exc)[:300]}"
        return None

    def _mark_down(self, problem: str) -> None:
        self.auth_failures += 1
        if problem != self.down:
            # Said once, loudly; the same failure again is only counted.
            self.ctx.log.error("%s; the venue is marked down and retried with backoff", problem)
        else:
            self.ctx.log.debug("%s (still; %d attempts)", problem, self.auth_failures)
        self.down = problem

    async def _recover_credentials(self) -> None:
        delay = AUTH_RETRY_INITIAL
        while self.down is not None:
            await trio.sleep(delay)
            delay = min(delay * 2, AUTH_RETRY_MAX)
            problem = await self._check_credentials()
            if problem is None:
                self.ctx.log.warning("venue %s: credentials accepted again", self.venue.name)
                self.down = None
                await self._go_live()
            else:
                self._mark_down(problem)

    async def _subscribe_user_stream(self) -> None:
        """Open the user-data subscription and wait for the venue to confirm it.

        Where the dialect says how (binance: ``userDataStream.subscribe.signature`` on the
        ws-api; okx: ``login`` on the private socket), ccxt.pro's ``authenticate`` returns once
        the venue answered; the ``watch_*`` loops then reuse it. Bounded by
        ``submit_timeout``: an unconfirmed subscription is a stalled stream, hence a crash.
        """
        authenticate = self.dialect.authenticate(self.exchange)
        if authenticate is None:
            return  # this exchange subscribes inside watch_*; nothing to wait for here
        timeout = self.venue.submit_timeout
        with trio.move_on_after(timeout) as scope:
            await aio(authenticate)()
        if scope.cancelled_caught:
            raise UserStreamStale(
                self.venue.name, f"subscription not confirmed within {timeout:g}s"
            )

    def _router_ref(self) -> Ref | None:
        if self._router is None:
            self._router = self.ctx.lookup(ROUTER)
        return self._router

    async def _tell(self, message: Any) -> None:
        """Send to the router, looked up lazily (it starts after the sessions).

        Before the router exists nothing needs telling: it reconciles the venue at start-up.
        """
        router = self._router_ref()
        if router is None or self._quiet:
            self.ctx.log.debug("no router (yet, or any more); dropping %r", message)
            return
        await router.send(message)

    # --- streams -------------------------------------------------------------------------

    async def _orders_loop(self) -> None:
        watch = aio(self.exchange.watch_orders)
        venue = self.venue.name
        while True:
            for order in await watch():
                update = order_update_of(venue, order)
                if update is not None:
                    await self._tell(update)

    async def _trades_loop(self) -> None:
        watch = aio(self.exchange.watch_my_trades)
        venue = self.venue.name
        while True:
            for trade in await watch():
                cid = client_order_id_of_ccxt(trade)
                if cid:
                    await self._tell(fill_of(venue, trade, cid))
                elif trade.get("order") is not None:
                    await self._tell(
                        VenueFill(
                            venue_order_id=str(trade["order"]), fill=fill_of(venue, trade, "")
                        )
                    )

    async def _balance_loop(self) -> None:
        watch = aio(self.exchange.watch_balance)
        while True:
            balance = await watch()
            await self._tell(self._balances(balance))

    # --- liveness ------------------------------------------------------------------------

    async def _liveness_loop(self) -> None:
        interval = self.venue.liveness_interval
        suspects: dict[tuple[Any, ...], str] = {}
        while True:
            await trio.sleep(interval)
            found = await self._liveness_check(interval)
            if found is None:
                # Nothing comparable this time (router busy, rate limited): keep the suspects
                # for the next comparison rather than forgetting them.
                continue
            persisting = [why for key, why in found.items() if key in suspects]
            if persisting:
                raise UserStreamStale(
                    self.venue.name,
                    f"missed updates (seen on two checks {interval:g}s apart): "
                    + "; ".join(persisting[:5]),
                )
            suspects = found

    async def _liveness_check(self, timeout: float) -> dict[tuple[Any, ...], str] | None:
        """Suspects (key -> description) of one comparison; None when none could be made.

        A key holds the router's status and filled quantity, so a router that moved on
        between two checks (the stream is delivering) never makes the same key twice.
        """
        router = self._router_ref()
        if router is None:
            return None
        try:
            views: tuple[OrderView, ...] = await router.ask(
                GetOrders(active_only=True), timeout=timeout
            )
        except ActorError:
            return None  # the router is restarting or busy: that is not the stream's fault
        venue = self.venue.name
        mine = [v for v in views if v.venue == venue and v.status in LIVE_STATUSES]
        if not mine:
            # A complete check: with nothing live here, the stream had nothing to miss.
            self.liveness_checks += 1
            return {}
        symbols = tuple(sorted({v.symbol for v in mine}))
        try:
            # Asked after the router's view, so the venue's answer is the newer one.
            open_orders = await self._fetch_open(FetchOpenOrders(symbols=symbols))
        except Exception as exc:
            if classify_submit_error(exc) == "rate_limited":
                return None  # the shared budget pauses everyone; try again next time
            raise UserStreamStale(
                venue, f"liveness probe failed: {type(exc).__name__}: {str(exc)[:200]}"
            ) from exc
        self.liveness_checks += 1
        at_venue = {o.client_order_id: o for o in open_orders}
        found: dict[tuple[Any, ...], str] = {}
        for view in mine:
            cid = view.client_order_id
            theirs = at_venue.get(cid)
            if theirs is None:
                found[(cid, "gone", view.status, view.filled)] = (
                    f"{cid} is {view.status.value} here but not open at the venue"
                )
            elif theirs.update.filled > view.filled:
                found[(cid, "filled", view.status, view.filled)] = (
                    f"{cid} filled {theirs.update.filled} at the venue, {view.filled} here"
                )
        return found

    def _balances(self, balance: dict[str, Any]) -> Balances:
        free = {k: float(v) for k, v in (balance.get("free") or {}).items() if v is not None}
        total = {k: float(v) for k, v in (balance.get("total") or {}).items() if v is not None}
        return Balances(venue=self.venue.name, free=free, total=total, at=trio.current_time())

    # --- requests ------------------------------------------------------------------------

    async def handle(self, message: Any) -> Any:
        """Order entry (sent), reconciliation queries (asked) and ``"stats"``."""
        if isinstance(message, PlaceOrder):
            submit = message.submit
            if self.down is not None:
                # Never sent: refused at once, with the reason the operator was told.
                intent = submit.intent
                await self._tell(self._rejected(intent.client_order_id, intent.amount, self.down))
                return None
            # The order starts on the asyncio side right now; a trio task awaits its outcome
            # (starting it from that task would cost one more scheduler pass before the send).
            transport = self.entry.transport()
            self.ctx.start_soon(
                self._place, submit, transport, self._start_create_order(submit, transport)
            )
            return None
        if message == "stats":
            return self.stats()
        if self.down is not None and isinstance(message, QUERIES):
            # A venue that refuses our keys answers nothing; say why instead of crashing.
            if isinstance(message, CancelAtVenue) and message.notify:
                await self._tell(
                    CancelRejected(
                        client_order_id=message.client_order_id,
                        venue=self.venue.name,
                        reason=self.down,
                        at=trio.current_time(),
                    )
                )
                return None
            return Refuse(VenueDown(self.down))
        if isinstance(message, CancelAtVenue):
            if message.notify:
                self.ctx.start_soon(self._cancel_and_tell, message)
                return None
            return await self._cancel(message)
        if isinstance(message, GetMarkets):
            return self.markets
        if isinstance(message, FetchOrder):
            return await self._fetch_order(message)
        if isinstance(message, LookupOrder):
            return await self._lookup(message)
        if isinstance(message, FetchOpenOrders):
            return await self._fetch_open(message)
        if isinstance(message, FetchFills):
            trades = await fetch_all_trades(
                aio(self.exchange.fetch_my_trades),
                message.symbol,
                message.venue_order_id,
                dialect=self.dialect,
            )
            return tuple(
                VenueFill(venue_order_id=str(t["order"]), fill=fill_of(self.venue.name, t, ""))
                for t in trades
                if t.get("order") is not None
                and (message.venue_order_id is None or str(t["order"]) == message.venue_order_id)
            )
        if isinstance(message, FetchBalances):
            return self._balances(await aio(self.exchange.fetch_balance)())
        if isinstance(message, Quiesce):
            # The desk is stopping and the router is done: stop the streams so nothing
            # more reaches it (what is not delivered is not lost: the venue keeps it).
            for scope in (*self._scopes, *self._stream_scopes):
                scope.cancel()
            self._quiet = True
            return None
        return await super().handle(message)

    def stats(self) -> dict[str, Any]:
        """Counters of this session: order requests per path, fallbacks, unknown outcomes."""
        return {
            "order_entry": self.entry.transport(),
            "requests": dict(sorted(self.entry.requests.items())),
            "fallbacks": self.entry.fallbacks,
            "submits": self.submits,
            "unknown": self.unknown,
            "resubscribes": self.resubscribes,
            "incarnation": self.ctx.incarnation,
        }

    def _start_create_order(self, submit: SubmitOrder, transport: Transport) -> asyncio.Future[Any]:
        """Start ccxt's ``create_order`` (``create_order_ws`` over the websocket) for
        ``submit`` as an asyncio task (not awaited here)."""
        intent = submit.intent
        params = self.dialect.order_params(
            intent.client_order_id,
            intent.time_in_force if intent.order_type == "limit" else None,
            self.venue.self_trade_mode,
        )
        price = float(intent.price) if intent.price is not None else None
        self.submits += 1
        self.entry.sent(transport, "place")
        return aio_start(
            self.exchange.create_order_ws if transport == "ws" else self.exchange.create_order,
            intent.symbol,
            intent.order_type,
            intent.side,
            float(intent.amount),
            price,
            params,
        )

    async def _place(
        self, submit: SubmitOrder, transport: Transport, pending: asyncio.Future[Any]
    ) -> None:
        """Report the outcome of a started order to the router."""
        intent = submit.intent
        cid = intent.client_order_id
        try:
            # Cancelling this task (session stopping) cancels the asyncio task too. ccxt
            # bounds a REST request by its timeout; a websocket request only by this.
            if transport == "ws":
                with trio.fail_after(self.venue.submit_timeout):
                    order = await aio_wait(pending)
            else:
                order = await aio_wait(pending)
        except Exception as exc:
            if transport == "ws" and is_connection_lost(exc):
                self._socket_down(f"{type(exc).__name__}: {str(exc)[:200]}")
                self._reopen_private()
            timed_out = isinstance(exc, trio.TooSlowError)
            outcome = "unknown" if timed_out else classify_submit_error(exc)
            reason = f"{type(exc).__name__}: {str(exc)[:300]}"
            if timed_out:
                reason = f"no answer over {transport} within {self.venue.submit_timeout:g}s"
            if outcome == "unknown":
                self.unknown += 1
                self.ctx.log.warning("submit %s outcome unknown: %s", cid, reason)
                await self._tell(
                    SubmitUnknown(
                        client_order_id=cid,
                        venue=self.venue.name,
                        reason=reason,
                        at=trio.current_time(),
                    )
                )
            else:
                await self._tell(self._rejected(cid, intent.amount, reason))
            return
        update = order_update_of(self.venue.name, order)
        if update is None or update.client_order_id != cid or order.get("status") is None:
            # A bare acknowledgement (OKX answers an order with its ids only): the order is
            # in; what became of it comes over the user stream.
            update = OrderUpdate(
                client_order_id=cid,
                venue=self.venue.name,
                venue_order_id=None if order.get("id") is None else str(order["id"]),
                status=OrderStatus.OPEN,
                filled=Decimal(0),
                remaining=intent.amount,
            )
        await self._tell(update)
        for trade in order.get("trades") or ():
            if trade.get("id") is not None and trade.get("price") and trade.get("amount"):
                trade = {**trade, "symbol": trade.get("symbol") or intent.symbol}
                trade.setdefault("side", intent.side)
                if trade.get("side") is None:
                    trade["side"] = intent.side
                await self._tell(fill_of(self.venue.name, trade, cid))

    def _rejected(self, cid: str, amount: Decimal, reason: str) -> OrderUpdate:
        return OrderUpdate(
            client_order_id=cid,
            venue=self.venue.name,
            venue_order_id=None,
            status=OrderStatus.REJECTED,
            filled=Decimal(0),
            remaining=amount,
            reason=reason,
        )

    async def _cancel_and_tell(self, message: CancelAtVenue) -> None:
        await self._tell(await self._cancel(message))

    async def _cancel(self, message: CancelAtVenue) -> OrderUpdate | CancelRejected:
        cid = message.client_order_id
        params = self.dialect.lookup_params(cid)
        try:
            order = None
            if self.entry.transport() == "ws":
                order = await self._cancel_ws(message.symbol, params)
            if order is None:
                self.entry.sent("rest", "cancel")
                order = await aio(self.exchange.cancel_order)(None, message.symbol, params)
        except Exception as exc:
            result: OrderUpdate | CancelRejected = CancelRejected(
                client_order_id=cid,
                venue=self.venue.name,
                reason=f"{type(exc).__name__}: {str(exc)[:300]}",
                at=trio.current_time(),
            )
        else:
            update = order_update_of(self.venue.name, {**order, "clientOrderId": cid})
            assert update is not None
            result = update
        return result

    async def _cancel_ws(self, symbol: str, params: dict[str, Any]) -> Any:
        """Cancel over the websocket; None when the socket failed or did not answer in time
        (the caller retries over REST: a cancel is safe to repeat)."""
        self.entry.sent("ws", "cancel")
        try:
            with trio.fail_after(self.venue.submit_timeout):
                return await aio(self.exchange.cancel_order_ws)(None, symbol, params)
        except trio.TooSlowError:
            reason = f"no answer to a cancel within {self.venue.submit_timeout:g}s"
        except Exception as exc:
            if not is_connection_lost(exc):
                raise
            reason = f"{type(exc).__name__}: {str(exc)[:200]}"
        self._socket_down(reason)
        self._reopen_private()
        return None

    async def _fetch_order(self, message: FetchOrder) -> OrderUpdate | None:
        try:
            order = await aio(self.exchange.fetch_order)(
                None, message.symbol, self.dialect.lookup_params(message.client_order_id)
            )
        except Exception as exc:
            if is_order_not_found(exc):
                return None
            raise
        return order_update_of(self.venue.name, {**order, "clientOrderId": message.client_order_id})

    async def _lookup(self, message: LookupOrder) -> VenueOrder | None:
        """The order of ``client_order_id`` on the first of ``symbols`` that has it (the
        dialect's lookup by client id: Binance ``origClientOrderId``, OKX ``clOrdId``)."""
        cid = message.client_order_id
        for symbol in message.symbols:
            try:
                order = await aio(self.exchange.fetch_order)(
                    None, symbol, self.dialect.lookup_params(cid)
                )
            except Exception as exc:
                if is_order_not_found(exc):
                    continue
                raise
            found = _venue_order(self.venue.name, {**order, "clientOrderId": cid})
            if found is not None:
                return found
        return None

    async def _fetch_open(self, message: FetchOpenOrders) -> tuple[VenueOrder, ...]:
        return await open_orders(self.exchange, self.dialect, self.venue.name, message.symbols)

    async def on_stop(self) -> None:
        """Close the exchange (also after a crash)."""
        for scope in (*self._scopes, *self._stream_scopes):
            scope.cancel()
        if self.exchange is not None:
            exchange, self.exchange = self.exchange, None
            await close_exchange(exchange)


async def open_orders(
    exchange: Any, dialect: Dialect, venue: str, symbols: Sequence[str]
) -> tuple[VenueOrder, ...]:
    """The account's open orders on ``symbols`` (those with a client order id).

    One ``fetch_open_orders`` for them all where the exchange answers it without a symbol
    (``Dialect.open_orders_at_once``), else one per symbol: with many symbols, one call per
    symbol waits on ccxt's rate limiter for each, and a reconciliation at start-up missed
    its deadline behind them (BENCHMARKS.md, "Scale sweep").
    """
    if dialect.open_orders_at_once and len(symbols) > 1:
        # Binance charges more weight without a symbol, and ccxt refuses the call unless told
        # we know: one heavier call beats one per symbol from a few symbols on.
        exchange.options["warnOnFetchOpenOrdersWithoutSymbol"] = False
        wanted = set(symbols)
        every = await aio(exchange.fetch_open_orders)()
        orders = [order for order in every if order.get("symbol") in wanted]
    else:
        orders = [o for symbol in symbols for o in await aio(exchange.fetch_open_orders)(symbol)]
    return tuple(found for order in orders if (found := _venue_order(venue, order)) is not None)


def _venue_order(venue: str, order: dict[str, Any]) -> VenueOrder | None:
    """A ccxt order as a ``VenueOrder`` (None: no client order id)."""
    update = order_update_of(venue, order)
    if update is None:
        return None
    return VenueOrder(
        client_order_id=update.client_order_id,
        symbol=order["symbol"],
        side=order["side"],
        amount=dec(order.get("amount")),
        price=None if not order.get("price") else dec(order["price"]),
        update=update,
    )
