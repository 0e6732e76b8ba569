"""Messages: immutability, tagged JSON round trip, intent validation."""

from __future__ import annotations

import doctest
import importlib
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.trading.messages import (
    BookSnapshot,
    CancelOrder,
    ConsolidatedTop,
    FeedStatus,
    Fill,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    ReconcileResult,
    ReconcileVerdict,
    RejectReason,
    RiskApproved,
    RiskRejected,
    SetTradingState,
    SubmitOrder,
    SubmitUnknown,
    TopOfBook,
    TradeTick,
    TradingState,
    TradingStateChanged,
    decode,
    encode,
    split_symbol,
    validate_intent,
)

names = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)
symbols = st.sampled_from(["BTC/USDT", "ETH/USDT", "ETH/BTC"])
floats = st.floats(min_value=1e-9, max_value=1e9, allow_nan=False, allow_infinity=False)
decimals = st.decimals(min_value=Decimal("1e-8"), max_value=Decimal("1e9"), places=8)
levels = st.lists(st.tuples(floats, floats), max_size=5).map(tuple)
times = st.floats(min_value=0, max_value=1e6, allow_nan=False)
maybe_int = st.none() | st.integers(min_value=0, max_value=2**62)

intents = st.builds(
    OrderIntent,
    client_order_id=names,
    strategy=names,
    venue=st.none() | names,
    symbol=symbols,
    side=st.sampled_from(["buy", "sell"]),
    order_type=st.sampled_from(["limit", "market"]),
    amount=decimals,
    price=st.none() | decimals,
    time_in_force=st.sampled_from(["GTC", "IOC", "FOK"]),
    created_at=times,
)
updates = st.builds(
    OrderUpdate,
    client_order_id=names,
    venue=names,
    venue_order_id=st.none() | names,
    status=st.sampled_from(list(OrderStatus)),
    filled=decimals,
    remaining=decimals,
    average_price=st.none() | decimals,
    timestamp_ms=maybe_int,
    reason=st.text(max_size=20),
)
messages = st.one_of(
    st.builds(
        BookSnapshot,
        venue=names,
        symbol=symbols,
        bids=levels,
        asks=levels,
        nonce=maybe_int,
        timestamp_ms=maybe_int,
        received_at=times,
    ),
    st.builds(
        TopOfBook,
        venue=names,
        symbol=symbols,
        bid=st.none() | floats,
        bid_size=st.none() | floats,
        ask=st.none() | floats,
        ask_size=st.none() | floats,
        nonce=maybe_int,
        timestamp_ms=maybe_int,
        stale=st.booleans(),
        received_at=times,
    ),
    st.builds(
        TradeTick,
        venue=names,
        symbol=symbols,
        price=floats,
        amount=floats,
        side=st.none() | st.sampled_from(["buy", "sell"]),
    ),
    st.builds(FeedStatus, venue=names, symbol=symbols, live=st.booleans(), reason=st.text()),
    st.builds(
        ConsolidatedTop,
        symbol=symbols,
        bid=st.none() | floats,
        bid_size=st.none() | floats,
        bid_venue=st.none() | names,
        ask=st.none() | floats,
        ask_size=st.none() | floats,
        ask_venue=st.none() | names,
    ),
    intents,
    st.builds(RiskApproved, intent=intents, at=times),
    st.builds(
        RiskRejected,
        intent=intents,
        reason=st.sampled_from(list(RejectReason)),
        detail=st.text(),
    ),
    st.builds(SubmitOrder, intent=intents, venue=names, sent_at=times),
    st.builds(SubmitUnknown, client_order_id=names, venue=names, reason=st.text()),
    st.builds(CancelOrder, client_order_id=names, reason=st.text()),
    updates,
    st.builds(
        Fill,
        client_order_id=names,
        venue=names,
        symbol=symbols,
        side=st.sampled_from(["buy", "sell"]),
        price=decimals,
        amount=decimals,
        fee=decimals,
        fee_currency=st.none() | st.sampled_from(["USDT", "BTC", "BNB"]),
        trade_id=names,
        timestamp_ms=maybe_int,
    ),
    st.builds(
        ReconcileResult,
        client_order_id=names,
        venue=names,
        verdict=st.sampled_from(list(ReconcileVerdict)),
        update=st.none() | updates,
    ),
    st.builds(SetTradingState, state=st.sampled_from(list(TradingState)), reason=st.text()),
    st.builds(
        TradingStateChanged,
        state=st.sampled_from(list(TradingState)),
        previous=st.sampled_from(list(TradingState)),
        reason=st.text(),
        automatic=st.booleans(),
    ),
)


@given(messages)
def test_every_message_round_trips_through_tagged_json(msg: object) -> None:
    data = encode(msg)  # type: ignore[arg-type]
    assert msgspec.json.decode(data)["type"] == type(msg).__name__
    back = decode(data)
    assert type(back) is type(msg)
    assert back == msg


def intent(**kw: object) -> OrderIntent:
    fields: dict[str, object] = dict(
        client_order_id="c1",
        strategy="s",
        venue="sim",
        symbol="BTC/USDT",
        side="buy",
        order_type="limit",
        amount=Decimal("1"),
        price=Decimal("100"),
        created_at=0.0,
    )
    fields.update(kw)
    return OrderIntent(**fields)  # type: ignore[arg-type]


def test_decimal_digits_survive_exactly() -> None:
    msg = intent(amount=Decimal("0.123456789012345678901234"), price=Decimal("1E+2"))
    back = decode(encode(msg))
    assert isinstance(back, OrderIntent)
    assert str(back.amount) == "0.123456789012345678901234"
    assert back.price == Decimal("100")


def test_messages_are_frozen() -> None:
    msg = intent()
    with pytest.raises(AttributeError):
        msg.amount = Decimal("2")  # type: ignore[misc]


def test_decode_rejects_unknown_tag_and_bad_field() -> None:
    with pytest.raises(msgspec.ValidationError, match="Nope"):
        decode(b'{"type":"Nope"}')
    with pytest.raises(msgspec.ValidationError, match="side"):
        decode(encode(intent()).replace(b'"buy"', b'"hold"'))
    with pytest.raises(msgspec.DecodeError):
        decode(b"{not json")


def test_top_of_book_mid() -> None:
    top = TopOfBook(venue="v", symbol="BTC/USDT", bid=99.0, bid_size=1, ask=101.0, ask_size=1)
    assert top.mid == 100.0
    assert (
        TopOfBook(venue="v", symbol="X/Y", bid=None, bid_size=None, ask=1.0, ask_size=1).mid is None
    )


def test_client_order_id_property_on_wrappers() -> None:
    it = intent(client_order_id="abc")
    assert RiskApproved(intent=it).client_order_id == "abc"
    assert SubmitOrder(intent=it, venue="sim").client_order_id == "abc"


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"client_order_id": ""}, "client_order_id is empty"),
        ({"amount": Decimal("0")}, "amount must be"),
        ({"amount": Decimal("-1")}, "got -1"),
        ({"amount": Decimal("NaN")}, "amount must be"),
        ({"price": None}, "limit order needs a price"),
        ({"price": Decimal("0")}, "price must be"),
        ({"order_type": "market"}, "market order must not carry a price"),
        ({"symbol": "BTCUSDT"}, "BASE/QUOTE"),
    ],
)
def test_validate_intent_names_field_and_value(kw: dict[str, object], needle: str) -> None:
    problem = validate_intent(intent(**kw))
    assert problem is not None
    assert needle in problem


def test_validate_intent_accepts_good_ones() -> None:
    assert validate_intent(intent()) is None
    assert validate_intent(intent(order_type="market", price=None, time_in_force="IOC")) is None


@pytest.mark.parametrize(
    "module", ["messages", "ids", "orders", "book", "positions", "risk", "journal"]
)
def test_docstring_examples_hold(module: str) -> None:
    mod = importlib.import_module(f"actors.trading.{module}")
    result = doctest.testmod(mod)
    assert result.attempted > 0 and result.failed == 0


def test_split_symbol() -> None:
    assert split_symbol("BTC/USDT") == ("BTC", "USDT")
    assert split_symbol("BTC/USDT:USDT") == ("BTC", "USDT")
    with pytest.raises(ValueError, match="'BTCUSDT'"):
        split_symbol("BTCUSDT")
