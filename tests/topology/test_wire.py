"""The desk's registry for a split desk: every message travels, each in its declared way."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import trio

from actors.remote import Direct, Durable, Latest
from actors.topology.wire import DURABLE, LATEST, _subclasses, desk_registry
from actors.trading.book_actor import market_data_key
from actors.trading.markets import MarketInfo, Markets
from actors.trading.messages import (
    Fill,
    Message,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    RiskApproved,
    TopOfBook,
)
from actors.trading.protocol import GetOrders, OrderView, Request

INTENT = OrderIntent(
    client_order_id="ax-mm-1",
    strategy="mm",
    venue="sim-a",
    symbol="BTC/USDT",
    side="buy",
    order_type="limit",
    amount=Decimal("0.01"),
    price=Decimal("50000"),
    created_at=1.0,
)


def update(status: OrderStatus, filled: str) -> OrderUpdate:
    return OrderUpdate(
        client_order_id="ax-mm-1",
        venue="sim-a",
        venue_order_id="7",
        status=status,
        filled=Decimal(filled),
        remaining=Decimal("0.01") - Decimal(filled),
    )


def test_every_message_and_request_is_registered_under_its_tag() -> None:
    registry = desk_registry()
    for cls in _subclasses(Message) + _subclasses(Request):
        if not cls.__name__.startswith("_"):
            assert registry.entry_of(cls).name == cls.__name__
    assert isinstance(registry.entry_of(GetOrders).delivery, Direct)
    assert isinstance(registry.entry_of(TopOfBook).delivery, Latest)
    assert isinstance(registry.entry_of(Fill).delivery, Durable)


def test_market_data_is_keyed_as_the_conflating_mailboxes_key_it() -> None:
    top = TopOfBook(venue="sim-a", symbol="BTC/USDT", bid=1.0, bid_size=1.0, ask=2.0, ask_size=1.0)
    assert LATEST[TopOfBook](top) == market_data_key(top)


def test_durable_ids_name_one_logical_message() -> None:
    approved = RiskApproved(intent=INTENT)
    assert DURABLE[RiskApproved](approved) == "ax-mm-1"
    acked, partly = update(OrderStatus.OPEN, "0"), update(OrderStatus.PARTIALLY_FILLED, "0.004")
    assert DURABLE[OrderUpdate](acked) == DURABLE[OrderUpdate](update(OrderStatus.OPEN, "0"))
    assert DURABLE[OrderUpdate](acked) != DURABLE[OrderUpdate](partly)
    fill = Fill(
        client_order_id="ax-mm-1",
        venue="sim-a",
        symbol="BTC/USDT",
        side="buy",
        price=Decimal("50000"),
        amount=Decimal("0.004"),
        trade_id="t9",
    )
    assert DURABLE[Fill](fill) == "sim-a:BTC/USDT:t9"


def test_order_flow_and_query_replies_round_trip() -> None:
    registry = desk_registry()
    view = OrderView(
        client_order_id="ax-mm-1",
        strategy="mm",
        venue="sim-a",
        symbol="BTC/USDT",
        side="buy",
        amount=Decimal("0.01"),
        price=Decimal("50000"),
        status=OrderStatus.OPEN,
        filled=Decimal(0),
        venue_order_id="7",
    )
    # (an intent on its own is stamped with the receiving clock: see below)
    for message in (RiskApproved(intent=INTENT), update(OrderStatus.OPEN, "0")):
        _, data = registry.encode(message)
        assert registry.decode(data, "s").message == message
    reply = registry.encode_reply((view, view))
    assert registry.decode_reply(reply, path="/router", message=None, timeout=1) == (view, view)


def test_the_markets_a_session_pushes_to_strategies_cross_nodes_latest_wins() -> None:
    # A split desk's sessions (execution node) push Markets to strategies on another node:
    # unregistered, every push crashed the session.
    registry = desk_registry()
    markets = Markets(
        venue="sim-a",
        markets=(MarketInfo(venue="sim-a", symbol="BTC/USDT", price_step=Decimal("0.01")),),
    )
    assert isinstance(registry.entry_of(Markets).delivery, Latest)
    _, data = registry.encode(markets)
    assert registry.decode(data, "s").message == markets
    reply = registry.encode_reply(markets)
    assert registry.decode_reply(reply, path="/exec/sim-a", message=None, timeout=1) == markets


async def test_market_data_is_stamped_with_the_receiving_nodes_clock(
    autojump_clock: object,
) -> None:
    registry = desk_registry()
    far_clock = TopOfBook(
        venue="sim-a", symbol="BTC/USDT", bid=1.0, bid_size=1.0, ask=2.0, ask_size=1.0,
        received_at=123_456.0,
    )  # fmt: skip
    _, data = registry.encode(far_clock)
    here = registry.decode(data, "s").message
    assert here.received_at == trio.current_time() and here.bid == far_clock.bid


async def test_an_intent_keeps_its_decision_time_on_the_receiving_nodes_clock(
    autojump_clock: object,
) -> None:
    registry = desk_registry()
    await trio.sleep(10.0)
    far_clock = OrderIntent(
        client_order_id="c1", strategy="s", venue="sim-a", symbol="BTC/USDT", side="buy",
        order_type="limit", amount=Decimal("1"), price=Decimal("10"),
        created_at=123_456.5, book_at=123_456.0,
    )  # fmt: skip
    _, data = registry.encode(far_clock)
    here = registry.decode(data, "s").message
    now = trio.current_time()
    assert (here.created_at, here.book_at) == (now, now - 0.5)
    assert msgspec.structs.replace(here, created_at=123_456.5, book_at=123_456.0) == far_clock
    _, data = registry.encode(msgspec.structs.replace(far_clock, book_at=None))
    assert registry.decode(data, "s").message.book_at is None
