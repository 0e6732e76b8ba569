"""What a strategy knows of its own orders (OwnOrders) and the order lifecycle log (order_log)."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest

from actors.observe.logs import JsonFormatter
from actors.trading.messages import OrderStatus, OrderUpdate, SubmitOrder
from actors.trading.order_log import OrderStats, order_event
from actors.trading.own_orders import OwnOrders
from actors.trading.protocol import OrderView
from tests.trading.test_orders import fill, intent, submitted, update

S = OrderStatus
D = Decimal


def test_position_counts_each_trade_once_from_fills_and_cumulative_updates() -> None:
    own = OwnOrders()
    own.submitted(intent("c1", amount="2"))
    assert [o.client_order_id for o in own.open_orders()] == ["c1"]
    assert own.open_orders()[0].status is S.SUBMITTING
    own.fill(fill("0.5", "t1"))
    own.fill(fill("0.5", "t1"))  # the same trade again: ignored
    assert own.position("BTC/USDT") == D("0.5")
    own.update(update(S.PARTIALLY_FILLED, filled="0.5"))  # cumulative: already counted
    assert own.position("BTC/USDT") == D("0.5")
    own.update(update(S.PARTIALLY_FILLED, filled="1.5"))  # a fill not yet heard of
    assert own.position("BTC/USDT") == D("1.5")
    own.fill(fill("1", "t2"))  # that fill: fills now sum to 1.5, no double count
    assert own.position("BTC/USDT") == D("1.5") == own.position("BTC/USDT", "sim")
    assert own.position("BTC/USDT", "other") == 0
    own.update(update(S.FILLED, filled="2"))
    assert own.position("BTC/USDT") == 2 and own.open_orders() == []
    assert own.get("c1") is not None and own.get("c1").status is S.FILLED  # type: ignore[union-attr]
    assert own.positions() == {("sim", "BTC/USDT"): D("2")}
    assert own.fill_count == 2


def test_sells_reduce_and_unknown_orders_are_ignored() -> None:
    own = OwnOrders()
    own.submitted(intent("b", amount="1"))
    own.submitted(intent("s", amount="3", side="sell"))
    own.fill(fill("1", "t1", cid="b"))
    own.fill(fill("3", "t2", cid="s", side="sell"))
    own.fill(fill("9", "t3", cid="stranger"))  # not ours
    own.update(update(S.OPEN, cid="stranger"))
    assert own.position("BTC/USDT") == D("-2")
    assert [o.client_order_id for o in own.open_orders(symbol="BTC/USDT")] == ["b", "s"]
    assert own.open_orders(symbol="ETH/USDT") == []


def test_seeded_views_restore_open_orders_and_position_after_a_restart() -> None:
    def view(cid: str, status: S, filled: str) -> OrderView:
        return OrderView(
            client_order_id=cid, strategy="s", venue="sim", symbol="BTC/USDT", side="buy",
            amount=D("2"), price=D("100"), status=status, filled=D(filled), venue_order_id="v",
        )  # fmt: skip

    own = OwnOrders()
    own.seed([view("done", S.FILLED, "2"), view("open", S.PARTIALLY_FILLED, "1")])
    assert own.position("BTC/USDT") == 3
    assert [o.client_order_id for o in own.open_orders()] == ["open"]
    own.fill(fill("1", "t9", cid="open"))  # waited in the mailbox: already in the view
    assert own.position("BTC/USDT") == 3
    own.update(update(S.FILLED, filled="2", cid="open"))
    assert own.position("BTC/USDT") == 4 and own.open_orders() == []


def test_ended_orders_are_forgotten_beyond_the_bound() -> None:
    own = OwnOrders(keep_ended=2)
    for i in range(4):
        own.submitted(intent(f"c{i}"))
        own.update(update(S.CANCELLED, cid=f"c{i}"))
    assert own.get("c0") is None and own.get("c3") is not None


def test_the_lifecycle_is_logged_at_info_with_fields(caplog: pytest.LogCaptureFixture) -> None:
    table, order = submitted("c1", amount="2")
    stats = OrderStats()
    caplog.set_level(logging.INFO, logger="actors.orders")
    it = intent("c1", amount="2", book_at=0.5)
    order.intent = it  # the intent a book answered (the router measures from book_at)
    order_event(order, SubmitOrder(intent=it, venue="sim"), stats, now=0.503)
    table.apply(update(S.OPEN), 2.0)
    order_event(order, update(S.OPEN), stats)
    table.apply(fill("0.5", "t1", price="99"), 3.0)
    order_event(order, fill("0.5", "t1", price="99"), stats)
    table.apply(fill("1.5", "t2"), 4.0)
    order_event(order, fill("1.5", "t2"), stats)
    events = [r.order_event for r in caplog.records]  # type: ignore[attr-defined]
    assert events == ["submitted", "acknowledged", "partially_filled", "filled"]
    assert all(r.levelno == logging.INFO for r in caplog.records)
    assert "order partially filled: sim BTC/USDT buy 0.5 @ 99 (0.5/2 filled) [c1 s]" in (
        caplog.records[2].getMessage()
    )
    line = json.loads(JsonFormatter().format(caplog.records[2]))
    assert line["order_event"] == "partially_filled" and line["client_order_id"] == "c1"
    assert (line["venue"], line["symbol"], line["side"]) == ("sim", "BTC/USDT", "buy")
    assert D(line["price"]) == 99 and D(line["quantity"]) == D("0.5")
    assert stats.submitted == 1 and stats.fills == 2
    assert stats.tick_to_order.count == 1
    assert stats.tick_to_order.sum == pytest.approx(0.003)


def test_rejections_and_cancels_carry_their_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="actors.orders")
    stats = OrderStats()
    table, order = submitted("c1")
    rejected = OrderUpdate(
        client_order_id="c1", venue="sim", venue_order_id=None, status=S.REJECTED,
        filled=D(0), remaining=D(2), reason="insufficient balance",
    )  # fmt: skip
    table.apply(rejected, 2.0)
    order_event(order, rejected, stats)
    table2, other = submitted("c2")
    table2.apply(update(S.OPEN, cid="c2"), 2.0)
    table2.apply(update(S.CANCELLED, cid="c2"), 3.0)
    order_event(other, update(S.CANCELLED, cid="c2"), stats)
    first, second = caplog.records
    assert first.order_event == "rejected" and first.reason == "insufficient balance"  # type: ignore[attr-defined]
    assert first.getMessage().endswith(": insufficient balance")
    assert second.order_event == "cancelled"  # type: ignore[attr-defined]
