"""Binance user-data events (``executionReport``, ``outboundAccountPosition``) and their delivery.

An account's events go to every connection that subscribed it: ws-api connections
(``userDataStream.subscribe``; events wrapped as ``{"subscriptionId", "event"}``) and
listen-key streams (``/ws/<listenKey>``; events as they are).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.venues.accounts import Account
from actors.venues.binance.orders import fmt8
from actors.venues.engine import Fill, Order
from actors.venues.hub import Conn, dumps
from actors.venues.rules import Market

if TYPE_CHECKING:
    from actors.venues.server import Venue

ZERO8 = "0.00000000"


def execution_report(
    venue: Venue, m: Market, o: Order, exec_type: str, fill: Fill | None
) -> dict[str, Any]:
    """The ``executionReport`` of ``o`` after ``exec_type`` (NEW, TRADE, CANCELED, ...).

    On a cancel, ``c`` is the cancel request's client id and ``C`` the order's original one.
    """
    if fill is not None:
        fee, fee_asset = venue.commission(fill, o)
        last_qty, last_px = m.qty_str(fill.qty), m.price_str(fill.price)
        last_quote = m.notional_str(fill.qty * fill.price)
        commission: str = f"{fee:.8f}"
        commission_asset: str | None = fee_asset
        trade_id = fill.trade_id
        is_maker = fill.maker is o
    else:
        last_qty = last_px = last_quote = commission = ZERO8
        commission_asset = None
        trade_id = -1
        is_maker = False
    canceled = exec_type == "CANCELED"
    event = {
        "e": "executionReport",
        "E": venue.now_ms(),
        "s": o.symbol,
        "c": (o.cancel_client_id or o.client_id) if canceled else o.client_id,
        "S": o.side,
        "o": o.type,
        "f": o.tif,
        "q": m.qty_str(o.qty),
        "p": m.price_str(o.price),
        "P": ZERO8,
        "F": ZERO8,
        "g": -1,
        "C": o.client_id if canceled else "",
        "x": exec_type,
        "X": o.status,
        "r": "NONE",
        "i": o.order_id,
        "l": last_qty,
        "z": m.qty_str(o.executed),
        "L": last_px,
        "n": commission,
        "N": commission_asset,
        "T": o.update_ms,
        "t": trade_id,
        "I": 0,
        "w": o.working,
        "m": is_maker,
        "M": False,
        "O": o.time_ms,
        "Z": m.notional_str(o.cum_quote),
        "Y": last_quote,
        "Q": m.notional_str(o.quote_qty),
        "W": o.time_ms,
        "V": o.stp,
    }
    if exec_type == "TRADE_PREVENTION":
        event.update(
            {
                "v": o.prevented_match_id,
                "A": m.qty_str(o.prevented_qty),
                "B": m.qty_str(o.prevented_qty),
                "u": 1,
                "U": o.counter_order_id,
                "Cs": o.symbol,
            }
        )
    return event


def account_position(venue: Venue, account: Account, assets: list[str]) -> dict[str, Any]:
    """``outboundAccountPosition`` with the balances of ``assets``."""
    now = venue.now_ms()
    return {
        "e": "outboundAccountPosition",
        "E": now,
        "u": account.update_ms or now,
        "B": [{"a": a, "f": fmt8(account.free[a]), "l": fmt8(account.locked[a])} for a in assets],
    }


class UserStreams:
    """Who receives which account's events."""

    def __init__(self) -> None:
        self.conns: set[Conn] = set()
        self.next_subscription_id = -1

    def subscribe(self, conn: Conn, account: Account, *, wrapped: bool) -> int:
        """Deliver ``account``'s events on ``conn``; returns the subscription id."""
        conn.account = account
        self.next_subscription_id += 1
        conn.user_subscription_id = self.next_subscription_id if wrapped else None
        self.conns.add(conn)
        return self.next_subscription_id

    def discard(self, conn: Conn) -> None:
        """Stop delivering on ``conn``."""
        self.conns.discard(conn)

    def push(self, api_key: str, event: dict[str, Any]) -> None:
        """Queue ``event`` on every connection of the account ``api_key``."""
        raw: str | None = None
        for conn in self.conns:
            if conn.account is None or conn.account.api_key != api_key:
                continue
            if conn.user_subscription_id is None:
                raw = raw or dumps(event)
                conn.push(raw)
            else:
                conn.push(dumps({"subscriptionId": conn.user_subscription_id, "event": event}))
