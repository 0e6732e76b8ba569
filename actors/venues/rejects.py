"""Why the shared core refused something, before any protocol words it.

The matching engine, accounts and trading rules are shared by every protocol, so they cannot
raise Binance's ``-2010`` or OKX's ``51008``: they raise ``Rejected`` with a ``Reason``, and
each protocol's ``errors`` module maps the reason to its own code, message and HTTP status.
"""

from __future__ import annotations

import enum


class Reason(enum.Enum):
    """What was wrong, independent of any wire format."""

    BAD_NUMBER = "not a finite decimal number"
    BAD_PRICE = "price must be > 0"
    BAD_QUANTITY = "quantity must be > 0"
    PRICE_TICK = "price is not a multiple of the tick size"
    PRICE_RANGE = "price outside the allowed range"
    QTY_STEP = "quantity is not a multiple of the step size"
    QTY_RANGE = "quantity outside the allowed range"
    NOTIONAL = "price * quantity outside the allowed range"
    INSUFFICIENT_FUNDS = "insufficient balance"
    DUPLICATE_ORDER = "an open order already uses this client order id"
    UNKNOWN_ORDER = "no such order"
    ORDER_CLOSED = "the order is no longer open"
    WOULD_TAKE = "a post-only order would take liquidity"


class Rejected(Exception):
    """A request the venue refuses, with the offending ``field`` when there is one.

    Example: ``raise Rejected(Reason.QTY_STEP, "quantity")``
    """

    def __init__(self, reason: Reason, field: str = "", detail: str = "") -> None:
        super().__init__(f"{field + ': ' if field else ''}{detail or reason.value}")
        self.reason = reason
        self.field = field
        self.detail = detail
