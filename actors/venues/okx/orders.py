"""OKX order entry (REST and the private websocket share it): parameters, results, history.

Each order of a request succeeds or fails on its own (``sCode``/``sMsg``), as in OKX's batch
endpoints; queries fail at request level (``code``). ``ordType`` maps onto the engine:
``limit`` (GTC), ``post_only`` (accepted, then cancelled if it would take, as OKX does),
``ioc``, ``fok``, ``market`` (``sz`` in base, or in quote for a buy with ``tgtCcy=quote_ccy``,
OKX's default for market buys). Self-trade prevention is always on at OKX: ``stpMode``
``cancel_maker`` (the default), ``cancel_taker`` or ``cancel_both``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from actors.venues.accounts import Account
from actors.venues.engine import BUY, LIMIT, LIMIT_MAKER, MARKET, SELL, Order
from actors.venues.okx import errors
from actors.venues.okx.errors import OrderFailure
from actors.venues.okx.shapes import STP_FROM_OKX, fill_json, ord_type, order_json
from actors.venues.rejects import Rejected
from actors.venues.rules import Market, parse_decimal

if TYPE_CHECKING:
    from actors.venues.okx import OkxProtocol

_CLIENT_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
ORD_TYPES = {
    "limit": (LIMIT, "GTC"),
    "post_only": (LIMIT_MAKER, "GTC"),
    "ioc": (LIMIT, "IOC"),
    "fok": (LIMIT, "FOK"),
    "market": (MARKET, "GTC"),
}
PAGE_MAX = 100
T = TypeVar("T")


def _str(arg: Mapping[str, Any], name: str) -> str:
    value = arg.get(name)
    return "" if value is None else str(value)


def page(
    rows: list[T],
    key: Callable[[T], int],
    params: Mapping[str, Any],
    limit_default: int = PAGE_MAX,
) -> list[T]:
    """OKX pagination of ``rows`` (newest first): ``after`` = older than that id, ``before`` =
    newer than that id, ``limit`` at most 100."""
    try:
        after = int(str(params["after"])) if params.get("after") not in (None, "") else None
        before = int(str(params["before"])) if params.get("before") not in (None, "") else None
        limit = int(str(params.get("limit") or limit_default))
    except ValueError:
        raise errors.bad_param("after/before/limit") from None
    if not 1 <= limit <= PAGE_MAX:
        raise errors.bad_param("limit")
    picked = [
        r for r in rows if (after is None or key(r) < after) and (before is None or key(r) > before)
    ]
    if before is not None and after is None:
        # the page nearest to ``before``: the oldest ones newer than it
        return picked[-limit:]
    return picked[:limit]


class OrderService:
    """Place, cancel, amend and look up an account's orders with OKX's parameters.

    Example: ``venue.orders.place(account, {"instId": "BTC-USDT", "tdMode": "cash", ...})``
    """

    def __init__(self, protocol: OkxProtocol) -> None:
        self.protocol = protocol
        self.venue = protocol.venue

    # -- instruments ----------------------------------------------------------------------------

    def market_of(self, arg: Mapping[str, Any]) -> Market:
        """The market of ``instId`` (or ``instIdCode``), or an order-level failure."""
        inst_id = _str(arg, "instId")
        code = arg.get("instIdCode")
        if inst_id:
            m = self.protocol.by_inst_id.get(inst_id)
        elif code not in (None, ""):
            try:
                m = self.protocol.by_code.get(int(str(code)))
            except ValueError:
                m = None
        else:
            raise OrderFailure("50014", "Parameter instId can not be empty.")
        if m is None:
            raise OrderFailure("51001", "Instrument ID does not exist.")
        return m

    def market(self, params: Mapping[str, Any], required: bool = True) -> Market | None:
        """The market of a query's ``instId``, or a request-level error."""
        inst_id = _str(params, "instId")
        if not inst_id:
            if required:
                raise errors.empty("instId")
            return None
        m = self.protocol.by_inst_id.get(inst_id)
        if m is None:
            raise errors.unknown_instrument()
        return m

    # -- order entry ----------------------------------------------------------------------------

    def place(self, account: Account, arg: Mapping[str, Any]) -> dict[str, Any]:
        """Place one order; its result entry (``sCode`` "0") or ``OrderFailure``."""
        client_id = _str(arg, "clOrdId")
        self.venue.entry.received(account.api_key, client_id)
        if client_id and not _CLIENT_ID.match(client_id):
            raise OrderFailure("51000", "Parameter clOrdId error")
        m = self.market_of(arg)
        td_mode = _str(arg, "tdMode")
        if not td_mode:
            raise OrderFailure("50014", "Parameter tdMode can not be empty.")
        if td_mode != "cash":
            raise OrderFailure(
                "51010", "You can't complete this request under your current account mode."
            )
        side = _str(arg, "side")
        if side not in ("buy", "sell"):
            raise OrderFailure("51000", "Parameter side error")
        kind = _str(arg, "ordType")
        if kind not in ORD_TYPES:
            raise OrderFailure("51000", "Parameter ordType error")
        otype, tif = ORD_TYPES[kind]
        stp_mode = _str(arg, "stpMode") or "cancel_maker"
        if stp_mode not in STP_FROM_OKX:
            raise OrderFailure("51000", "Parameter stpMode error")
        raw_sz = arg.get("sz")
        if raw_sz in (None, ""):
            raise OrderFailure("50014", "Parameter sz can not be empty.")
        price = qty = quote_qty = 0
        try:
            if otype == MARKET:
                tgt = _str(arg, "tgtCcy") or ("quote_ccy" if side == "buy" else "base_ccy")
                if tgt not in ("base_ccy", "quote_ccy") or (tgt == "quote_ccy" and side == "sell"):
                    raise OrderFailure("51000", "Parameter tgtCcy error")
                if tgt == "quote_ccy":
                    budget = parse_decimal(raw_sz, "sz")
                    scaled = budget.scaleb(m.pd + m.qd)
                    if budget <= 0 or scaled != scaled.to_integral_value():
                        raise OrderFailure("51000", "Parameter sz error")
                    quote_qty, qty = int(scaled), m.max_qty
                else:
                    qty = m.check_qty(raw_sz, "sz")
            else:
                if arg.get("px") in (None, ""):
                    raise OrderFailure("50014", "Parameter px can not be empty.")
                price = m.check_price(arg["px"], "px")
                qty = m.check_qty(raw_sz, "sz")
            order, _ = self.venue.entry.place(
                account,
                m,
                side=BUY if side == "buy" else SELL,
                type=otype,
                tif=tif,
                price=price,
                qty=qty,
                quote_qty=quote_qty,
                client_id=client_id,
                stp=STP_FROM_OKX[stp_mode],
                reject_post_only_taker=False,
            )
        except Rejected as r:
            raise errors.order_failure(r) from None
        return self._result(order, "Order placed")

    def _result(self, o: Order, msg: str = "", **extra: str) -> dict[str, Any]:
        return {
            "clOrdId": o.client_id,
            "ordId": str(o.order_id),
            "tag": "",
            "ts": str(self.venue.now_ms()),
            "sCode": "0",
            "sMsg": msg,
            **extra,
        }

    def _find(self, account: Account, arg: Mapping[str, Any], action: str) -> tuple[Market, Order]:
        m = self.market_of(arg)
        raw_id, client_id = _str(arg, "ordId"), _str(arg, "clOrdId")
        if not raw_id and not client_id:
            raise OrderFailure("51407", "Either order ID or client order ID is required.")
        try:
            order_id = int(raw_id) if raw_id else None
        except ValueError:
            raise OrderFailure("51000", "Parameter ordId error") from None
        try:
            return m, self.venue.entry.find(account, m, order_id, None if raw_id else client_id)
        except Rejected as r:
            raise errors.order_failure(r, action=action) from None

    def cancel(self, account: Account, arg: Mapping[str, Any]) -> dict[str, Any]:
        """Cancel one order; its result entry or ``OrderFailure`` (51400, 51402...)."""
        _, o = self._find(account, arg, "cancel")
        if o.order_id not in self.venue.engine.live:
            if o.status == "FILLED":
                raise OrderFailure(
                    "51402", "Order cancellation failed as the order has been completed."
                )
            raise OrderFailure("51401", "Order cancellation failed as the order has been canceled.")
        try:
            self.venue.entry.cancel(o)
        except Rejected as r:
            raise errors.order_failure(r, action="cancel") from None
        return self._result(o)

    def amend(self, account: Account, arg: Mapping[str, Any]) -> dict[str, Any]:
        """Change an order's size (``newSz``, total) and/or price (``newPx``)."""
        m, o = self._find(account, arg, "amend")
        new_sz, new_px = arg.get("newSz"), arg.get("newPx")
        if new_sz in (None, "") and new_px in (None, ""):
            raise OrderFailure("51500", "Either order price or amount is required")
        if o.order_id not in self.venue.engine.live:
            raise OrderFailure("51510", "Modification failed as the order has been completed.")
        try:
            price = m.check_price(new_px, "newPx") if new_px not in (None, "") else o.price
            qty = m.check_qty(new_sz, "newSz") if new_sz not in (None, "") else o.qty
            self.venue.entry.amend(account, m, o, price, qty)
        except Rejected as r:
            raise errors.order_failure(r, action="amend") from None
        return self._result(o, reqId=_str(arg, "reqId"))

    # -- queries --------------------------------------------------------------------------------

    def query(self, account: Account, params: Mapping[str, Any]) -> dict[str, Any]:
        """``GET trade/order`` by ``ordId`` or ``clOrdId``; 51603 if unknown."""
        try:
            m, o = self._find(account, params, "query")
        except OrderFailure as f:
            raise errors.OkxError(f.s_code, f.s_msg) from None
        return order_json(self.venue, m, o)

    def _orders(self, account: Account, params: Mapping[str, Any]) -> Iterable[Order]:
        m = self.market(params, required=False)
        wanted_type = _str(params, "ordType")
        for o in reversed(list(self.venue.engine.account_orders.values())):
            if o.account != account.api_key or (m is not None and o.symbol != m.id):
                continue
            if wanted_type and ord_type(o) != wanted_type:
                continue
            yield o

    def pending(self, account: Account, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``GET trade/orders-pending``: working orders, newest first."""
        live = self.venue.engine.live
        state = _str(params, "state")
        rows = [o for o in self._orders(account, params) if o.order_id in live]
        if state:
            rows = [o for o in rows if (o.executed > 0) == (state == "partially_filled")]
        markets = self.venue.engine.markets
        return [
            order_json(self.venue, markets[o.symbol], o)
            for o in page(rows, lambda o: o.order_id, params)
        ]

    def history(self, account: Account, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``GET trade/orders-history``: finished orders (``state`` filled/canceled)."""
        live = self.venue.engine.live
        state = _str(params, "state")
        rows = [o for o in self._orders(account, params) if o.order_id not in live]
        markets = self.venue.engine.markets
        out = [order_json(self.venue, markets[o.symbol], o) for o in rows]
        if state:
            out = [r for r in out if r["state"] == state]
        return page(out, lambda r: int(r["ordId"]), params)

    def fills(self, account: Account, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``GET trade/fills``: the account's fills, newest first, paged by ``billId``."""
        m = self.market(params, required=False)
        ord_id = _str(params, "ordId")
        try:
            begin = int(str(params["begin"])) if params.get("begin") not in (None, "") else None
            end = int(str(params["end"])) if params.get("end") not in (None, "") else None
        except ValueError:
            raise errors.bad_param("begin/end") from None
        rows = [
            uf
            for uf in reversed(self.venue.user_fills.get(account.api_key, []))
            if (m is None or uf.fill.symbol == m.id)
            and (not ord_id or str(uf.order.order_id) == ord_id)
            and (begin is None or uf.fill.time_ms >= begin)
            and (end is None or uf.fill.time_ms <= end)
        ]
        markets = self.venue.engine.markets
        return [
            fill_json(markets[uf.fill.symbol], uf) for uf in page(rows, lambda u: u.seq, params)
        ]
