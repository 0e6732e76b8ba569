"""Binance order entry (REST and ws-api share it): parameters, responses, trade history."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from actors.venues.accounts import Account
from actors.venues.binance import errors
from actors.venues.binance.market_data import avg_price
from actors.venues.engine import BUY, LIMIT, LIMIT_MAKER, MARKET, SELL, STP_MODES, Fill, Order
from actors.venues.rejects import Rejected
from actors.venues.rules import Market, parse_decimal

if TYPE_CHECKING:
    from actors.venues.binance import BinanceProtocol
    from actors.venues.server import UserFill

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
        "selfTradePreventionMode": o.stp,
        **_prevention(m, o),
    }


def _prevention(m: Market, o: Order) -> dict[str, Any]:
    """Binance's extra fields of an order expired by self-trade prevention."""
    if o.prevented_match_id < 0:
        return {}
    return {
        "preventedMatchId": o.prevented_match_id,
        "preventedQuantity": m.qty_str(o.prevented_qty),
    }


def trade_json(m: Market, uf: UserFill) -> dict[str, Any]:
    """One account fill as ``GET /api/v3/myTrades`` returns it."""
    f = uf.fill
    return {
        "symbol": m.id,
        "id": f.trade_id,
        "orderId": uf.order.order_id,
        "orderListId": -1,
        "price": m.price_str(f.price),
        "qty": m.qty_str(f.qty),
        "quoteQty": m.notional_str(f.qty * f.price),
        "commission": f"{uf.fee:.8f}",
        "commissionAsset": uf.fee_asset,
        "time": f.time_ms,
        "isBuyer": uf.order.is_buy,
        "isMaker": uf.is_maker,
        "isBestMatch": True,
    }


def _int(p: Mapping[str, Any], name: str) -> int | None:
    raw = p.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(str(raw))
    except ValueError:
        raise errors.illegal_chars(name) from None


class OrderService:
    """Place, cancel and query an account's orders with Binance's parameters.

    Example: ``venue.orders.place(account, {"symbol": "BTCUSDT", "side": "BUY", ...})``
    """

    def __init__(self, protocol: BinanceProtocol) -> None:
        self.protocol = protocol
        self.venue = protocol.venue

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
        # first thing, before validation: "the venue received the order" (benchmarks)
        self.venue.entry.received(account.api_key, p.get("newClientOrderId"))
        try:
            return self._place(account, p)
        except Rejected as r:
            raise errors.from_reject(r) from None

    def _place(self, account: Account, p: Mapping[str, Any]) -> dict[str, Any]:
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
        stp = str(p.get("selfTradePreventionMode") or self.venue.config.default_stp).upper()
        if stp not in STP_MODES:
            raise errors.BinanceError(
                400, -1013, f"Invalid selfTradePreventionMode; allowed: {', '.join(STP_MODES)}."
            )
        engine = self.venue.engine
        client_id = str(p.get("newClientOrderId") or f"sim{engine._ids.order}")
        price = qty = quote_qty = 0
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
            # NOTIONAL with applyMinToMarket: Binance values a MARKET order at the average
            # price of the last avgPriceMins minutes
            avg = avg_price(self.venue, m)
            if avg and m.qty_dec(qty) * m.price_dec(avg) < m.min_notional:
                raise errors.filter_failure("NOTIONAL")
        self.protocol.ratelimiter.charge_order()
        order, fills = self.venue.entry.place(
            account,
            m,
            side=side,
            type=otype,
            tif=tif,
            price=price,
            qty=qty,
            quote_qty=quote_qty,
            client_id=client_id,
            stp=stp,
        )
        resp_type = str(p.get("newOrderRespType", "FULL")).upper()
        return self._response(m, order, fills, resp_type)

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
                "selfTradePreventionMode": o.stp,
                **_prevention(m, o),
            }
        )
        if resp_type == "FULL":
            rows = []
            for f in fills:
                fee, fee_asset = self.venue.commission(f, o)
                rows.append(
                    {
                        "price": m.price_str(f.price),
                        "qty": m.qty_str(f.qty),
                        "commission": f"{fee:.8f}",
                        "commissionAsset": fee_asset,
                        "tradeId": f.trade_id,
                    }
                )
            ack["fills"] = rows
        return ack

    def find(self, account: Account, p: Mapping[str, Any], cancel: bool) -> tuple[Market, Order]:
        """Look up by ``orderId`` or ``origClientOrderId``; -2011 (cancel) or -2013."""
        m = self.market(p)
        order_id = _int(p, "orderId")
        client_id = p.get("origClientOrderId")
        if order_id is None and client_id in (None, ""):
            raise errors.BinanceError(
                400,
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        cid = None if client_id in (None, "") else str(client_id)
        try:
            return m, self.venue.entry.find(account, m, order_id, cid)
        except Rejected as r:
            raise errors.from_reject(r, cancel=cancel) from None

    def cancel(self, account: Account, p: Mapping[str, Any]) -> dict[str, Any]:
        """Cancel one working order; -2011 if unknown or no longer working.

        The cancel request's own ``newClientOrderId`` (or a generated one) becomes the
        order's ``clientOrderId`` in the reply and ``c`` of the ``executionReport``; the
        original id is ``origClientOrderId`` / ``C``, as on Binance.
        """
        m, o = self.find(account, p, cancel=True)
        cancel_id = str(p.get("newClientOrderId") or f"cancel{o.order_id}")
        try:
            self.venue.entry.cancel(o, cancel_id)
        except Rejected as r:
            raise errors.from_reject(r, cancel=True) from None
        return self._cancel_json(m, o, cancel_id)

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
            cancel_id = f"cancel{o.order_id}"
            self.venue.engine.cancel(o, cancel_id)
            result.append(self._cancel_json(m, o, cancel_id))
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
        limit = _int(p, "limit") or 500
        orders = [
            o
            for o in engine.account_orders.values()
            if o.account == account.api_key and o.symbol == m.id
        ]
        return [order_json(m, o) for o in orders[-limit:]]

    def my_trades(self, account: Account, p: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The account's fills on one symbol, oldest first: by ``orderId``, from ``fromId``,
        within ``startTime``..``endTime``, at most ``limit`` (500, max 1000)."""
        m = self.market(p)
        limit = max(1, min(_int(p, "limit") or 500, 1000))
        order_id, from_id = _int(p, "orderId"), _int(p, "fromId")
        start, end = _int(p, "startTime"), _int(p, "endTime")
        rows = [
            uf
            for uf in self.venue.user_fills.get(account.api_key, [])
            if uf.fill.symbol == m.id
            and (order_id is None or uf.order.order_id == order_id)
            and (from_id is None or uf.fill.trade_id >= from_id)
            and (start is None or uf.fill.time_ms >= start)
            and (end is None or uf.fill.time_ms <= end)
        ]
        # fromId pages forward from an id; otherwise Binance returns the most recent trades
        picked = rows[:limit] if from_id is not None else rows[-limit:]
        return [trade_json(m, uf) for uf in picked]

    def trade_fees(self, p: Mapping[str, Any]) -> list[dict[str, str]]:
        """``GET /sapi/v1/asset/tradeFee``: maker and taker rates per symbol."""
        cfg = self.venue.config
        markets = [self.market(p)] if p.get("symbol") else list(self.venue.engine.markets.values())
        return [
            {
                "symbol": m.id,
                "makerCommission": format(cfg.maker_fee.normalize(), "f"),
                "takerCommission": format(cfg.taker_fee.normalize(), "f"),
            }
            for m in markets
        ]

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
            "balances": balances_json(account),
            "permissions": ["SPOT"],
            "uid": account.uid,
        }


def balances_json(account: Account) -> list[dict[str, str]]:
    """Binance ``balances`` array of every asset ever held."""
    return [
        {"asset": a, "free": fmt8(account.free[a]), "locked": fmt8(account.locked[a])}
        for a in account.assets()
    ]


def fmt8(value: Decimal) -> str:
    """A balance with Binance's 8 decimals."""
    return f"{value:.8f}"
