"""OKX's private websocket ``/ws/v5/private``: ``login``, the ``orders`` and ``account``
channels, and order entry over the socket (``order``, ``batch-orders``, ``cancel-order``,
``batch-cancel-orders``, ``amend-order``, ``batch-amend-orders``), which ccxt's
``create_order_ws``/``cancel_order_ws``/``edit_order_ws`` use.

Order-entry replies are ``{"id", "op", "code", "msg", "data": [{... "sCode", "sMsg"}],
"inTime", "outTime"}`` with ``code`` 0/1/2 as on REST. An order fault before acceptance
answers ``50013`` (system busy: not placed), after acceptance ``50004`` (endpoint timeout:
outcome unknown, as OKX words it), which ccxt raises as ``ExchangeNotAvailable`` and
``RequestTimeout``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio

from actors.venues.accounts import Account
from actors.venues.engine import Fill, Order
from actors.venues.hub import Conn, dumps
from actors.venues.okx.errors import OkxError
from actors.venues.okx.rest import batch_envelope, run_orders
from actors.venues.okx.shapes import balance_json, dec, order_json, px, sz
from actors.venues.okx.ws import Endpoint, WsError, no_channel

if TYPE_CHECKING:
    from actors.venues.okx import OkxProtocol

INST_TYPES = ("SPOT", "ANY", "MARGIN", "SWAP", "FUTURES", "OPTION")
PLACING = ("order", "batch-orders")
OPERATIONS = {
    "order": "place",
    "batch-orders": "place",
    "cancel-order": "cancel",
    "batch-cancel-orders": "cancel",
    "amend-order": "amend",
    "batch-amend-orders": "amend",
}
"""Order-entry ops of the private socket -> the operation the venue counts per transport."""


class PrivateEndpoint(Endpoint):
    """``/ws/v5/private``."""

    name = "private"

    def _account(self, conn: Conn) -> Account:
        if conn.account is None:
            raise WsError("60011", "Please log in")
        account: Account = conn.account
        return account

    def subscribe(self, conn: Conn, arg: dict[str, Any]) -> dict[str, Any]:
        """``orders`` (``instType``, optional ``instId``) or ``account`` (optional ``ccy``)."""
        self._account(conn)
        channel = arg.get("channel")
        if channel == "orders":
            inst_type = arg.get("instType")
            inst_id = arg.get("instId")
            if inst_type not in INST_TYPES:
                raise WsError("60013", "Invalid args")
            if inst_id is not None and inst_id not in self.protocol.by_inst_id:
                raise no_channel(arg)
            echoed = {"channel": "orders", "instType": inst_type}
            if inst_id is not None:
                echoed["instId"] = inst_id
            conn.state.setdefault("orders", []).append(echoed)
            return echoed
        if channel == "account":
            echoed = {"channel": "account"}
            if arg.get("ccy"):
                echoed["ccy"] = str(arg["ccy"])
            conn.state.setdefault("account", []).append(echoed)
            return echoed
        raise no_channel(arg)

    def after_subscribe(self, conn: Conn, arg: dict[str, Any]) -> None:
        """The ``account`` channel starts with every balance."""
        if arg["channel"] == "account" and conn.account is not None:
            account: Account = conn.account
            assets = [a for a in account.assets() if a == arg.get("ccy", a)]
            push = {"arg": {**arg, "uid": self.protocol.uid}}
            data = balance_json(account, assets, self.venue.now_ms())
            conn.push(dumps({**push, "data": [data]}))

    def unsubscribe(self, conn: Conn, arg: dict[str, Any]) -> dict[str, Any]:
        """Drop matching subscriptions."""
        channel = arg.get("channel")
        if channel not in ("orders", "account"):
            raise no_channel(arg)
        subs: list[dict[str, Any]] = conn.state.get(channel, [])
        keep = [s for s in subs if any(s.get(k) != v for k, v in arg.items())]
        conn.state[channel] = keep
        return {k: v for k, v in arg.items() if k != "id"}

    async def operation(self, conn: Conn, req: dict[str, Any]) -> None:
        """Order entry: ``order``, ``batch-orders``, cancels and amends."""
        op = req["op"]
        rid = str(req.get("id", ""))
        svc = self.protocol.orders
        ops: dict[str, tuple[Callable[[Account, Any], dict[str, Any]], bool]] = {
            "order": (svc.place, False),
            "batch-orders": (svc.place, True),
            "cancel-order": (svc.cancel, False),
            "batch-cancel-orders": (svc.cancel, True),
            "amend-order": (svc.amend, False),
            "batch-amend-orders": (svc.amend, True),
        }
        if op not in ops:
            raise WsError("60019", f"Invalid op: {op}")
        in_time = _micros()
        venue = self.venue
        if venue.faults.latency_s:
            await trio.sleep(venue.faults.latency_s)
        account = self._account(conn)
        args = req.get("args")
        handler, batch = ops[op]
        if not isinstance(args, list) or not args or (not batch and len(args) != 1):
            raise WsError("60013", "Invalid args")
        venue.entry.count("ws", OPERATIONS[op], len(args))
        if len(args) > 20:
            raise WsError("51111", "Maximum 20 orders can be placed in bulk.")
        try:
            self.protocol.ratelimiter.charge(f"ws/{op}", forced=False)
        except OkxError as e:
            raise WsError("60014", "Requests too frequent.") from e
        fault = venue.faults.take_order_fault() if op in PLACING else None
        if fault is not None and fault.mode.endswith("before"):
            if fault.mode == "timeout_before":
                await trio.sleep(fault.hold_s)
            raise WsError("50013", "Systems are busy. Please try again later.")
        results = run_orders(args, lambda arg: handler(account, arg), venue.now_ms())
        if fault is not None:
            if fault.mode == "timeout_after":
                await trio.sleep(fault.hold_s)
            raise WsError(
                "50004",
                "API endpoint request timeout (does not mean that the request was successful "
                "or failed, please check the request result).",
            )
        reply = {"id": rid, "op": op, **batch_envelope(results, websocket=True)}
        reply["inTime"], reply["outTime"] = in_time, _micros()
        conn.push(dumps(reply))


def _micros() -> str:
    return str(time.time_ns() // 1000)


def order_push(
    protocol: OkxProtocol, order: Order, exec_type: str, fill: Fill | None
) -> dict[str, Any]:
    """The ``orders`` channel entry of ``order`` after an event: fill fields only on fills."""
    venue = protocol.venue
    m = venue.engine.markets[order.symbol]
    body = order_json(venue, m, order)
    if fill is None:
        body.update({"fillPx": "", "fillSz": "", "tradeId": "", "fillTime": ""})
        fill_fee, fill_fee_ccy, exec_kind = "0", "", ""
    else:
        fee, fee_ccy = venue.commission(fill, order)
        fill_fee, fill_fee_ccy = dec(-fee), fee_ccy
        exec_kind = "M" if fill.maker is order else "T"
        body.update(
            {
                "fillPx": px(m, fill.price),
                "fillSz": sz(m, fill.qty),
                "tradeId": str(fill.trade_id),
                "fillTime": str(fill.time_ms),
            }
        )
    body.update(
        {
            "execType": exec_kind,
            "fillFee": fill_fee,
            "fillFeeCcy": fill_fee_ccy,
            "fillNotionalUsd": "",
            "fillPnl": "0",
            "lastPx": body["fillPx"],
            "notionalUsd": "",
            "amendResult": "0" if exec_type == "AMENDED" else "",
            "amendSource": "",
            "reqId": "",
            "code": "0",
            "msg": "",
        }
    )
    return body


def matches(sub: dict[str, Any], order: Order, inst_id: str) -> bool:
    """Whether an ``orders`` subscription covers ``order``."""
    return sub.get("instType") in ("SPOT", "ANY") and sub.get("instId", inst_id) == inst_id
