"""Request weights per endpoint, per-minute weight and 10 s order counters, 429 then 418."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from actors.venues.binance import errors

if TYPE_CHECKING:
    from actors.venues.faults import Faults

# Binance spot request weights (https://developers.binance.com/docs/binance-spot-api-docs/rest-api)
WEIGHTS: dict[tuple[str, str], int] = {
    ("GET", "ping"): 1,
    ("GET", "time"): 1,
    ("GET", "exchangeInfo"): 20,
    ("GET", "trades"): 25,
    ("GET", "aggTrades"): 4,
    ("GET", "ticker/bookTicker"): 2,
    ("GET", "order"): 4,
    ("POST", "order"): 1,
    ("DELETE", "order"): 1,
    ("GET", "openOrders"): 6,
    ("DELETE", "openOrders"): 1,
    ("GET", "account"): 20,
    ("GET", "myTrades"): 20,
    ("GET", "avgPrice"): 2,
    ("GET", "klines"): 2,
    ("GET", "uiKlines"): 2,
    ("POST", "userDataStream"): 2,
    ("PUT", "userDataStream"): 2,
    ("DELETE", "userDataStream"): 2,
}


def depth_weight(limit: int) -> int:
    """Weight of ``/depth`` by limit, as Binance charges it."""
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


def ticker_weight(has_symbol: bool) -> int:
    """Weight of ``/ticker/24hr``: 2 for one symbol, 80 for all."""
    return 2 if has_symbol else 80


class RateLimiter:
    """Binance's IP weight limit (fixed 1-minute windows) with escalation to a 418 ban.

    Example: ``rl = RateLimiter(6000, 50, clock=trio.current_time, now_ms=venue.now_ms)``
    """

    def __init__(
        self,
        weight_limit: int,
        order_limit_10s: int,
        clock: Callable[[], float],
        now_ms: Callable[[], int],
        ban_after_429s: int = 3,
        ban_seconds: float = 10.0,
        faults: Faults | None = None,
    ) -> None:
        self.weight_limit = weight_limit
        self.order_limit = order_limit_10s
        self.clock = clock
        self.now_ms = now_ms
        self.ban_after = ban_after_429s
        self.ban_seconds = ban_seconds
        self._minute = -1
        self.used = 0
        self._ten = -1
        self.orders_10s = 0
        self.orders_1d = 0
        self._429s = 0
        self.banned_until = 0.0
        self.faults = faults
        """Injected answers come from ``faults.take_forced()``: 429, 418 or None."""

    def _roll(self) -> float:
        now = self.clock()
        minute = int(now // 60)
        if minute != self._minute:
            self._minute = minute
            self.used = 0
            self._429s = 0
        ten = int(now // 10)
        if ten != self._ten:
            self._ten = ten
            self.orders_10s = 0
        return now

    def charge(self, weight: int) -> None:
        """Account one request of ``weight`` or raise 429/418 as Binance would."""
        now = self._roll()
        forced = self.faults.take_forced() if self.faults is not None else None
        if forced is not None:
            assert self.faults is not None
            retry = self.faults.forced_retry_after
            if forced == 429:
                raise errors.too_much_weight(self.weight_limit, retry)
            raise errors.banned(self.now_ms() + retry * 1000, retry)
        if now < self.banned_until:
            retry = math.ceil(self.banned_until - now)
            raise errors.banned(self.now_ms() + retry * 1000, retry)
        if self.used + weight > self.weight_limit:
            self._429s += 1
            if self._429s > self.ban_after:
                self.banned_until = now + self.ban_seconds
                retry = math.ceil(self.ban_seconds)
                raise errors.banned(self.now_ms() + retry * 1000, retry)
            raise errors.too_much_weight(self.weight_limit, math.ceil(60 - now % 60))
        self.used += weight

    def charge_order(self) -> None:
        """Count one new order against the 10-second order limit."""
        self._roll()
        if self.orders_10s + 1 > self.order_limit:
            raise errors.too_many_orders(self.order_limit)
        self.orders_10s += 1
        self.orders_1d += 1

    def headers(self, include_orders: bool = False) -> dict[str, str]:
        """Usage headers Binance returns on every REST response."""
        h = {"x-mbx-used-weight": str(self.used), "x-mbx-used-weight-1m": str(self.used)}
        if include_orders:
            h["x-mbx-order-count-10s"] = str(self.orders_10s)
            h["x-mbx-order-count-1d"] = str(self.orders_1d)
        return h
