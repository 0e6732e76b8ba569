"""The router: owns every order's state machine, writes ahead, routes, reconciles.

For each :class:`RiskApproved` intent it picks the venue (the named one, or for ``venue=None``
the best-priced fresh venue from ``/consolidated/<SYMBOL>``), records the
:class:`SubmitOrder` in the journal and waits until it is durable, and only then hands it to
the venue's private session (``/exec/<venue>``). What comes back (acks, venue rejections,
:class:`SubmitUnknown`, order updates and fills from the user stream, cancel results) goes
through :class:`OrderTable` (invalid events are logged and counted, never crash the router),
is journaled, and is forwarded to ``/risk`` (positions) and to the strategy that owns the
order (``/strategies/<name>``).

A submit that times out, gets a 5xx or loses its connection is UNKNOWN: it is reconciled by
client order id (``FetchOrder``) until the venue says what happened, and never resubmitted.
The same reconciliation (open orders, missed fills, balances) runs at start-up, after the
order table was rebuilt from the journal, and whenever a private session reconnects. On
shutdown, open orders are cancelled when ``cancel_on_shutdown`` is set.

>>> # ChildSpec("router", lambda: Router(("sim",), {"sim": ("BTC/USDT",)}, DeskOptions()))
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import trio

from actors.runtime import Actor, ActorError, Ref
from actors.trading.config import JOURNAL, RISK, DeskOptions, consolidated_path, exec_path
from actors.trading.messages import (
    CancelOrder,
    CancelRejected,
    Fill,
    Message,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    ReconcileVerdict,
    RiskApproved,
    SubmitOrder,
    SubmitUnknown,
)
from actors.trading.orders import IN_FLIGHT, Order, OrderError, replay
from actors.trading.protocol import (
    Append,
    Balances,
    CancelAll,
    CancelAtVenue,
    FetchBalances,
    FetchFills,
    FetchOpenOrders,
    FetchOrder,
    GetConsolidated,
    GetOrders,
    OrderView,
    PlaceOrder,
    ReadJournal,
    ReconcileOrder,
    ReconcileVenue,
    ReleaseOrder,
    SessionUp,
    VenueFill,
)

QUERY_TIMEOUT = 10.0


class Router(Actor):
    """Order state machines of the desk; the only actor that sends orders to venues."""

    def __init__(
        self,
        venues: tuple[str, ...],
        symbols: Mapping[str, tuple[str, ...]],
        options: DeskOptions | None = None,
        *,
        polled: frozenset[str] = frozenset(),
        submit_timeouts: Mapping[str, float] | None = None,
    ) -> None:
        self.venues = venues
        self.polled = polled
        """Venues without user streams: their open orders are polled."""
        self.submit_timeouts = dict(submit_timeouts or {})
        """Per venue: a submit unanswered this long (plus one interval) is looked up."""
        self.symbols = dict(symbols)
        self.options = options or DeskOptions()
        self.balances: dict[str, Balances] = {}
        self.errors = 0
        """Venue events the order state machine refused (logged, not fatal)."""
        self.orphans: dict[str, list[str]] = {}
        """Open venue orders of this account that the journal does not know, per venue."""
        self.reconciliations = 0

    async def on_start(self) -> None:
        """Rebuild orders from the journal, then reconcile every venue."""
        journal, risk = self.ctx.lookup(JOURNAL), self.ctx.lookup(RISK)
        if journal is None or risk is None:
            raise RuntimeError("the router needs /journal and /risk")
        self.journal: Ref = journal
        self.risk: Ref = risk
        self._sessions: dict[str, Ref] = {}
        for venue in self.venues:
            ref = self.ctx.lookup(exec_path(venue))
            if ref is None:
                raise RuntimeError(f"the router needs {exec_path(venue)}")
            self._sessions[venue] = ref
        messages = await journal.ask(ReadJournal(), timeout=30.0)
        self.table = replay(messages, trio.current_time(), self.options.unknown_grace)
        for venue in self.venues:
            await self._reconcile_venue(venue)
        self.ctx.start_soon(self._watch_in_flight)

    # --- messages ------------------------------------------------------------------------

    async def handle(self, message: Any) -> Any:
        """Approved intents, venue events, cancels, reconciliation and queries."""
        kind = type(message)
        if kind is RiskApproved:
            await self._route(message)
        elif kind is OrderUpdate or kind is Fill or kind is CancelRejected:
            await self._apply(message)
        elif kind is SubmitUnknown:
            if await self._apply(message):
                self.ctx.send_after(
                    self.options.unknown_retry,
                    ReconcileOrder(client_order_id=message.client_order_id),
                )
        elif kind is VenueFill:
            await self._venue_fill(message)
        elif kind is CancelOrder:
            await self._cancel(message)
        elif kind is ReconcileOrder:
            await self._reconcile_order(message.client_order_id)
        elif kind is SessionUp:
            await self._reconcile_venue(message.venue)
        elif kind is ReconcileVenue:
            for venue in self.venues if message.venue is None else (message.venue,):
                await self._reconcile_venue(venue, skip_pending_submits=True)
            return self.reconciliations
        elif kind is Balances:
            self.balances[message.venue] = message
        elif kind is CancelAll:
            return await self._cancel_all(message)
        elif kind is GetOrders:
            return tuple(
                self._view(o) for o in self.table if not message.active_only or o.is_active
            )
        else:
            return await super().handle(message)
        return None

    # --- the way out ---------------------------------------------------------------------

    async def _route(self, approved: RiskApproved) -> None:
        intent = approved.intent
        now = trio.current_time()
        try:
            self.table.apply(intent, now)
            self.table.apply(approved, now)
        except OrderError as exc:
            self._refused(exc)
            return
        venue = intent.venue or await self._best_venue(intent)
        session = self._sessions.get(venue) if venue else None
        if session is None:
            await self._apply(
                OrderUpdate(
                    client_order_id=intent.client_order_id,
                    venue=intent.venue or "",
                    venue_order_id=None,
                    status=OrderStatus.REJECTED,
                    filled=Decimal(0),
                    remaining=intent.amount,
                    reason=f"no route: venue {venue!r} is not connected",
                )
            )
            await self.risk.send(ReleaseOrder(client_order_id=intent.client_order_id))
            return
        assert venue is not None
        submit = SubmitOrder(intent=intent, venue=venue, sent_at=now)
        self.table.apply(submit, now)
        # Write-ahead: the submit record (and the risk decision queued before it) is on disk
        # before the order can reach the venue, so a crash can never forget a live order.
        await self.journal.ask(Append(events=(submit,), durable=True))
        await session.send(PlaceOrder(submit=submit))

    async def _best_venue(self, intent: OrderIntent) -> str | None:
        ref = self.ctx.lookup(consolidated_path(intent.symbol))
        if ref is None:
            return None
        try:
            top = await ref.ask(GetConsolidated(), timeout=1.0)
        except ActorError:
            return None
        if top is None:
            return None
        venue = top.ask_venue if intent.side == "buy" else top.bid_venue
        return venue if venue in self._sessions else None

    async def _cancel(self, cancel: CancelOrder) -> None:
        order = self.table.get(cancel.client_order_id)
        if order is None or order.is_terminal:
            return
        was_new = order.status is OrderStatus.NEW
        if not await self._apply(cancel):
            return
        if was_new or order.venue is None:
            return
        session = self._sessions[order.venue]
        self.ctx.start_soon(self._cancel_at_venue, session, order.client_order_id, order.symbol)

    async def _cancel_at_venue(self, session: Ref, cid: str, symbol: str) -> None:
        try:
            result = await session.ask(
                CancelAtVenue(client_order_id=cid, symbol=symbol), timeout=QUERY_TIMEOUT
            )
        except ActorError as exc:
            self.ctx.log.warning("cancel of %s failed: %r; reconciling", cid, exc)
            result = None
        if result is None or isinstance(result, CancelRejected):
            if result is not None:
                await self.ctx.ref.send(result)
            await self.ctx.ref.send(ReconcileOrder(client_order_id=cid))
        else:
            await self.ctx.ref.send(result)

    async def _cancel_all(self, request: CancelAll) -> int:
        """Start a cancel of every open order matching ``request``; how many were started."""
        now = trio.current_time()
        orders = self.table.open_orders(request.venue, request.symbol)
        for order in orders:
            cancel = CancelOrder(
                client_order_id=order.client_order_id, reason=request.reason, at=now
            )
            await self._cancel(cancel)
        self.ctx.log.warning("cancel-all (%s): %d open orders", request.reason, len(orders))
        return len(orders)

    # --- the way in ----------------------------------------------------------------------

    async def _apply(self, msg: Message) -> bool:
        """Apply a venue or control event, journal it and tell risk and the strategy."""
        cid = getattr(msg, "client_order_id", None)
        order = self.table.get(cid) if cid is not None else None
        if order is None:
            if not isinstance(msg, (OrderUpdate, Fill)):
                self.ctx.log.warning("%s for unknown order %s", type(msg).__name__, cid)
            return False  # not ours (another client of the account): ignore
        if type(msg) is Fill and msg.trade_id in order.trade_ids:
            return False  # the same execution from the stream and the REST answer
        try:
            self.table.apply(msg, trio.current_time())
        except OrderError as exc:
            self._refused(exc)
            return False
        await self.journal.send(Append(events=(msg,), durable=False))
        if type(msg) is Fill or type(msg) is OrderUpdate:
            await self.risk.send(msg)
            await self._tell_strategy(order, msg)
        elif order.is_terminal:
            await self.risk.send(ReleaseOrder(client_order_id=order.client_order_id))
        return True

    async def _venue_fill(self, message: VenueFill) -> None:
        venue = message.fill.venue
        order = self.table.by_venue_order_id(venue, message.venue_order_id)
        if order is None:
            return
        fill = message.fill
        await self._apply(
            Fill(
                client_order_id=order.client_order_id,
                venue=fill.venue,
                symbol=fill.symbol,
                side=fill.side,
                price=fill.price,
                amount=fill.amount,
                fee=fill.fee,
                fee_currency=fill.fee_currency,
                trade_id=fill.trade_id,
                timestamp_ms=fill.timestamp_ms,
            )
        )

    async def _tell_strategy(self, order: Order, msg: Message) -> None:
        ref = self.ctx.lookup(f"/strategies/{order.intent.strategy}")
        if ref is not None:
            ref.send_nowait(msg)

    def _refused(self, exc: OrderError) -> None:
        self.errors += 1
        self.ctx.log.warning("order event refused: %s", exc)

    # --- reconciliation ------------------------------------------------------------------

    async def _reconcile_order(self, cid: str) -> None:
        order = self.table.get(cid)
        if order is None or order.status not in IN_FLIGHT or order.venue is None:
            return
        session = self._sessions.get(order.venue)
        if session is None:
            return
        try:
            found = await session.ask(
                FetchOrder(client_order_id=cid, symbol=order.symbol), timeout=QUERY_TIMEOUT
            )
        except Exception as exc:
            self.ctx.log.warning("reconcile of %s failed (%r); retrying", cid, exc)
            self.ctx.send_after(self.options.unknown_retry, ReconcileOrder(client_order_id=cid))
            return
        await self._reconciled(order, found)
        if order.status in IN_FLIGHT:
            self.ctx.send_after(self.options.unknown_retry, ReconcileOrder(client_order_id=cid))

    async def _reconciled(self, order: Order, found: OrderUpdate | None) -> None:
        if order.is_terminal:
            return
        if found is None and order.status not in IN_FLIGHT:
            # An acked order the venue no longer knows: it can only have ended there.
            found = OrderUpdate(
                client_order_id=order.client_order_id,
                venue=order.venue or "",
                venue_order_id=order.venue_order_id,
                status=OrderStatus.EXPIRED,
                filled=max(order.filled, order.venue_filled),
                remaining=order.open_quantity,
                reason="not found at the venue during reconciliation",
            )
            await self._apply(found)
            return
        result = self.table.reconcile(order.client_order_id, found, trio.current_time())
        if result.verdict is ReconcileVerdict.NOT_FOUND_IN_GRACE:
            return
        self.reconciliations += 1
        if await self._apply(result):
            if result.update is not None:
                await self.risk.send(result.update)
                await self._tell_strategy(order, result.update)
            if order.is_terminal:
                await self.risk.send(ReleaseOrder(client_order_id=order.client_order_id))

    async def _reconcile_venue(self, venue: str, *, skip_pending_submits: bool = False) -> None:
        """Every possibly-live order of ``venue`` by client id, missed fills, orphans, balances.

        ``skip_pending_submits``: leave SUBMITTING orders whose submit may still be answered.
        """
        session = self._sessions[venue]
        symbols = self.symbols.get(venue, ())
        patience = self.submit_timeouts.get(venue, 0.0) + self.options.reconcile_interval
        now = trio.current_time()
        try:
            for order in self.table.open_orders(venue):
                if (
                    skip_pending_submits
                    and order.status is OrderStatus.SUBMITTING
                    and order.submitted_at is not None
                    and now - order.submitted_at < patience
                ):
                    continue
                found = await session.ask(
                    FetchOrder(client_order_id=order.client_order_id, symbol=order.symbol),
                    timeout=QUERY_TIMEOUT,
                )
                await self._reconciled(order, found)
            behind = {
                o.symbol for o in self.table if o.venue == venue and o.venue_filled > o.filled
            }
            for symbol in sorted(behind):
                fills = await session.ask(FetchFills(symbol=symbol), timeout=QUERY_TIMEOUT)
                for venue_fill in fills:
                    await self._venue_fill(venue_fill)
            open_orders = await session.ask(FetchOpenOrders(symbols=symbols), timeout=QUERY_TIMEOUT)
            orphans = [
                vo.client_order_id for vo in open_orders if vo.client_order_id not in self.table
            ]
            self.orphans[venue] = orphans
            if orphans:
                self.ctx.log.warning("%s: open orders unknown to the journal: %s", venue, orphans)
            self.balances[venue] = await session.ask(FetchBalances(), timeout=QUERY_TIMEOUT)
        except ActorError as exc:
            # The session is down; it reconnects with backoff and we reconcile on SessionUp.
            self.ctx.log.warning("reconciliation of %s interrupted: %r", venue, exc)
        except Exception as exc:
            self.ctx.log.warning("reconciliation of %s failed: %r", venue, exc)
        for order in self.table.open_orders(venue):
            # UNKNOWN orders keep being looked up; a SUBMITTING one still awaits its answer
            # (the in-flight watch takes it over if that never comes).
            if order.status is OrderStatus.UNKNOWN or (
                order.status is OrderStatus.SUBMITTING and not skip_pending_submits
            ):
                self.ctx.send_after(
                    self.options.unknown_retry,
                    ReconcileOrder(client_order_id=order.client_order_id),
                )

    async def _watch_in_flight(self) -> None:
        # A session that crashed mid-submit never answers: look such orders up ourselves.
        limit = self.options.reconcile_interval
        while True:
            await trio.sleep(limit)
            for venue in sorted(self.polled):
                if self.table.open_orders(venue):
                    await self.ctx.ref.send(ReconcileVenue(venue=venue))
            now = trio.current_time()
            for order in self.table.in_flight():
                patience = limit + self.submit_timeouts.get(order.venue or "", 0.0)
                if order.submitted_at is not None and now - order.submitted_at > patience:
                    await self.ctx.ref.send(ReconcileOrder(client_order_id=order.client_order_id))

    # --- queries and shutdown ------------------------------------------------------------

    def _view(self, order: Order) -> OrderView:
        intent = order.intent
        return OrderView(
            client_order_id=order.client_order_id,
            strategy=intent.strategy,
            venue=order.venue,
            symbol=order.symbol,
            side=intent.side,
            amount=intent.amount,
            price=intent.price,
            status=order.status,
            filled=order.filled,
            venue_order_id=order.venue_order_id,
            reason=order.reason,
        )

    async def on_stop(self) -> None:
        """Cancel open orders when configured (sessions stop after us)."""
        if not self.options.cancel_on_shutdown or not hasattr(self, "table"):
            return
        for order in self.table.open_orders():
            if order.venue is None or order.venue not in self._sessions:
                continue
            cancel = CancelOrder(client_order_id=order.client_order_id, reason="shutdown")
            try:
                self.table.apply(cancel, trio.current_time())
                result = await self._sessions[order.venue].ask(
                    CancelAtVenue(client_order_id=order.client_order_id, symbol=order.symbol),
                    timeout=QUERY_TIMEOUT,
                )
                self.table.apply(result, trio.current_time())
                await self.journal.send(Append(events=(cancel, result), durable=False))
            except (ActorError, OrderError) as exc:
                self.ctx.log.warning("cancel on shutdown of %s: %r", order.client_order_id, exc)
