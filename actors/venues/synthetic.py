"""Synthetic participants around a seeded fair value; correlated fair values across venues.

Makers quote a deep book (tens of levels each side, replenished so neither side runs dry) at
random distances from fair value; takers send IOC limit orders that never reach further than
``taker_band_bps`` from fair value, so they cannot sweep a side to absurd prices and a resting
order placed away from the touch stays resting while fair value holds. Hand-written: this is
the venue's own order flow, and tests depend on its determinism (same seed, same market).
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import AsyncIterator
from decimal import Decimal

import trio

from actors.venues.config import SymbolSpec
from actors.venues.engine import BUY, LIMIT, SELL, Engine

STEP_S = 0.02
MAX_EVENTS_PER_STEP = 5000
"""Events per symbol per step at most (250k/s); beyond it the rate is not kept up."""
CHUNK_EVENTS = 200
"""The market loop yields to trio after this many events per symbol, so a high rate never
holds the loop for long (the control endpoint, signals and clients stay responsive)."""


class FairValueModel:
    """Fair values per (venue, symbol): a shared seeded random walk plus per-venue deviations.

    Each venue's deviation mean-reverts (Ornstein-Uhlenbeck) and now and then jumps, so two
    venues drift apart and converge again: the cross-venue opportunities. Values are a pure
    function of (seed, step), computed lazily, so who asks first never changes the market.

    Example: ``m = FairValueModel(seed=1, specs=[spec], venues=2); m.value(0, "BTC/USDT", 10)``
    """

    def __init__(
        self,
        seed: int,
        specs: list[SymbolSpec],
        venues: int = 1,
        step_s: float = STEP_S,
        divergence_bps: float = 8.0,
        jump_per_s: float = 0.05,
        jump_bps: float = 30.0,
        history: int = 4096,
    ) -> None:
        self.rng = random.Random(seed)
        self.specs = {s.symbol: s for s in specs}
        self.symbols = [s.symbol for s in specs]
        self.venues = venues
        self.step_s = step_s
        self._theta = 0.5
        self._dev_sigma = divergence_bps / 1e4 * math.sqrt(2 * self._theta)
        self._jump_p = jump_per_s * step_s
        self._jump = jump_bps / 1e4
        self._log = {s.symbol: math.log(float(s.price)) for s in specs}
        self._dev = [dict.fromkeys(self.symbols, 0.0) for _ in range(venues)]
        self._step = 0
        self._history: deque[list[dict[str, float]]] = deque(maxlen=history)
        self._history.append(self._values())

    def _values(self) -> list[dict[str, float]]:
        return [
            {s: math.exp(self._log[s] + self._dev[v][s]) for s in self.symbols}
            for v in range(self.venues)
        ]

    def _advance(self) -> None:
        rng = self.rng
        sq = math.sqrt(self.step_s)
        for s in self.symbols:
            spec = self.specs[s]
            self._log[s] += spec.vol_bps_per_sqrt_s / 1e4 * sq * rng.gauss(0.0, 1.0)
            for v in range(self.venues):
                d = self._dev[v][s]
                d += -self._theta * d * self.step_s + self._dev_sigma * sq * rng.gauss(0.0, 1.0)
                if self.venues > 1 and rng.random() < self._jump_p:
                    d += self._jump * (1 if rng.random() < 0.5 else -1)
                self._dev[v][s] = d
        self._step += 1
        self._history.append(self._values())

    def value(self, venue: int, symbol: str, step: int) -> float:
        """Fair value of ``symbol`` on venue ``venue`` at model step ``step``."""
        while self._step < step:
            self._advance()
        oldest = self._step - len(self._history) + 1
        idx = max(step, oldest) - oldest
        return self._history[idx][venue][symbol]


class _Resting:
    """Synthetic order ids of one side with O(1) random removal."""

    __slots__ = ("ids",)

    def __init__(self) -> None:
        self.ids: list[int] = []

    def pop_random(self, rng: random.Random) -> int:
        i = rng.randrange(len(self.ids))
        self.ids[i], self.ids[-1] = self.ids[-1], self.ids[i]
        return self.ids.pop()


class _Symbol:
    """Per-symbol constants and resting ids, so an event does no lookups by name."""

    __slots__ = ("asks", "band", "bids", "depth", "m", "maker_base", "scale", "spec")

    def __init__(self, spec: SymbolSpec, engine: Engine) -> None:
        self.spec = spec
        self.m = m = engine.markets[spec.market_id]
        self.scale = 10**m.pd / m.tick
        self.maker_base = float(spec.maker_qty * Decimal(10) ** m.qd)
        self.depth = spec.depth_bps
        self.band = spec.taker_band_bps / 1e4
        self.bids = _Resting()
        self.asks = _Resting()


class SyntheticMarket:
    """Makers and takers trading on one venue's engine at ``rate_hz`` book events per symbol.

    Example: ``nursery.start_soon(SyntheticMarket(engine, specs, model, 0, seed, 50.0).run)``
    """

    def __init__(
        self,
        engine: Engine,
        specs: list[SymbolSpec],
        model: FairValueModel,
        venue_index: int,
        seed: int,
        rate_hz: float,
        max_resting_per_side: int = 150,
    ) -> None:
        self.engine = engine
        self.specs = specs
        self.model = model
        self.venue_index = venue_index
        self.rng = random.Random(f"{seed}:{venue_index}")
        self.rate_hz = rate_hz
        self.max_resting = max_resting_per_side
        self.min_resting = max(10, max_resting_per_side // 3)
        self.paused = False
        self.step = 0
        self.events = 0
        self._carry = 0.0
        self._symbols = [_Symbol(s, engine) for s in specs]
        self._by_name = {sym.spec.symbol: sym for sym in self._symbols}
        self._fair: dict[str, float] = {}
        self._fair_step = -1

    def seed_books(self, per_side: int | None = None) -> None:
        """Fill every book with resting maker orders before the venue opens."""
        n = per_side if per_side is not None else (self.min_resting + self.max_resting) // 2
        for sym in self._symbols:
            for _ in range(n):
                self._maker(sym, BUY)
                self._maker(sym, SELL)

    def fair(self, spec: SymbolSpec) -> float:
        """Current fair value of ``spec``'s symbol on this venue."""
        if self._fair_step != self.step:
            self._fair = {}
            self._fair_step = self.step
        value = self._fair.get(spec.symbol)
        if value is None:
            value = self._fair[spec.symbol] = self.model.value(
                self.venue_index, spec.symbol, self.step
            )
        return value

    def _price(self, sym: _Symbol, side: str, dist: float) -> int:
        """Price units ``dist`` (a fraction) below (bids) or above (asks) fair, on the tick."""
        m = sym.m
        fair = self.fair(sym.spec)
        if side == BUY:
            price = math.floor(fair * (1 - dist) * sym.scale) * m.tick
        else:
            price = math.ceil(fair * (1 + dist) * sym.scale) * m.tick
        return min(max(price, m.min_price), m.max_price)

    def _maker(self, sym: _Symbol, side: str) -> None:
        # half a bp off fair plus an exponential distance, capped: tens of levels per side
        dist = (0.5 + min(self.rng.expovariate(1.0 / sym.depth), 8 * sym.depth)) / 1e4
        order = self.engine.new_order(
            symbol=sym.m.id,
            side=side,
            type=LIMIT,
            tif="GTC",
            price=self._price(sym, side, dist),
            qty=self._qty(sym, 0.2, 2.0),
        )
        self.engine.submit(order)
        if order.working:
            (sym.bids if side == BUY else sym.asks).ids.append(order.order_id)

    def _qty(self, sym: _Symbol, lo: float, hi: float) -> int:
        m = sym.m
        units = int(sym.maker_base * self.rng.uniform(lo, hi))
        return max(m.min_qty, units - units % m.step)

    def _cancel(self, resting: _Resting) -> bool:
        live = self.engine.live
        while resting.ids:
            order = live.get(resting.pop_random(self.rng))
            if order is not None:
                self.engine.cancel(order)
                return True
        return False

    def _taker(self, sym: _Symbol) -> None:
        """An IOC limit order at most ``taker_band_bps`` through fair value."""
        side = BUY if self.rng.random() < 0.5 else SELL
        # a buy may pay up to fair*(1+band): the mirror image of a maker's ask distance
        price = self._price(sym, SELL if side == BUY else BUY, sym.band)
        order = self.engine.new_order(
            symbol=sym.m.id,
            side=side,
            type=LIMIT,
            tif="IOC",
            price=price,
            qty=self._qty(sym, 0.1, 1.0),
        )
        self.engine.submit(order)

    def _prune(self, sym: _Symbol) -> None:
        """Forget ids of orders that filled, so counts mean what is on the book."""
        live = self.engine.live
        for resting in (sym.bids, sym.asks):
            resting.ids = [i for i in resting.ids if i in live]

    def event(self, spec: SymbolSpec) -> None:
        """One synthetic action on ``spec``'s book: quote, cancel or take."""
        self._event(self._by_name[spec.symbol])

    def _event(self, sym: _Symbol) -> None:
        if self.events % 64 == 0:
            self._prune(sym)
        bids, asks = sym.bids, sym.asks
        if len(bids.ids) > self.max_resting and self._cancel(bids):
            return
        if len(asks.ids) > self.max_resting and self._cancel(asks):
            return
        # replenish a thin side first: neither side of the book runs dry
        if len(bids.ids) < self.min_resting:
            self._maker(sym, BUY)
            return
        if len(asks.ids) < self.min_resting:
            self._maker(sym, SELL)
            return
        rng = self.rng
        r = rng.random()
        if r < 0.45:
            self._maker(sym, BUY if rng.random() < 0.5 else SELL)
        elif r < 0.85:
            if not self._cancel(bids if rng.random() < 0.5 else asks):
                self._maker(sym, BUY if rng.random() < 0.5 else SELL)
        else:
            self._taker(sym)

    def begin_step(self) -> int:
        """Advance one model step; returns this step's events per symbol (0 when paused)."""
        self.step += 1
        if self.paused:
            return 0
        want = self.rate_hz * self.model.step_s + self._carry
        n = int(want)
        self._carry = want - n
        if n > MAX_EVENTS_PER_STEP:
            n = MAX_EVENTS_PER_STEP
            self._carry = 0.0
        return n

    def run_events(self, n: int) -> None:
        """Perform ``n`` events on every symbol."""
        symbols = self._symbols
        for _ in range(n):
            for sym in symbols:
                self._event(sym)
            self.events += len(symbols)

    def run_step(self) -> None:
        """Advance one model step and perform this step's share of events at once."""
        self.run_events(self.begin_step())

    async def run_step_chunked(self) -> None:
        """``run_step`` yielding to trio every ``CHUNK_EVENTS`` events per symbol."""
        n = self.begin_step()
        while n > 0:
            k = min(n, CHUNK_EVENTS)
            self.run_events(k)
            n -= k
            if n:
                await trio.lowlevel.checkpoint()

    async def run(self) -> None:
        """Run forever on trio's clock, in fixed steps so the same seed gives the same market."""
        async for _ in ticks(self.model.step_s):
            await self.run_step_chunked()


async def ticks(interval: float) -> AsyncIterator[None]:
    """Yield every ``interval`` seconds on trio's clock, at fixed deadlines.

    Far behind (a stalled machine), it skips ahead instead of bursting to catch up.
    """
    deadline = trio.current_time()
    while True:
        deadline += interval
        now = trio.current_time()
        if deadline < now - 1.0:
            deadline = now
        await trio.sleep_until(deadline)
        yield
