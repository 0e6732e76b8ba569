"""OKX's rate limits: a request budget per endpoint per 2-second window, answered with 429.

OKX limits each endpoint separately ("60 requests per 2 seconds" for placing orders, "20 per
2 seconds" for instruments...); over it, HTTP 429 with code ``50011``. There is no ban. The
injected answers of ``Faults.rate_limit_next`` (429, and Binance's 418 which OKX does not
have) are both answered as OKX's 429.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from actors.venues.okx import errors

if TYPE_CHECKING:
    from actors.venues.faults import Faults

WINDOW_S = 2.0
DEFAULT_LIMIT = 20
LIMITS: dict[str, int] = {
    "public/time": 10,
    "public/instruments": 20,
    "market/books": 40,
    "market/books-full": 10,
    "market/ticker": 20,
    "market/tickers": 20,
    "market/trades": 100,
    "market/history-trades": 20,
    "market/candles": 40,
    "market/history-candles": 20,
    "asset/currencies": 6,
    "account/balance": 10,
    "account/config": 5,
    "account/trade-fee": 5,
    "trade/order": 60,
    "trade/batch-orders": 300,
    "trade/cancel-order": 60,
    "trade/cancel-batch-orders": 300,
    "trade/amend-order": 60,
    "trade/amend-batch-orders": 300,
    "trade/orders-pending": 60,
    "trade/orders-history": 40,
    "trade/orders-history-archive": 20,
    "trade/fills": 60,
    "trade/fills-history": 10,
    "ws/order": 60,
    "ws/batch-orders": 300,
    "ws/cancel-order": 60,
    "ws/batch-cancel-orders": 300,
    "ws/amend-order": 60,
    "ws/batch-amend-orders": 300,
}
"""Requests per 2 s by endpoint (OKX's documented figures; batch endpoints count orders)."""


class RateLimiter:
    """Fixed 2-second windows per endpoint.

    Example: ``rl = RateLimiter(trio.current_time, scale=1.0); rl.charge("trade/order")``
    """

    def __init__(
        self, clock: Callable[[], float], scale: float = 1.0, faults: Faults | None = None
    ) -> None:
        self.clock = clock
        self.scale = scale
        self.faults = faults
        self._window = -1
        self.used: dict[str, int] = {}

    def limit(self, endpoint: str) -> int:
        """Requests per window allowed on ``endpoint``."""
        return max(1, int(LIMITS.get(endpoint, DEFAULT_LIMIT) * self.scale))

    def charge(self, endpoint: str, cost: int = 1, *, forced: bool = True) -> None:
        """Count ``cost`` requests on ``endpoint`` or raise OKX's 429 (``forced``: injected
        answers apply, as they do to REST requests)."""
        if forced and self.faults is not None and self.faults.take_forced() is not None:
            raise errors.too_many_requests()
        window = int(self.clock() // WINDOW_S)
        if window != self._window:
            self._window = window
            self.used = {}
        used = self.used.get(endpoint, 0) + cost
        if used > self.limit(endpoint):
            raise errors.too_many_requests()
        self.used[endpoint] = used
