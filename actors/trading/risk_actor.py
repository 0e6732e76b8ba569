"""The risk actor: every order intent passes it, there is no other way to the router.

Strategies ``ask`` it with an :class:`OrderIntent` and get the :class:`RiskApproved` or
:class:`RiskRejected` back. The intent and the decision are queued in the journal first (in
the journal's mailbox, ahead of the router's write-ahead submit record, so both are durable
before anything leaves the process); only then does an approval go on to the router. It
keeps the books' tops (conflating mailbox), positions and PnL from the fills the router
forwards, and the trading state: ``ask(SetTradingState(HALTED))`` is the kill switch.
At start-up it rebuilds positions, open orders, used client ids and the last trading state
from the journal.

>>> # decision = await risk_ref.ask(intent)   # RiskApproved or RiskRejected
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import trio

from actors.runtime import Actor, Ref
from actors.trading.config import JOURNAL, ROUTER
from actors.trading.messages import (
    CancelOrder,
    FeedStatus,
    Fill,
    OrderIntent,
    OrderUpdate,
    RejectReason,
    RiskApproved,
    RiskRejected,
    SetTradingState,
    TopOfBook,
    TradingState,
)
from actors.trading.orders import ACTIVE
from actors.trading.positions import PositionError, SymbolSummary
from actors.trading.protocol import (
    Adopted,
    Append,
    GetRiskState,
    ReadState,
    ReleaseOrder,
    RiskView,
    SymbolPnL,
)
from actors.trading.risk import RiskEngine, RiskLimits


class RiskActor(Actor):
    """Pre-trade checks, positions and the kill switch of the whole desk."""

    def __init__(self, limits: RiskLimits, *, unknown_grace: float = 30.0) -> None:
        self.limits = limits
        self.unknown_grace = unknown_grace
        self.engine = RiskEngine(limits)
        self.approved = 0
        self.rejected: Counter[str] = Counter()

    async def on_start(self) -> None:
        """Find journal and router; rebuild positions, open orders and state from the journal."""
        journal = self.ctx.lookup(JOURNAL)
        if journal is None:
            raise RuntimeError("risk needs /journal")
        self.journal: Ref = journal
        self._router: Ref | None = None
        # The journal's state (its newest snapshot plus the records after it): positions,
        # orders and the trading state, without a replay of the history here.
        state = await journal.ask(ReadState(), timeout=60.0)
        self.engine = RiskEngine(
            self.limits, state.portfolio(), state.trading_state or TradingState.ACTIVE
        )
        for record in state.orders:
            intent = record.intent
            self.engine.mark_seen(intent.client_order_id)
            if record.status in ACTIVE:
                order = record.order(trio.current_time())
                self.engine.restore_open(
                    order.client_order_id,
                    venue=order.venue,
                    symbol=order.symbol,
                    side=order.side,
                    remaining=order.open_quantity,
                    price=intent.price if intent.price is not None else order.average_price or 0,
                    rests=intent.order_type == "limit" and intent.time_in_force == "GTC",
                )

    async def handle(self, message: Any) -> Any:
        """Intents, market data, executions, state commands and queries."""
        kind = type(message)
        if kind is TopOfBook:
            self.engine.on_book(message)
        elif kind is OrderIntent:
            return await self._check(message)
        elif kind is Fill:
            try:
                self.engine.on_fill(message, trio.current_time())
            except PositionError:
                self.ctx.log.exception("fill refused by the portfolio")
        elif kind is OrderUpdate:
            self.engine.on_order_update(message)
        elif kind is FeedStatus:
            self.engine.on_feed_status(message)
        elif kind is ReleaseOrder:
            self.engine.release(message.client_order_id)
        elif kind is Adopted:
            intent = message.intent
            self.engine.restore_open(
                intent.client_order_id,
                venue=intent.venue,
                symbol=intent.symbol,
                side=intent.side,
                remaining=message.remaining,
                price=intent.price or 0,  # type: ignore[arg-type]
            )
        elif kind is SetTradingState:
            change = self.engine.set_state(message, trio.current_time())
            await self._journal_state_changes(durable=True)
            return change
        elif kind is GetRiskState:
            return self._view()
        else:
            return await super().handle(message)
        if self.engine._events:
            await self._journal_state_changes(durable=False)
        return None

    async def _check(self, intent: OrderIntent) -> Any:
        decision = self.engine.check(intent, trio.current_time())
        if type(decision) is RiskRejected and decision.reason is RejectReason.INVALID_INTENT:
            # Not an order at all (Strategy.submit refuses these; a hand-made intent may
            # not): refused without a trace in the journal, whose replay it could not pass.
            self.rejected[decision.reason.value] += 1
            self.ctx.log.warning("refused a malformed intent: %s", decision.detail)
            return decision
        # Queued ahead of the router's durable submit record: the decision is on disk
        # before the order can leave the process (and a rejection within a flush interval).
        await self.journal.send(Append(events=(intent, decision), durable=False))
        if type(decision) is RiskApproved:
            self.approved += 1
            await self._router_ref().send(decision)
        else:
            self.rejected[decision.reason.value] += 1
            self.ctx.log.info("rejected %s: %s", decision.reason.value, decision.detail)
            for cid in decision.cancel:  # self-trade prevention "cancel_both"
                await self._router_ref().send(
                    CancelOrder(client_order_id=cid, reason="self-trade prevention")
                )
        if self.engine._events:
            await self._journal_state_changes(durable=False)
        return decision

    def _router_ref(self) -> Ref:
        # Looked up lazily: the router starts after risk (it needs risk to be there).
        if self._router is None:
            self._router = self.ctx.lookup(ROUTER)
            if self._router is None:
                raise RuntimeError("no router at " + ROUTER)
        return self._router

    async def _journal_state_changes(self, *, durable: bool) -> None:
        events = tuple(self.engine.pop_events())
        for change in events:
            self.ctx.log.warning(
                "trading state %s -> %s: %s", change.previous, change.state, change.reason
            )
        if events:
            if durable:
                await self.journal.ask(Append(events=events, durable=True))
            else:
                await self.journal.send(Append(events=events, durable=False))

    def _view(self) -> RiskView:
        portfolio = self.engine.portfolio
        return RiskView(
            state=self.engine.state,
            reason=self.engine.state_reason,
            positions={s: portfolio.net_quantity(s) for s in portfolio.symbols()},
            open_orders=self.engine.open_order_count(),
            approved=self.approved,
            rejected=dict(self.rejected),
            total_pnl=portfolio.total_pnl(),
            pnl={s: symbol_pnl(portfolio.summary(s)) for s in portfolio.symbols()},
        )


def symbol_pnl(summary: SymbolSummary) -> SymbolPnL:
    """A symbol's PnL as the risk view carries it."""
    return SymbolPnL(
        realised=summary.realized_pnl,
        unrealised=summary.unrealized_pnl,
        fees=summary.fees,
        average_price=summary.average_price,
    )
