"""OKX v5: what ccxt's ``okx`` class leaves to the caller.

* Client ids (``clOrdId``): letters and digits only, 1 to 32 characters.
* Keep-alive is text: ccxt sends ``ping``, OKX answers ``pong`` (not JSON).
* ``authenticate()`` logs in on the private websocket and returns once OKX answered.
* Fills (``trade/fills-history``) filter by ``ordId`` and page backwards by ``billId``
  (``after``), 100 a page.
* Self-trade prevention is always on at OKX (``stpMode``, ``cancel_maker`` by default);
  ccxt maps its unified ``selfTradePrevention`` onto it.
* Codes: 501xx refuse the request's key, passphrase or signature (50100: API key frozen,
  50101: a demo-trading key on the live site or the reverse), 600xx the websocket login;
  50102/60006: timestamp expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.trading.dialects import UNIFIED_SELF_TRADE, ClientIdRules, Dialect


@dataclass(frozen=True)
class OkxDialect(Dialect):
    """OKX v5 spot."""

    def trade_params(self, venue_order_id: str | None) -> dict[str, Any]:
        """Fills of one order: ``ordId``."""
        return {} if venue_order_id is None else {"ordId": venue_order_id}

    def next_trade_page(
        self, params: dict[str, Any], page: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """The fills older than the page's oldest ``billId`` (``after``)."""
        bills = [
            int(bill)
            for t in page
            if str(bill := (t.get("info") or {}).get("billId", "")).isdigit()
        ]
        return {**params, "after": str(min(bills))} if bills else None


DIALECT = OkxDialect(
    exchange="okx",
    client_ids=ClientIdRules(32, "[A-Za-z0-9]"),
    self_trade=UNIFIED_SELF_TRADE,
    auth_codes=frozenset(
        {"50100", "50101", "50103", "50104", "50105", "50106", "50107", "50110", "50111"}
        | {"50112", "50113", "50114", "60001", "60002", "60003", "60004", "60005", "60007"}
        | {"60009", "60011"}
    ),
    clock_codes=frozenset({"50102", "60006"}),
    confirm_private=True,
    trades_page=100,
    text_frames=frozenset({"pong"}),
)
