"""A market maker: one bid and one ask around mid, skewed against inventory.

Quotes ``spread_bps`` wide around the venue's mid; inventory (from our fills) moves both
quotes by up to ``skew_bps`` (long: lower, to sell more and buy less; short: higher), and
the side that would grow inventory beyond ``max_inventory`` is not quoted. When mid moves
more than ``tolerance_bps`` from where the quotes were made (or a quote ended), the live
quotes are cancelled and replaced. Orders go through risk like every other intent. Prices
and amounts come from the venue's market (ccxt's precision and limits): the bid rounds down,
the ask up, neither crosses the touch, and a quote below the market's minimums is not sent.

Params (:class:`MarketMaker.Params`): ``venue``, ``symbol`` (exactly one of each), ``amount``,
``spread_bps`` (20), ``skew_bps`` (10), ``max_inventory`` (10 x amount), ``tolerance_bps`` (3),
``min_requote_interval`` (0.25 s).

>>> mm_quotes(mid=100.0, spread_bps=20, skew_bps=10, inventory=0.0, max_inventory=1.0)
(99.9, 100.1)
>>> mm_quotes(mid=100.0, spread_bps=20, skew_bps=10, inventory=1.0, max_inventory=1.0)
(99.8, 100.0)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import trio
from msgspec import Meta

from actors.trading.markets import MarketInfo
from actors.trading.messages import Fill, OrderStatus, OrderUpdate, Side, TopOfBook
from actors.trading.orders import TERMINAL
from actors.trading.protocol import OrderView
from actors.trading.strategy import Strategy, StrategyParams, positive

Bps = Annotated[float, Meta(ge=0, le=10_000)]


def mm_quotes(
    mid: float, spread_bps: float, skew_bps: float, inventory: float, max_inventory: float
) -> tuple[float, float]:
    """(bid, ask) around ``mid``: half the spread each side, shifted against inventory."""
    ratio = max(-1.0, min(1.0, inventory / max_inventory)) if max_inventory > 0 else 0.0
    shift = -ratio * skew_bps
    bid = mid * (1 + (-spread_bps / 2 + shift) / 1e4)
    ask = mid * (1 + (spread_bps / 2 + shift) / 1e4)
    return round(bid, 10), round(ask, 10)


def maker_prices(
    market: MarketInfo, bid: float, ask: float, best_bid: float | None, best_ask: float | None
) -> tuple[Decimal, Decimal]:
    """``bid``/``ask`` on the market's price grid (bid down, ask up), never crossing the touch:
    a maker quote stays at or behind it.

    >>> m = MarketInfo(venue="v", symbol="S", price_step=Decimal("0.5"))
    >>> maker_prices(m, 100.2, 100.3, best_bid=99.5, best_ask=100.0)
    (Decimal('99.5'), Decimal('100.5'))
    """
    bid_price = market.price(bid, "down")
    ask_price = market.price(ask, "up")
    if best_ask is not None and bid_price >= Decimal(str(best_ask)):
        touch = Decimal(str(best_ask))
        bid_price = market.price(touch - market.tick(touch), "down")
    if best_bid is not None and ask_price <= Decimal(str(best_bid)):
        touch = Decimal(str(best_bid))
        ask_price = market.price(touch + market.tick(touch), "up")
    return bid_price, ask_price


class MarketMaker(Strategy):
    """Two-sided quotes around mid with inventory skew, cancel/replace on mid moves."""

    class Params(StrategyParams, frozen=True, kw_only=True):
        """A market maker quotes one symbol on one venue."""

        venue: str
        symbol: str
        amount: Decimal
        """Base quantity of each quote."""
        spread_bps: Annotated[float, Meta(gt=0, le=10_000)] = 20.0
        skew_bps: Bps = 10.0
        max_inventory: Decimal | None = None
        """Largest |inventory| before a side stops quoting (default: 10 x amount)."""
        tolerance_bps: Bps = 3.0
        min_requote_interval: Annotated[float, Meta(ge=0, le=3_600)] = 0.25

        def __post_init__(self) -> None:
            for name in ("amount", "max_inventory"):
                positive(name, getattr(self, name))

    p: Params

    async def setup(self) -> None:
        """Read params; start flat with no quotes."""
        p = self.p
        self.venue: str = p.venue
        self.symbol: str = p.symbol
        self.amount = p.amount
        self.spread_bps = p.spread_bps
        self.skew_bps = p.skew_bps
        self.max_inventory = p.max_inventory if p.max_inventory is not None else p.amount * 10
        self.tolerance_bps = p.tolerance_bps
        self.min_requote = p.min_requote_interval
        self.inventory = Decimal(0)
        self.live: dict[str, Side] = {}
        """Client order ids of our quotes that may still be live, with their side."""
        self.cancelling: set[str] = set()
        self.quoted_mid: float | None = None
        self.last_quote = -1e9
        self.requotes = 0

    async def on_book(self, top: TopOfBook) -> None:
        """Requote when mid moved beyond the tolerance or a side is missing."""
        if top.venue != self.venue or top.symbol != self.symbol or top.stale:
            return
        mid = top.mid
        market = self.market(self.venue, self.symbol)
        if mid is None or market is None:
            return  # nothing to quote around, or the venue's market is not loaded yet
        now = trio.current_time()
        sides = set(self.live.values())
        moved = (
            self.quoted_mid is None or abs(mid - self.quoted_mid) / mid * 1e4 > self.tolerance_bps
        )
        if not moved and len(sides) == 2:
            return
        if now - self.last_quote < self.min_requote:
            return
        self.last_quote = now
        for cid in list(self.live):
            if cid not in self.cancelling:
                self.cancelling.add(cid)
                await self.cancel(cid, "requote")
        bid, ask = mm_quotes(
            mid, self.spread_bps, self.skew_bps, float(self.inventory), float(self.max_inventory)
        )
        bid_price, ask_price = maker_prices(market, bid, ask, top.bid, top.ask)
        self.quoted_mid = mid
        self.requotes += 1
        if self.inventory < self.max_inventory:
            await self._quote(market, "buy", bid_price)
        if self.inventory > -self.max_inventory:
            await self._quote(market, "sell", ask_price)

    async def _quote(self, market: MarketInfo, side: Side, price: Decimal) -> None:
        amount = market.amount(self.amount)
        problem = "amount rounds to 0" if amount <= 0 else market.problem(amount, price)
        if problem:
            self.ctx.log.warning("%s quote not sent: %s", side, problem)
            return
        cid = await self.submit(self.symbol, side, amount, price, venue=self.venue)
        if cid is not None:
            self.live[cid] = side

    async def on_open_orders(self, orders: list[OrderView]) -> None:
        """Quotes left from before a restart become live quotes again: the next requote
        cancels and replaces them like any other."""
        for view in orders:
            if view.symbol == self.symbol and view.venue == self.venue:
                self.live[view.client_order_id] = view.side

    async def on_order_update(self, update: OrderUpdate) -> None:
        """Forget quotes that ended."""
        if update.status in TERMINAL or update.status is OrderStatus.REJECTED:
            self.live.pop(update.client_order_id, None)
            self.cancelling.discard(update.client_order_id)

    async def on_fill(self, fill: Fill) -> None:
        """Track inventory."""
        self.inventory += fill.amount if fill.side == "buy" else -fill.amount
