"""Risk engine: one test per rejection reason, worst-case accounting, trading states."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from actors.trading.messages import (
    FeedStatus,
    Fill,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    RejectReason,
    RiskApproved,
    RiskRejected,
    SetTradingState,
    TopOfBook,
    TradingState,
)
from actors.trading.risk import RiskEngine, RiskLimits, SymbolLimits, VenueLimits

D = Decimal
R = RejectReason
_n = 0


def intent(
    side: str = "buy",
    amount: str = "1",
    price: str | None = "100",
    venue: str | None = "sim",
    symbol: str = "BTC/USDT",
    cid: str | None = None,
) -> OrderIntent:
    global _n
    _n += 1
    return OrderIntent(
        client_order_id=cid or f"c{_n}",
        strategy="s",
        venue=venue,
        symbol=symbol,
        side=side,  # type: ignore[arg-type]
        order_type="limit" if price is not None else "market",
        amount=D(amount),
        price=None if price is None else D(price),
        time_in_force="GTC" if price is not None else "IOC",
        created_at=0.0,
    )


def top(
    venue: str = "sim",
    bid: float | None = 99.0,
    ask: float | None = 101.0,
    at: float = 0.0,
    symbol: str = "BTC/USDT",
    stale: bool = False,
) -> TopOfBook:
    return TopOfBook(
        venue=venue,
        symbol=symbol,
        bid=bid,
        bid_size=1.0,
        ask=ask,
        ask_size=1.0,
        stale=stale,
        received_at=at,
    )


def engine(**limits: object) -> RiskEngine:
    eng = RiskEngine(RiskLimits(**limits))  # type: ignore[arg-type]
    eng.on_book(top())
    return eng


def reason(result: RiskApproved | RiskRejected) -> RejectReason | None:
    return result.reason if isinstance(result, RiskRejected) else None


def fill(cid: str, side: str, amount: str, price: str, trade_id: str) -> Fill:
    return Fill(
        client_order_id=cid,
        venue="sim",
        symbol="BTC/USDT",
        side=side,  # type: ignore[arg-type]
        price=D(price),
        amount=D(amount),
        trade_id=trade_id,
    )


def test_approves_a_normal_order() -> None:
    eng = engine(max_order_amount=D("5"), max_position=D("10"), price_band=D("0.05"))
    result = eng.check(intent(), now=0.1)
    assert isinstance(result, RiskApproved)
    assert eng.open_order_count() == 1 and eng.open_quantity("BTC/USDT", "buy") == 1


def test_invalid_and_duplicate() -> None:
    eng = engine()
    bad = eng.check(intent(amount="0"), 0.0)
    assert reason(bad) is R.INVALID_INTENT and "amount must be" in bad.detail  # type: ignore[union-attr]
    eng.check(intent(cid="dup"), 0.0)
    again = eng.check(intent(cid="dup"), 0.0)
    assert reason(again) is R.DUPLICATE_ID and "dup" in again.detail  # type: ignore[union-attr]


def test_amount_and_notional_limits_name_values() -> None:
    eng = engine(max_order_amount=D("2"), max_order_notional=D("150"))
    r = eng.check(intent(amount="3"), 0.0)
    assert reason(r) is R.AMOUNT_LIMIT and "amount 3 > max_order_amount 2" in r.detail  # type: ignore[union-attr]
    r = eng.check(intent(amount="2", price="100"), 0.0)
    assert reason(r) is R.NOTIONAL_LIMIT and "= 200 > max_order_notional 150" in r.detail  # type: ignore[union-attr]
    assert reason(eng.check(intent(amount="1.5", price="100"), 0.0)) is None


def test_market_order_priced_at_the_touch() -> None:
    eng = engine(max_order_notional=D("100.5"))
    buy = eng.check(intent(price=None), 0.0)  # best ask 101
    assert reason(buy) is R.NOTIONAL_LIMIT and "1 * 101.0" in buy.detail  # type: ignore[union-attr]
    assert reason(eng.check(intent(side="sell", price=None), 0.0)) is None  # best bid 99


def test_market_order_without_opposite_side_is_no_book() -> None:
    eng = RiskEngine(RiskLimits())
    eng.on_book(top(ask=None))
    r = eng.check(intent(price=None), 0.0)
    assert reason(r) is R.NO_BOOK and "no ask" in r.detail  # type: ignore[union-attr]


def test_price_band() -> None:
    eng = engine(price_band=D("0.05"))  # mid 100
    assert reason(eng.check(intent(price="105"), 0.0)) is None
    r = eng.check(intent(price="106"), 0.0)
    assert reason(r) is R.PRICE_BAND and "mid 100" in r.detail  # type: ignore[union-attr]
    assert reason(eng.check(intent(side="sell", price="94"), 0.0)) is R.PRICE_BAND
    one_sided = RiskEngine(RiskLimits(price_band=D("0.05")))
    one_sided.on_book(top(bid=None))
    assert reason(one_sided.check(intent(), 0.0)) is R.NO_BOOK


def test_no_book_and_stale_book() -> None:
    eng = RiskEngine(RiskLimits(max_book_age=5.0))
    assert reason(eng.check(intent(), 0.0)) is R.NO_BOOK
    eng.on_book(top(at=10.0))
    assert reason(eng.check(intent(), 14.0)) is None
    r = eng.check(intent(), 15.5)
    assert reason(r) is R.STALE_BOOK and "5.500s old > max_book_age 5.0" in r.detail  # type: ignore[union-attr]
    eng.on_book(top(at=20.0, stale=True))
    assert reason(eng.check(intent(), 20.0)) is R.STALE_BOOK


def test_feed_down_is_stale_until_fresh_data() -> None:
    eng = engine()
    eng.on_feed_status(FeedStatus(venue="sim", symbol="BTC/USDT", live=False, reason="ws closed"))
    r = eng.check(intent(), 0.0)
    assert reason(r) is R.STALE_BOOK and "ws closed" in r.detail  # type: ignore[union-attr]
    eng.on_feed_status(FeedStatus(venue="sim", symbol="BTC/USDT", live=True))
    assert reason(eng.check(intent(), 0.0)) is R.STALE_BOOK  # liveness alone is not data
    eng.on_book(top(at=1.0))
    assert reason(eng.check(intent(), 1.0)) is None


def test_routed_intent_uses_consolidated_book() -> None:
    eng = RiskEngine(RiskLimits(max_order_notional=D("100"), max_book_age=5.0))
    eng.on_book(top("a", 99.0, 101.0, at=0.0))
    eng.on_book(top("b", 98.0, 99.5, at=0.0))
    # market buy priced at the best ask across venues: 99.5 on b
    assert reason(eng.check(intent(price=None, venue=None), 1.0)) is None
    eng.on_feed_status(FeedStatus(venue="b", symbol="BTC/USDT", live=False))
    r = eng.check(intent(price=None, venue=None), 1.0)
    assert reason(r) is R.NOTIONAL_LIMIT and "1 * 101.0" in r.detail  # type: ignore[union-attr]
    r = eng.check(intent(price=None, venue=None), 10.0)
    assert reason(r) is R.STALE_BOOK and "every book of BTC/USDT" in r.detail  # type: ignore[union-attr]
    assert reason(eng.check(intent(venue=None, symbol="ETH/USDT"), 1.0)) is R.NO_BOOK


def test_position_limit_counts_open_orders_worst_case() -> None:
    eng = engine(max_position=D("3"), self_trade="off")  # the sell would cross the open buy
    assert reason(eng.check(intent(amount="2", cid="o1"), 0.0)) is None
    r = eng.check(intent(amount="2"), 0.0)  # 0 filled + 2 open + 2 new = 4 > 3
    assert reason(r) is R.POSITION_LIMIT and "worst-case position 4" in r.detail  # type: ignore[union-attr]
    # sells are checked on their own side: -2 >= -3
    assert reason(eng.check(intent(side="sell", amount="2"), 0.0)) is None
    # the open buy gets cancelled: room again
    eng.on_order_update(
        OrderUpdate(
            client_order_id="o1",
            venue="sim",
            venue_order_id="v",
            status=OrderStatus.CANCELLED,
            filled=D(0),
            remaining=D(2),
        )
    )
    assert reason(eng.check(intent(amount="2"), 0.0)) is None


def test_fills_move_quantity_from_open_to_position() -> None:
    eng = engine(max_position=D("3"))
    eng.check(intent(amount="2", cid="o1"), 0.0)
    eng.on_fill(fill("o1", "buy", "1.5", "100", "t1"))
    eng.on_fill(fill("o1", "buy", "1.5", "100", "t1"))  # duplicate: counted once
    assert eng.portfolio.net_quantity("BTC/USDT") == D("1.5")
    assert eng.open_quantity("BTC/USDT", "buy") == D("0.5")
    assert reason(eng.check(intent(amount="1"), 0.0)) is None  # 1.5 + 0.5 + 1 = 3
    assert reason(eng.check(intent(amount="0.1"), 0.0)) is R.POSITION_LIMIT


def test_position_limit_never_blocks_a_reduction() -> None:
    eng = engine(max_position=D("1"))
    eng.on_fill(fill("manual", "buy", "5", "100", "t1"))  # over the limit already
    assert reason(eng.check(intent(side="sell", amount="2"), 0.0)) is None
    assert reason(eng.check(intent(side="buy", amount="0.1"), 0.0)) is R.POSITION_LIMIT


def test_per_symbol_override() -> None:
    limits = RiskLimits(
        max_order_amount=D("1"), symbols={"ETH/USDT": SymbolLimits(max_order_amount=D("10"))}
    )
    eng = RiskEngine(limits)
    eng.on_book(top())
    eng.on_book(top(symbol="ETH/USDT"))
    assert reason(eng.check(intent(amount="5", symbol="ETH/USDT"), 0.0)) is None
    assert reason(eng.check(intent(amount="5"), 0.0)) is R.AMOUNT_LIMIT
    assert limits.for_symbol("ETH/USDT").max_order_amount == D("10")


def test_limits_validate_and_decode_from_config() -> None:
    with pytest.raises(ValueError, match=r"max_order_amount: expected a number > 0, got -1"):
        RiskLimits(max_order_amount=D("-1"))
    with pytest.raises(ValueError, match="price_band: expected a fraction < 1"):
        SymbolLimits(price_band=D("1.5"))
    limits = msgspec.convert(
        {"max_position": "2", "max_open_orders": 3, "symbols": {"ETH/USDT": {"max_position": 5}}},
        RiskLimits,
    )
    assert limits.max_position == D("2") and limits.for_symbol("ETH/USDT").max_position == D("5")


def test_gross_exposure_worst_case_across_symbols() -> None:
    eng = RiskEngine(RiskLimits(max_gross_exposure=D("500")))
    eng.on_book(top(bid=99.0, ask=101.0))  # BTC mid 100
    eng.on_book(top(symbol="ETH/USDT", bid=9.0, ask=11.0))  # ETH mid 10
    eng.on_fill(
        Fill(
            client_order_id="m",
            venue="sim",
            symbol="ETH/USDT",
            side="sell",
            price=D("10"),
            amount=D("20"),
            trade_id="e1",
        )
    )  # ETH exposure 200
    assert reason(eng.check(intent(amount="2", price="100"), 0.0)) is None  # 200 + 200
    r = eng.check(intent(amount="1.5", price="100"), 0.0)  # 200 + 350
    assert reason(r) is R.EXPOSURE_LIMIT and "> max_gross_exposure 500" in r.detail  # type: ignore[union-attr]
    # buying back ETH reduces the worst case: allowed even though the total is near the limit
    assert reason(eng.check(intent(symbol="ETH/USDT", amount="5", price="10"), 0.0)) is None


def test_open_orders_limit() -> None:
    eng = engine(max_open_orders=2)
    eng.check(intent(), 0.0)
    eng.check(intent(), 0.0)
    r = eng.check(intent(), 0.0)
    assert reason(r) is R.OPEN_ORDERS_LIMIT and "2 open orders >= max_open_orders 2" in r.detail  # type: ignore[union-attr]


def test_rate_windows_count_only_approvals() -> None:
    eng = engine(max_orders_per_second=2, max_orders_per_minute=3, max_order_amount=D("5"))
    assert reason(eng.check(intent(), 0.0)) is None
    assert reason(eng.check(intent(amount="50"), 0.1)) is R.AMOUNT_LIMIT  # not counted
    assert reason(eng.check(intent(), 0.2)) is None
    assert reason(eng.check(intent(), 0.5)) is R.RATE_LIMIT_SECOND
    assert reason(eng.check(intent(), 1.0)) is None  # the first left the 1 s window
    r = eng.check(intent(), 30.0)
    assert reason(r) is R.RATE_LIMIT_MINUTE and "3 orders approved in the last 60s" in r.detail  # type: ignore[union-attr]
    assert reason(eng.check(intent(), 60.0)) is None


def test_kill_switch_and_manual_states() -> None:
    eng = engine()
    change = eng.kill("operator", now=1.0)
    assert change is not None and change.state is TradingState.HALTED
    assert change.previous is TradingState.ACTIVE and not change.automatic
    r = eng.check(intent(side="sell"), 2.0)
    assert reason(r) is R.HALTED and "operator" in r.detail  # type: ignore[union-attr]
    assert eng.kill("again") is None  # already halted: no duplicate event
    eng.set_state(SetTradingState(state=TradingState.REDUCING, reason="wind down"))
    assert reason(eng.check(intent(), 2.0)) is R.REDUCING_ONLY
    eng.set_state(SetTradingState(state=TradingState.ACTIVE, reason="ok"))
    assert reason(eng.check(intent(), 2.0)) is None
    assert [e.state for e in eng.pop_events()] == [
        TradingState.HALTED,
        TradingState.REDUCING,
        TradingState.ACTIVE,
    ]
    assert eng.pop_events() == []


def test_reducing_allows_only_orders_that_shrink_the_position() -> None:
    eng = engine()
    eng.on_fill(fill("m", "buy", "2", "100", "t1"))
    eng.set_state(SetTradingState(state=TradingState.REDUCING, reason="x"))
    assert reason(eng.check(intent(side="buy", amount="0.1"), 0.0)) is R.REDUCING_ONLY
    assert reason(eng.check(intent(side="sell", amount="1.5", cid="s1"), 0.0)) is None
    r = eng.check(intent(side="sell", amount="1"), 0.0)  # 1.5 open + 1 > 2: would flip short
    assert reason(r) is R.REDUCING_ONLY and "open sells 1.5" in r.detail  # type: ignore[union-attr]
    assert reason(eng.check(intent(side="sell", amount="0.5"), 0.0)) is None


def test_daily_loss_switches_to_reducing_automatically() -> None:
    eng = engine(max_daily_loss=D("50"), self_trade="off")
    eng.on_fill(fill("m", "buy", "10", "100", "t1"), now=0.0)
    eng.on_book(top(bid=94.0, ask=96.0, at=1.0))  # mid 95: -50
    events = eng.pop_events()
    assert len(events) == 1 and events[0].state is TradingState.REDUCING and events[0].automatic
    assert "daily PnL -50.0" in events[0].reason
    r = eng.check(intent(price="95"), 1.0)
    assert reason(r) is R.DAILY_LOSS
    assert reason(eng.check(intent(side="sell", amount="5", price="95"), 1.0)) is None
    # an operator cannot re-activate while the loss is still breached
    eng.set_state(SetTradingState(state=TradingState.ACTIVE, reason="try"), now=2.0)
    assert eng.state is TradingState.REDUCING
    # a new trading day resets the daily PnL; then the operator may re-activate
    assert eng.roll_day(86400.0 * 20000)
    eng.set_state(SetTradingState(state=TradingState.ACTIVE, reason="new day"), now=3.0)
    assert eng.state is TradingState.ACTIVE
    assert reason(eng.check(intent(price="95"), 3.0)) is None


def test_updates_for_unknown_orders_are_ignored_and_partial_updates_shrink() -> None:
    eng = engine()
    eng.on_order_update(
        OrderUpdate(
            client_order_id="nobody",
            venue="sim",
            venue_order_id=None,
            status=OrderStatus.OPEN,
            filled=D(0),
            remaining=D(1),
        )
    )
    assert eng.open_order_count() == 0
    eng.check(intent(amount="2", cid="p"), 0.0)
    eng.on_order_update(
        OrderUpdate(
            client_order_id="p",
            venue="sim",
            venue_order_id="v",
            status=OrderStatus.PARTIALLY_FILLED,
            filled=D("0.5"),
            remaining=D("1.5"),
        )
    )
    assert eng.open_quantity("BTC/USDT", "buy") == D("1.5")
    eng.release("p")
    assert eng.open_order_count() == 0


# --- self-trade prevention and per-venue limits ----------------------------------------------


def resting_sell(eng: RiskEngine, cid: str = "rest", price: str = "100.5") -> None:
    assert reason(eng.check(intent(side="sell", amount="1", price=price, cid=cid), 0.0)) is None


@pytest.mark.parametrize(
    ("policy", "outcome", "cancel_first", "cancel"),
    [
        ("reject", R.SELF_TRADE, (), ()),
        ("cancel_both", R.SELF_TRADE, (), ("rest",)),
        ("cancel_resting", None, ("rest",), ()),
        ("off", None, (), ()),
    ],
)
def test_an_intent_crossing_our_resting_order_follows_the_policy(
    policy: str,
    outcome: RejectReason | None,
    cancel_first: tuple[str, ...],
    cancel: tuple[str, ...],
) -> None:
    eng = engine(self_trade=policy)
    resting_sell(eng)
    decision = eng.check(intent(side="buy", amount="1", price="101", cid="new"), 0.0)
    assert reason(decision) is outcome
    if isinstance(decision, RiskApproved):
        assert decision.cancel_first == cancel_first
    else:
        assert "would trade against our resting order(s) rest on sim BTC/USDT" in decision.detail
        assert decision.cancel == cancel


def test_self_trade_looks_only_at_crossing_resting_orders_of_that_venue_and_symbol() -> None:
    eng = engine()
    resting_sell(eng, price="100.5")
    # below our ask: no cross
    assert reason(eng.check(intent(side="buy", amount="1", price="100.4", cid="b1"), 0.0)) is None
    # same side as our resting sell, and above our resting buy: no cross
    assert reason(eng.check(intent(side="sell", amount="1", price="100.6", cid="s2"), 0.0)) is None
    # an IOC sell does not rest: a crossing buy after it is fine
    eng2 = engine()
    ioc = intent(side="sell", amount="1", price="100.5", cid="ioc")
    ioc = msgspec.structs.replace(ioc, time_in_force="IOC")
    assert reason(eng2.check(ioc, 0.0)) is None
    assert reason(eng2.check(intent(side="buy", amount="1", price="101", cid="b"), 0.0)) is None
    # another venue's resting order does not count
    eng3 = engine()
    eng3.on_book(top(venue="other"))
    resting_sell(eng3)
    other = msgspec.structs.replace(
        intent(side="buy", amount="1", price="101", cid="o"), venue="other"
    )
    assert reason(eng3.check(other, 0.0)) is None
    # a market buy crosses any resting sell of ours
    market = msgspec.structs.replace(
        intent(side="buy", amount="1", price=None, cid="m"), order_type="market"
    )
    assert reason(eng3.check(market, 0.0)) is R.SELF_TRADE


def test_max_open_orders_per_venue_leaves_other_venues_trading() -> None:
    eng = engine(venues={"sim": VenueLimits(max_open_orders=2)}, self_trade="off")
    eng.on_book(top(venue="other"))
    for i in range(2):
        assert reason(eng.check(intent(amount="0.1", cid=f"s{i}"), 0.0)) is None
    stuck = eng.check(intent(amount="0.1", cid="s3"), 0.0)
    assert reason(stuck) is R.OPEN_ORDERS_LIMIT
    assert "2 open orders on sim >= its max_open_orders 2" in stuck.detail  # type: ignore[union-attr]
    elsewhere = msgspec.structs.replace(intent(amount="0.1", cid="o1"), venue="other")
    assert reason(eng.check(elsewhere, 0.0)) is None
