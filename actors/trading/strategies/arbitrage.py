"""Cross-venue taker arbitrage: buy where it is cheap, sell where it is dear, both at once.

When venue A's best bid exceeds venue B's best ask by more than ``threshold_bps`` net of
both legs' taker fees, it buys on B at B's ask and sells on A at A's bid with IOC limit
orders, sized by the smaller touch and ``max_amount``. It fires again only once both legs
have ended and ``cooldown`` seconds have passed, so it never stacks legs on a stale view.
Prices and amounts are rounded with each venue's market (ccxt's precision: the buy price up,
the sell price down, the amount down on both venues' steps), and a pair whose legs would
break a venue's limits (minimum amount or cost) is let go.

Params (:class:`TakerArbitrage.Params`): ``symbol`` (exactly one), ``venues`` (at least two),
``threshold_bps`` (5), ``fee_bps`` (10, per leg), ``max_amount``, ``cooldown`` (1.0 s).

>>> arb_edge_bps(bid_a=101.0, ask_b=100.0, fee_bps=10)
80.0
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import trio
from msgspec import Meta

from actors.trading.messages import OrderUpdate, TopOfBook
from actors.trading.orders import TERMINAL
from actors.trading.strategy import Strategy, StrategyParams, positive


def arb_edge_bps(bid_a: float, ask_b: float, fee_bps: float) -> float:
    """Profit in bps of buying at ``ask_b`` and selling at ``bid_a``, after both fees."""
    return round((bid_a - ask_b) / ask_b * 1e4 - 2 * fee_bps, 9)


class TakerArbitrage(Strategy):
    """Two-legged IOC arbitrage between venues of one symbol."""

    class Params(StrategyParams, frozen=True, kw_only=True):
        """An arbitrage trades one symbol across two or more venues."""

        symbol: str
        threshold_bps: Annotated[float, Meta(ge=0, le=10_000)] = 5.0
        fee_bps: Annotated[float, Meta(ge=0, le=1_000)] = 10.0
        max_amount: Decimal
        cooldown: Annotated[float, Meta(ge=0, le=3_600)] = 1.0

        def __post_init__(self) -> None:
            positive("max_amount", self.max_amount)
            if len(self.venues) < 2:
                raise ValueError(f"venues: an arbitrage needs two venues, got {list(self.venues)}")

    p: Params

    async def setup(self) -> None:
        """Read params."""
        p = self.p
        self.symbol: str = p.symbol
        self.venues: tuple[str, ...] = p.venues
        self.threshold_bps = p.threshold_bps
        self.fee_bps = p.fee_bps
        self.max_amount = p.max_amount
        self.cooldown = p.cooldown
        self.tops: dict[str, TopOfBook] = {}
        self.pending: set[str] = set()
        self.last_fire = -1e9
        self.fired = 0
        self.let_go = 0
        """Opportunities not taken: a market unknown yet, or legs outside its limits."""

    async def on_book(self, top: TopOfBook) -> None:
        """Look for a crossed pair of venues on every book change."""
        if top.symbol != self.symbol or top.venue not in self.venues:
            return
        self.tops[top.venue] = top
        if self.pending or trio.current_time() - self.last_fire < self.cooldown:
            return
        best: tuple[float, str, str] | None = None
        for sell_venue, a in self.tops.items():
            for buy_venue, b in self.tops.items():
                if sell_venue == buy_venue or a.stale or b.stale:
                    continue
                if a.bid is None or b.ask is None:
                    continue
                edge = arb_edge_bps(a.bid, b.ask, self.fee_bps)
                if edge > self.threshold_bps and (best is None or edge > best[0]):
                    best = (edge, sell_venue, buy_venue)
        if best is not None:
            await self._fire(self.tops[best[1]], self.tops[best[2]])

    async def _fire(self, sell_top: TopOfBook, buy_top: TopOfBook) -> None:
        assert sell_top.bid_size is not None and buy_top.ask_size is not None
        assert buy_top.ask is not None and sell_top.bid is not None
        buy_market = self.market(buy_top.venue, self.symbol)
        sell_market = self.market(sell_top.venue, self.symbol)
        if buy_market is None or sell_market is None:
            self.let_go += 1
            self.ctx.log.debug("edge between %s and %s: markets not loaded yet",
                               sell_top.venue, buy_top.venue)  # fmt: skip
            return
        size = min(self.max_amount, Decimal(str(sell_top.bid_size)), Decimal(str(buy_top.ask_size)))
        amount = sell_market.amount(buy_market.amount(size))
        buy_price = buy_market.price(buy_top.ask, "up")
        sell_price = sell_market.price(sell_top.bid, "down")
        problem = (
            "nothing to trade at these steps"
            if amount <= 0
            else buy_market.problem(amount, buy_price) or sell_market.problem(amount, sell_price)
        )
        if problem:
            self.let_go += 1
            self.ctx.log.debug("edge let go: %s", problem)
            return
        self.last_fire = trio.current_time()
        self.fired += 1
        self.ctx.log.info(
            "edge %s %s > %s %s: buying %s on %s, selling on %s",
            sell_top.venue, sell_price, buy_top.venue, buy_price, amount, buy_top.venue,
            sell_top.venue,
        )  # fmt: skip
        buy = await self.submit(
            self.symbol, "buy", amount, buy_price, venue=buy_top.venue, time_in_force="IOC"
        )
        sell = await self.submit(
            self.symbol, "sell", amount, sell_price, venue=sell_top.venue, time_in_force="IOC"
        )
        self.pending.update(cid for cid in (buy, sell) if cid is not None)

    async def on_order_update(self, update: OrderUpdate) -> None:
        """A leg that ended frees the strategy to fire again."""
        if update.status in TERMINAL:
            self.pending.discard(update.client_order_id)
