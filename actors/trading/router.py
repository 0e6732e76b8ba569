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

import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import trio

from actors.runtime import Actor, ActorError, Ref
from actors.trading.config import JOURNAL, RISK, DeskOptions, consolidated_path, exec_path
from actors.trading.ids import owner_of
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
from actors.trading.order_log import OrderStats, order_event
from actors.trading.orders import IN_FLIGHT, Order, OrderError
from actors.trading.protocol import (
    Adopted,
    Append,
    Balances,
    CancelAll,
    CancelAtVenue,
    Drain,
    FetchBalances,
    FetchFills,
    FetchOpenOrders,
    FetchOrder,
    GetBalances,
    GetConsolidated,
    GetOrders,
    GetOrderStats,
    LookupOrder,
    OrderStatsView,
    OrderView,
    ParkedExpired,
    PlaceOrder,
    ReadLeases,
    ReadState,
    ReconcileOrder,
    ReconcileVenue,
    ReleaseOrder,
    SessionUp,
    SettleLeases,
    VenueFill,
    VenueOrder,
)
from actors.trading.shutdown import ShutdownReport

QUERY_TIMEOUT = 10.0
LOOKED_UP = IN_FLIGHT | {OrderStatus.CANCELLING}
"""States that a ``ReconcileOrder`` looks up at the venue (the outcome is on its way)."""
CANCELLABLE = frozenset({OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED})
"""States in which the venue certainly has the order: a cancel by client id will find it."""


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
        report: ShutdownReport | None = None,
        strategy_names: tuple[str, ...] = (),
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
        self.strategy_names = strategy_names
        """The desk's strategies (adopted orders are given to the one whose tag they carry)."""
        self.adopted = 0
        self.lease_lookups = 0
        """Leased client ids of earlier runs looked up at the venues (start-up)."""
        self.lease_adopted = 0
        """Orders found by those lookups and adopted (a lost journal tail)."""
        self._leases_pending = False
        self.duplicates = 0
        """Venue updates that said nothing new (not journaled again)."""
        self.report = report
        """Filled in when the router stops: the orders it leaves behind."""
        self.draining = False
        self._drain_cancels = False
        self._drain_tries: dict[str, int] = {}
        self._parked: dict[str, tuple[RiskApproved, set[str]]] = {}
        """Orders held until the resting orders they would trade against have ended."""
        self.order_stats = OrderStats()
        """Submits, executions and tick-to-order latency (kept by ``order_event``)."""

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
        # The journal's state (its newest snapshot plus the records after it; what does
        # not apply is quarantined there): no replay of the history here.
        state = await journal.ask(ReadState(), timeout=60.0)
        self.table = state.order_table(
            trio.current_time(),
            self.options.unknown_grace,
            wall_now=time.time(),  # in-flight submits keep their age across the restart
        )
        # Orders a power loss took from the journal come back first, so reconciliation
        # fetches their fills and does not take the live ones for orphans.
        await self._recover_leases()
        for venue in self.venues:
            await self._reconcile_venue(venue)
        self.ctx.start_soon(self._watch_in_flight)

    # --- messages ------------------------------------------------------------------------

    async def handle(self, message: Any) -> Any:
        """Approved intents, venue events, cancels, reconciliation and queries."""
        kind = type(message)
        if kind is RiskApproved:
            await self._route(message)
        elif kind is OrderUpdate or kind is Fill:
            await self._apply(message)
        elif kind is CancelRejected:
            await self._apply(message)
            # Refused: filled first, or not there (yet); the venue says which.
            await self._reconcile_order(message.client_order_id)
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
            if self._leases_pending:
                await self._recover_leases()
            await self._reconcile_venue(message.venue)
        elif kind is ReconcileVenue:
            for venue in self.venues if message.venue is None else (message.venue,):
                await self._reconcile_venue(venue, skip_pending_submits=True)
            return self.reconciliations
        elif kind is Balances:
            self.balances[message.venue] = message
        elif kind is ParkedExpired:
            await self._parked_expired(message.client_order_id)
        elif kind is Drain:
            return await self._drain(message.cancel)
        elif kind is CancelAll:
            return await self._cancel_all(message)
        elif kind is GetOrders:
            return self._views(message)
        elif kind is GetBalances:
            return self.balances.get(message.venue)
        elif kind is GetOrderStats:
            stats = self.order_stats
            return OrderStatsView(
                submitted=stats.submitted,
                fills=stats.fills,
                tick_to_order=stats.tick_to_order.view(),
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
        if approved.cancel_first and not self.draining:
            # Self-trade prevention: our resting orders it would trade against go first;
            # the order leaves only once they have ended (checked as their updates arrive).
            self._parked[intent.client_order_id] = (approved, set(approved.cancel_first))
            for cid in approved.cancel_first:
                await self._cancel(CancelOrder(client_order_id=cid, reason="self-trade prevention"))
            self.ctx.send_after(
                QUERY_TIMEOUT, ParkedExpired(client_order_id=intent.client_order_id)
            )
            await self._release_parked()
            return
        await self._send(approved, now)

    async def _send(self, approved: RiskApproved, now: float) -> None:
        intent = approved.intent
        if self.draining:
            venue, session = intent.venue, None
        else:
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
                    reason="the desk is stopping"
                    if self.draining
                    else f"no route: venue {venue!r} is not connected",
                )
            )
            await self.risk.send(ReleaseOrder(client_order_id=intent.client_order_id))
            return
        assert venue is not None
        submit = SubmitOrder(intent=intent, venue=venue, sent_at=now, sent_wall=time.time())
        order = self.table.apply(submit, now)
        # Write-ahead: the submit record (and the risk decision queued before it) is on disk
        # before the order can reach the venue, so a crash can never forget a live order.
        await self.journal.ask(Append(events=(submit,), durable=True))
        await session.send(PlaceOrder(submit=submit))
        if order is not None:
            order_event(order, submit, self.order_stats, trio.current_time())

    async def _release_parked(self) -> None:
        """Send every parked order whose resting counterparts have all ended."""
        for cid, (approved, waiting) in list(self._parked.items()):
            live = {w for w in waiting if (o := self.table.get(w)) is not None and o.is_active}
            if live:
                self._parked[cid] = (approved, live)
                continue
            del self._parked[cid]
            await self._send(approved, trio.current_time())

    async def _parked_expired(self, cid: str) -> None:
        parked = self._parked.pop(cid, None)
        if parked is None:
            return
        approved, waiting = parked
        await self._apply(
            OrderUpdate(
                client_order_id=cid,
                venue=approved.intent.venue or "",
                venue_order_id=None,
                status=OrderStatus.REJECTED,
                filled=Decimal(0),
                remaining=approved.intent.amount,
                reason="self-trade prevention: our resting order(s) "
                f"{', '.join(sorted(waiting))} were not cancelled within {QUERY_TIMEOUT:g}s",
            )
        )
        await self.risk.send(ReleaseOrder(client_order_id=cid))

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
        # The session cancels in a task of its own and sends the outcome back (an
        # OrderUpdate, or a CancelRejected that makes us look the order up): several cancels
        # are at the venue at once, and none waits in the router.
        await self._resend_cancel(order)

    async def _resend_cancel(self, order: Order) -> None:
        """Send ``order``'s cancel to its venue (again, after a restart: cancels are safe to
        repeat; one that finds the order gone comes back as a ``CancelRejected``)."""
        assert order.venue is not None
        await self._sessions[order.venue].send(
            CancelAtVenue(client_order_id=order.client_order_id, symbol=order.symbol, notify=True)
        )
        # Should the session crash before it answers, the order is looked up all the same.
        self.ctx.send_after(QUERY_TIMEOUT, ReconcileOrder(client_order_id=order.client_order_id))

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
        before = order.snapshot() if type(msg) is OrderUpdate else None
        try:
            self.table.apply(msg, trio.current_time())
        except OrderError as exc:
            self._refused(exc)
            return False
        if before is not None and order.snapshot() == before:
            # The same news twice (the REST answer and the user stream both report an ack or
            # a cancel): journaled and forwarded once.
            self.duplicates += 1
            return False
        order_event(order, msg, self.order_stats)
        await self.journal.send(Append(events=(msg,), durable=False))
        if type(msg) is Fill or type(msg) is OrderUpdate:
            await self.risk.send(msg)
            await self._tell_strategy(order, msg)
        elif order.is_terminal:  # cancelled before it left: no venue will report its end
            await self.risk.send(ReleaseOrder(client_order_id=order.client_order_id))
            await self._tell_strategy(order, ended_update(order))
        if self._parked and order.is_terminal:
            await self._release_parked()
        if self._drain_cancels and order.status in CANCELLABLE:
            # Acked (or found by reconciliation) while the desk stops: cancel it now (a few
            # times at most, should the venue keep refusing).
            tries = self._drain_tries.get(order.client_order_id, 0)
            if tries < 3:
                self._drain_tries[order.client_order_id] = tries + 1
                await self._cancel(
                    CancelOrder(client_order_id=order.client_order_id, reason="shutdown")
                )
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
        if order is None or order.status not in LOOKED_UP or order.venue is None:
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
            elif order.is_terminal:  # it never reached the venue: the strategy hears so
                await self._tell_strategy(order, ended_update(order))
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
                if (
                    order.status is OrderStatus.CANCELLING
                    and found is not None
                    and found.status in CANCELLABLE
                ):
                    # The cancel we journaled never took effect (the process or the session
                    # died before it left): the order is still live there, so ask again.
                    await self._resend_cancel(order)
            behind = [o for o in self.table if o.venue == venue and o.venue_filled > o.filled]
            for order in behind:
                # Every page of that order's fills (not one page of the symbol's latest).
                fills = await session.ask(
                    FetchFills(symbol=order.symbol, venue_order_id=order.venue_order_id),
                    timeout=QUERY_TIMEOUT,
                )
                for venue_fill in fills:
                    await self._venue_fill(venue_fill)
            open_orders = await session.ask(FetchOpenOrders(symbols=symbols), timeout=QUERY_TIMEOUT)
            orphans = [vo for vo in open_orders if vo.client_order_id not in self.table]
            self.orphans[venue] = [vo.client_order_id for vo in orphans]
            for vo in orphans:
                await self._orphan(venue, vo)
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

    async def _orphan(self, venue: str, vo: VenueOrder) -> None:
        """A venue order the journal does not know: adopt it if this desk made it.

        Ours (the desk's client-id prefix): journaled as an adopted order of the strategy
        whose tag it carries, counted by risk, then kept (``orphans = "adopt"``) or cancelled
        (``"cancel"``). Another client's order on the account is only logged.
        """
        cid = vo.client_order_id
        owner = owner_of(cid, self.strategy_names, self.options.client_id_prefix)
        if owner is None or self.options.orphans == "ignore":
            self.ctx.log.warning(
                "%s: open order %s unknown to the journal (not adopted)", venue, cid
            )
            return
        if await self._adopt(venue, vo, owner):
            self.ctx.log.warning(
                "%s: adopted open order %s of strategy %s unknown to the journal (%s %s %s @ %s)",
                venue, cid, owner, vo.side, vo.amount, vo.symbol, vo.price,
            )  # fmt: skip

    async def _adopt(self, venue: str, vo: VenueOrder, owner: str) -> bool:
        """Journal the records of a venue order the journal lacks (all of them, or only the
        submit of an order it knows as never sent), count it in risk and apply what the
        venue says of it; cancel it if ``orphans = "cancel"`` and it is live."""
        cid = vo.client_order_id
        now = trio.current_time()
        known = self.table.get(cid)
        if known is not None and known.status is not OrderStatus.NEW:
            return False  # sent, as far as the journal knows: reconciliation's business
        if known is not None:
            intent = known.intent
            events: list[Message] = []
        else:
            intent = OrderIntent(
                client_order_id=cid,
                strategy=owner,
                venue=venue,
                symbol=vo.symbol,
                side=vo.side,
                order_type="limit" if vo.price is not None else "market",
                amount=vo.amount,
                price=vo.price,
                created_at=now,
            )
            events = [intent, RiskApproved(intent=intent, at=now)]
        events.append(SubmitOrder(intent=intent, venue=venue, sent_at=now, sent_wall=time.time()))
        try:
            for event in events:
                self.table.apply(event, now)
        except OrderError as exc:
            self._refused(exc)
            return False
        await self.journal.ask(Append(events=tuple(events), durable=True))
        self.adopted += 1
        await self.risk.send(Adopted(intent=intent, remaining=vo.amount - vo.update.filled))
        await self._apply(vo.update)
        order = self.table.get(cid)
        if self.options.orphans == "cancel" and order is not None and not order.is_terminal:
            await self._cancel(CancelOrder(client_order_id=cid, reason="orphan", at=now))
        return True

    async def _recover_leases(self) -> None:
        """Look up at the venues, by client order id, every id of earlier runs' leases that
        the journal has no submit record of (a power loss may have taken it), adopt what the
        venues hold, then settle those leases (:mod:`actors.trading.leases`).

        A lease whose lookups could not all be made (a session down) is kept: it is tried
        again when that session comes up, and at the next start.
        """
        outstanding = await self.journal.ask(ReadLeases(), timeout=60.0)
        if not outstanding:
            self._leases_pending = False
            return
        settled: list[int] = []
        looked = found = 0
        for item in outstanding:
            lease = item.lease
            venues = [v for v in (lease.venues or self.venues) if v in self._sessions]
            complete = True
            for cid in item.unknown:
                looked += 1
                try:
                    for venue in venues:
                        symbols = tuple(
                            s for s in self.symbols.get(venue, ())
                            if not lease.symbols or s in lease.symbols
                        )  # fmt: skip
                        vo = await self._sessions[venue].ask(
                            LookupOrder(client_order_id=cid, symbols=symbols),
                            timeout=QUERY_TIMEOUT,
                        )
                        if vo is not None:
                            if await self._adopt(venue, vo, lease.strategy):
                                found += 1
                                self.ctx.log.warning(
                                    "%s: adopted order %s of strategy %s the journal had lost"
                                    " (%s %s %s @ %s, %s)",
                                    venue, cid, lease.strategy, vo.side, vo.amount, vo.symbol,
                                    vo.price, vo.update.status.value,
                                )  # fmt: skip
                            break
                except Exception as exc:
                    complete = False
                    self.ctx.log.warning("lookup of leased id %s failed: %r", cid, exc)
                    break
            if complete:
                settled.append(lease.seq)
        if settled:
            await self.journal.ask(SettleLeases(seqs=tuple(settled)), timeout=60.0)
        self._leases_pending = len(settled) < len(outstanding)
        self.lease_lookups += looked
        self.lease_adopted += found
        if self.report is not None:
            self.report.lease_lookups = self.lease_lookups
            self.report.lease_adopted = self.lease_adopted
        self.ctx.log.info(
            "client-id leases of earlier runs: %d ids the journal lacks looked up at the"
            " venues, %d orders adopted, %d leases settled, %d kept",
            looked, found, len(settled), len(outstanding) - len(settled),
        )  # fmt: skip

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

    def _views(self, query: GetOrders) -> tuple[OrderView, ...]:
        orders = self.table.open_orders() if query.active_only else self.table
        strategy, since = query.strategy, query.since
        return tuple(
            self._view(o)
            for o in orders
            if (strategy is None or o.intent.strategy == strategy)
            and (since is None or o.updated_at >= since)
        )

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
            average_price=order.average_price,
            fills=len(order.trade_ids),
            updated_at=order.updated_at,
        )

    async def _drain(self, cancel: bool) -> int:
        """Refuse new orders from now on; with ``cancel``, cancel every order the venue has.

        In-flight orders are cancelled once they are acked (or reconciled open): a cancel by
        client id before the venue has the order would only be refused.
        """
        self.draining = True
        self._drain_cancels = cancel
        sent = 0
        if cancel:
            for order in self.table.open_orders():
                if order.status in CANCELLABLE:
                    await self._cancel(
                        CancelOrder(client_order_id=order.client_order_id, reason="shutdown")
                    )
                    sent += 1
        return sent

    async def on_stop(self) -> None:
        """Report what is left open (the shutdown actor drained us); without it, cancel here."""
        if not hasattr(self, "table"):
            return
        if not self.draining and self.options.cancel_on_shutdown:
            await self._cancel_without_drain()
        left = [f"{o.venue}:{o.client_order_id} {o.status.value}" for o in self.table.open_orders()]
        if left:
            self.ctx.log.warning(
                "stopping with %d order(s) possibly live at a venue: %s",
                len(left),
                ", ".join(left[:20]) + (" ..." if len(left) > 20 else ""),
            )
        if self.report is not None:
            self.report.open_orders = left
            self.report.stopped = True

    async def _cancel_without_drain(self) -> None:
        # A desk built without the shutdown actor: cancel one by one, as best we can.
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


def ended_update(order: Order) -> OrderUpdate:
    """An order that ended without a venue report (it never reached the venue, or was
    cancelled before it left), as an update for its strategy, which otherwise hears only
    what the venue reports."""
    return OrderUpdate(
        client_order_id=order.client_order_id,
        venue=order.venue or "",
        venue_order_id=order.venue_order_id,
        status=order.status,
        filled=order.filled,
        remaining=order.open_quantity,
        reason=order.reason or order.cancel_reason,
    )
