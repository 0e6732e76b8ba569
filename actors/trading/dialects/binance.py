"""Binance spot: what ccxt's ``binance`` class leaves to the caller.

* Client ids (``newClientOrderId``): up to 36 of ``[.A-Z:/a-z0-9_-]``.
* ``authenticate()`` subscribes the user-data stream over the websocket API and returns once
  Binance confirmed it.
* ``watch_ticker`` takes the mini ticker (no best bid/ask) unless asked for ``ticker``.
* ``openOrders`` without a symbol returns every open order of the account (weight 80
  against 6 a symbol), used by reconciliations over several symbols.
* ``myTrades`` filters by ``orderId`` and pages forward by trade id (``fromId``), 1000 a page.
* -2015/-2014/-1022: keys or signature refused; -1021: timestamp outside ``recvWindow``
  (ccxt files -1021/-1022 under ``BadRequest`` for some APIs, hence the codes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.trading.dialects import UNIFIED_SELF_TRADE, ClientIdRules, Dialect


@dataclass(frozen=True)
class BinanceDialect(Dialect):
    """Binance spot (also ``binanceus``)."""

    def trade_params(self, venue_order_id: str | None) -> dict[str, Any]:
        """Trades of one order: ``orderId``."""
        return {} if venue_order_id is None else {"orderId": venue_order_id}

    def next_trade_page(
        self, params: dict[str, Any], page: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """The trades after the page's highest id (``fromId``)."""
        ids = [int(t["id"]) for t in page if str(t.get("id", "")).isdigit()]
        return {**params, "fromId": max(ids) + 1} if ids else None


DIALECT = BinanceDialect(
    exchange="binance",
    client_ids=ClientIdRules(36, r"[.A-Z:/a-z0-9_-]"),
    ticker_params={"name": "ticker"},
    self_trade=UNIFIED_SELF_TRADE,
    auth_codes=frozenset({"-2015", "-2014", "-1022"}),
    clock_codes=frozenset({"-1021"}),
    confirm_private=True,
    trades_page=1000,
    open_orders_at_once=True,
)
