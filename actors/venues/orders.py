"""Order entry shared by REST and the websocket API: validation, balances, response shapes."""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from actors.venues import errors
from actors.venues.accounts import Account
from actors.venues.engine import BUY, LIMIT, LIMIT_MAKER, MARKET, SELL, Fill, Order
from actors.venues.filters import Market, parse_decimal

if TYPE_CHECKING:
    from actors.venues.server import Venue

ZERO8 = "0.00000000"


def order_json(m: Market, o: Order) -> dict[str, Any]:
    """An order as ``GET /api/v3/order`` returns it."""
    return {
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_id,
        "price": m.price_str(o.price),
        "origQty": m.qty_str(o.qty),
        "executedQty": m.qty_str(o.executed),
        "cummulativeQuoteQty": m.notional_str(o.cum_quote),
        "status": o.status,
        "timeInForce": o.tif,
        "type": o.type,
        "side": o.side,
        "stopPrice": ZERO8,
        "icebergQty": ZERO8,
        "time": o.time_ms,
        "updateTime": o.update_ms,
        "isWorking": o.working,
        "workingTime": o.time_ms,
        "origQuoteOrderQty": m.notional_str(o.quote_qty),
        "selfTradePreventionMode": "NONE",
    }


class OrderService:
    """Place, cancel and query an account's orders on a venue.

    Example: ``venue.orders.place(account, {"symbol": "BTCUSDT", "side": "BUY", ...})``
    """

    def __init__(self, venue: Venue) -> None:
        self.venue = venue

    def market(self, params: Mapping[str, Any]) -> Market:
        """The market named by ``params['symbol']`` or -1121/-1102."""
        sym = params.get("symbol")
        if not sym:
            raise errors.mandatory_param("symbol")
        m = self.venue.engine.markets.get(str(sym).upper())
        if m is None:
            raise errors.invalid_symbol()
        return m

    def place(self, account: Account, p: Mapping[str, Any]) -> dict[str, Any]:
        """Validate, lock funds, match; returns the ACK/RESULT/FULL response."""
        observer = self.venue.on_order_received
        if observer is not None:
            # First thing, before validation: "the venue received the order" (benchmarks).
            cid = p.get("newClientOrderId")
            observer(account.api_key, None if cid in (None, "") else str(cid), time.perf_counter())
        m = self.market(p)
        side = str(p.get("side", "")).upper()
        if not side:
            raise errors.mandatory_param("side")
        if side not in (BUY, SELL):
            raise errors.BinanceError(400, -1117, "Invalid side.")
        otype = str(p.get("type", "")).upper()
        if not otype:
            raise errors.mandatory_param("type")
        if otype not in (LIMIT, MARKET, LIMIT_MAKER):
            raise errors.BinanceError(400, -1116, "Invalid orderType.")
        tif = str(p.get("timeInForce", "GTC" if otype != LIMIT else "")).upper()
        if otype == LIMIT and not tif:
            raise errors.mandatory_param("timeInForce")
        if tif not in ("GTC", "IOC", "FOK"):
            raise errors.BinanceError(400, -1115, "Invalid timeInForce.")
        engine = self.venue.engine
        client_id = str(p.get("newClientOrderId") or f"sim{engine._ids.order}")
        existing = engine.client_ids.get((account.api_key, m.id, client_id))
        if existing is not None and existing.order_id in engine.live:
            raise errors.duplicate_order()
        price = 0
        qty = 0
        quote_qty = 0
        if otype in (LIMIT, LIMIT_MAKER):
            if p.get("price") in (None, ""):
                raise errors.mandatory_param("price")
            if p.get("quantity") in (None, ""):
                raise errors.mandatory_param("quantity")
            price = m.check_price(p["price"])
            qty = m.check_qty(p["quantity"])
            m.check_notional(price, qty)
        elif p.get("quoteOrderQty") not in (None, ""):
            if side != BUY:
                raise errors.BinanceError(400, -1128, "Combination of optional parameters invalid.")
            q = parse_decimal(p["quoteOrderQty"], "quoteOrderQty")
            if q < m.min_notional:
                raise errors.filter_failure("NOTIONAL")
            quote_qty = int(q.scaleb(m.pd + m.qd))
            qty = m.max_qty
        else:
            if p.get("quantity") in (None, ""):
                raise errors.mandatory_param("quantity")
            qty = m.check_qty(p["quantity"])
        order = engine.new_order(
            symbol=m.id,
            side=side,
            type=otype,
            tif=tif if otype != MARKET else "GTC",
            price=price,
            qty=qty,
            account=account.api_key,
            client_id=client_id,
            quote_qty=quote_qty,
        )
        book = engine.books[m.id]
        if otype == LIMIT_MAKER:
            top = book.best_ask() if side == BUY else book.best_bid()
            if top is not None and (price >= top.price if side == BUY else price <= top.price):
                raise errors.BinanceError(400, -2010, "Order would immediately match and take.")
        self._reserve(account, m, order)
        self.venue.ratelimiter.charge_order()
        fills = engine.submit(order)
        self.venue.flush_user_events()
        resp_type = str(p.get("newOrderRespType", "FULL")).upper()
        return self._response(m, order, fills, resp_type)

    def _reserve(self, account: Account, m: Market, o: Order) -> None:
        book = self.venue.engine.books[m.id]
        if o.type != MARKET:
            if o.is_buy:
                account.lock(m.quote, m.notional_dec(o.price * o.qty))
            else:
                account.lock(m.base, m.qty_dec(o.qty))
        elif o.is_buy:
            if o.quote_qty:
                need = m.notional_dec(o.quote_qty)
            else:
                _, cost = book.sweep_cost(o.qty)
                need = m.notional_dec(cost)
            if need > account.free[m.quote]:
                raise errors.insufficient_balance()
        elif m.qty_dec(o.qty) > account.free[m.base]:
            raise errors.insufficient_balance()

    def _response(self, m: Market, o: Order, fills: list[Fill], resp_type: str) -> dict[str, Any]:
        ack: dict[str, Any] = {
            "symbol": o.symbol,
            "orderId": o.order_id,
            "orderListId": -1,
            "clientOrderId": o.client_id,
            "transactTime": o.update_ms,
        }
        if resp_type == "ACK":
            return ack
        ack.update(
            {
                "price": m.price_str(o.price),
                "origQty": m.qty_str(o.qty),
                "executedQty": m.qty_str(o.executed),
                "origQuoteOrderQty": m.notional_str(o.quote_qty),
                "cummulativeQuoteQty": m.notional_str(o.cum_quote),
                "status": o.status,
                "timeInForce": o.tif,
                "type": o.type,
                "side": o.side,
                "workingTime": o.time_ms if o.working else -1,
                "selfTradePreventionMode": "NONE",
            }
        )
        if resp_type == "FULL":
            ack["fills"] = [
                {
                    "price": m.price_str(f.price),
                    "qty": m.qty_str(f.qty),
                    "commission": f"{self.venue.commission(f, o)[0]:.8f}",
                    "commissionAsset": self.venue.commission(f, o)[1],
                    "tradeId": f.trade_id,
                }
                for f in fills
            ]
        return ack

    def find(self, account: Account, p: Mapping[str, Any], cancel: bool) -> tuple[Market, Order]:
        """Look up by ``orderId`` or ``origClientOrderId``; -2011 (cancel) or -2013."""
        m = self.market(p)
        raw_id = p.get("orderId")
        client_id = p.get("origClientOrderId")
        if raw_id in (None, "") and client_id in (None, ""):
            raise errors.BinanceError(
                400,
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        order_id = None
        if raw_id not in (None, ""):
            try:
                order_id = int(str(raw_id))
            except ValueError:
                raise errors.illegal_chars("orderId") from None
        o = self.venue.engine.find(
            account.api_key, m.id, order_id, None if client_id in (None, "") else str(client_id)
        )
        if o is None:
            raise errors.unknown_order_cancel() if cancel else errors.order_does_not_exist()
        return m, o

    def cancel(self, account: Account, p: Mapping[str, Any]) -> dict[str, Any]:
        """Cancel one working order; -2011 if unknown or no longer working."""
        m, o = self.find(account, p, cancel=True)
        if o.order_id not in self.venue.engine.live:
            raise errors.unknown_order_cancel()
        self.venue.engine.cancel(o)
        self.venue.flush_user_events()
        return self._cancel_json(m, o, str(p.get("newClientOrderId") or f"cancel{o.order_id}"))

    def _cancel_json(self, m: Market, o: Order, new_client_id: str) -> dict[str, Any]:
        body = order_json(m, o)
        for k in ("stopPrice", "icebergQty", "time", "updateTime", "isWorking", "workingTime"):
            body.pop(k, None)
        body["origClientOrderId"] = o.client_id
        body["clientOrderId"] = new_client_id
        body["transactTime"] = o.update_ms
        return body

    def cancel_all(self, account: Account, p: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Cancel every working order of the account on one symbol."""
        m = self.market(p)
        result = []
        for o in self.venue.engine.open_orders(account.api_key, m.id):
            self.venue.engine.cancel(o)
            result.append(self._cancel_json(m, o, f"cancel{o.order_id}"))
        self.venue.flush_user_events()
        return result

    def query(self, account: Account, p: Mapping[str, Any]) -> dict[str, Any]:
        """One order by id or client id."""
        m, o = self.find(account, p, cancel=False)
        return order_json(m, o)

    def open_orders(self, account: Account, p: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Working orders, of one symbol if given."""
        sym = None
        if p.get("symbol"):
            sym = self.market(p).id
        engine = self.venue.engine
        return [
            order_json(engine.markets[o.symbol], o)
            for o in engine.open_orders(account.api_key, sym)
        ]

    def all_orders(self, account: Account, p: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every order of the account on one symbol, oldest first."""
        m = self.market(p)
        engine = self.venue.engine
        limit = int(str(p.get("limit", 500)))
        orders = [
            o
            for o in engine.account_orders.values()
            if o.account == account.api_key and o.symbol == m.id
        ]
        return [order_json(m, o) for o in orders[-limit:]]

    def my_trades(self, account: Account, p: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The account's fills on one symbol, oldest first."""
        m = self.market(p)
        limit = min(int(str(p.get("limit", 500))), 1000)
        rows = [t for t in self.venue.user_trades.get(account.api_key, []) if t["symbol"] == m.id]
        return rows[-limit:]

    def account_json(self, account: Account) -> dict[str, Any]:
        """``GET /api/v3/account``."""
        cfg = self.venue.config
        maker = cfg.maker_fee
        taker = cfg.taker_fee
        return {
            "makerCommission": int(maker * Decimal(10000)),
            "takerCommission": int(taker * Decimal(10000)),
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": f"{maker:.8f}",
                "taker": f"{taker:.8f}",
                "buyer": ZERO8,
                "seller": ZERO8,
            },
            "canTrade": True,
            "canWithdraw": False,
            "canDeposit": False,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": account.update_ms,
            "accountType": "SPOT",
            "balances": account.balances(),
            "permissions": ["SPOT"],
            "uid": account.uid,
        }
