"""Positions: FIFO accounting invariants, fees, marks, exposure, daily PnL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.trading.messages import Fill
from actors.trading.positions import Portfolio, PositionError, to_decimal

D = Decimal


def fill(
    side: str,
    amount: str,
    price: str,
    trade_id: str,
    venue: str = "sim",
    symbol: str = "BTC/USDT",
    fee: str = "0",
    fee_currency: str | None = None,
) -> Fill:
    return Fill(
        client_order_id="c",
        venue=venue,
        symbol=symbol,
        side=side,  # type: ignore[arg-type]
        price=D(price),
        amount=D(amount),
        fee=D(fee),
        fee_currency=fee_currency,
        trade_id=trade_id,
    )


def test_fifo_realized_pnl() -> None:
    pf = Portfolio()
    pf.apply_fill(fill("buy", "1", "100", "1"))
    pf.apply_fill(fill("buy", "1", "110", "2"))
    pf.apply_fill(fill("sell", "1.5", "120", "3"))
    pos = pf.position("sim", "BTC/USDT")
    # FIFO: 1 @100 closes (+20), then 0.5 @110 closes (+5)
    assert pos.realized_pnl == D("25")
    assert pos.quantity == D("0.5") and pos.average_price == D("110")
    assert pos.unrealized_pnl(D("100")) == D("-5")


def test_flip_from_long_to_short() -> None:
    pf = Portfolio()
    pf.apply_fill(fill("buy", "1", "100", "1"))
    pf.apply_fill(fill("sell", "3", "90", "2"))
    pos = pf.position("sim", "BTC/USDT")
    assert pos.realized_pnl == D("-10")
    assert pos.quantity == D("-2") and pos.average_price == D("90")
    pf.apply_fill(fill("buy", "2", "80", "3"))
    assert pos.is_flat and pos.realized_pnl == D("10") and pos.average_price is None


def test_same_trade_twice_counts_once_but_per_venue() -> None:
    pf = Portfolio()
    assert pf.apply_fill(fill("buy", "1", "100", "t1")) is True
    assert pf.apply_fill(fill("buy", "1", "100", "t1")) is False
    assert pf.apply_fill(fill("buy", "1", "100", "t1", venue="other")) is True
    assert pf.net_quantity("BTC/USDT") == D("2")


def test_fees_quote_base_and_other() -> None:
    pf = Portfolio()
    pf.apply_fill(fill("buy", "1", "100", "1", fee="0.1", fee_currency="USDT"))
    pf.apply_fill(fill("buy", "1", "200", "2", fee="0.001", fee_currency="BTC"))
    pf.apply_fill(fill("buy", "1", "100", "3", fee="0.5", fee_currency="BNB"))
    pf.apply_fill(fill("buy", "1", "100", "4", fee="0.3"))  # no currency: quote
    pos = pf.position("sim", "BTC/USDT")
    assert pos.fees == D("0.1") + D("0.2") + D("0.3")
    assert pos.other_fees == {"BNB": D("0.5")}
    assert pos.net_realized_pnl == -pos.fees
    assert pos.quantity == D("4")  # a base fee is valued, not taken off the quantity


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"amount": "0"}, "fill t of order c on sim: amount must be > 0, got 0"),
        ({"price": "-1"}, "price must be > 0, got -1"),
        ({"fee": "NaN"}, "fee must be finite"),
        ({"symbol": "BTCUSDT"}, "BASE/QUOTE"),
    ],
)
def test_bad_fill_is_refused_and_nothing_changes(kw: dict[str, str], needle: str) -> None:
    pf = Portfolio()
    pf.apply_fill(fill("buy", "1", "100", "ok"))
    args = {"side": "buy", "amount": "1", "price": "100", "trade_id": "t"} | kw
    with pytest.raises(PositionError, match=needle):
        pf.apply_fill(fill(**args))  # type: ignore[arg-type]
    assert pf.net_quantity("BTC/USDT") == D("1")
    # the refused trade id was not remembered
    assert pf.apply_fill(fill("buy", "1", "100", "t")) is True


def test_marks_and_aggregation_across_venues() -> None:
    pf = Portfolio()
    pf.apply_fill(fill("buy", "2", "100", "1", venue="a"))
    pf.apply_fill(fill("sell", "1", "104", "2", venue="b"))
    assert pf.unrealized_pnl("a", "BTC/USDT") is None  # no mark yet
    assert pf.summary("BTC/USDT").unrealized_pnl is None
    pf.mark("BTC/USDT", 101.5, venue="a")
    pf.mark("BTC/USDT", 102.0)
    assert pf.unrealized_pnl("a", "BTC/USDT") == D("3")  # 2 * (101.5 - 100)
    assert pf.unrealized_pnl("b", "BTC/USDT") == D("2")  # -1 * (102 - 104)
    s = pf.summary("BTC/USDT")
    assert s.quantity == D("1") and s.unrealized_pnl == D("5")
    assert s.average_price == D("96")  # (2*100 - 1*104) / 1
    assert pf.gross_exposure() == D("2") * D("101.5") + D("1") * D("102")
    assert pf.gross_exposure("BTC") == 0
    with pytest.raises(ValueError, match="must be > 0"):
        pf.mark("BTC/USDT", 0.0)
    with pytest.raises(ValueError, match="finite"):
        to_decimal(float("inf"))


def test_gross_exposure_without_mark_uses_entry() -> None:
    pf = Portfolio()
    pf.apply_fill(fill("sell", "2", "50", "1", symbol="ETH/USDT"))
    assert pf.gross_exposure("USDT") == D("100")


def test_daily_pnl_resets_at_the_configured_utc_hour() -> None:
    pf = Portfolio(day_start_hour_utc=8)
    day0 = 1_700_000_000 - 1_700_000_000 % 86400  # a UTC midnight
    assert pf.roll_day(day0 + 3600) is True  # 01:00 belongs to the day that began 08:00 before
    pf.apply_fill(fill("buy", "1", "100", "1"))
    pf.mark("BTC/USDT", D("90"))
    assert pf.daily_pnl(day0 + 7 * 3600) == D("-10")
    assert pf.next_day_start(day0 + 3600) == day0 + 8 * 3600
    assert pf.daily_pnl(day0 + 8 * 3600) == 0  # new day: loss so far is yesterday's
    pf.mark("BTC/USDT", D("95"))
    assert pf.daily_pnl(day0 + 9 * 3600) == D("5")
    assert pf.roll_day(day0) is False  # the clock stepped back: keep the day
    with pytest.raises(ValueError, match=r"0\.\.23"):
        Portfolio(day_start_hour_utc=24)


fills_strategy = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell"]),
        st.decimals(min_value=D("0.001"), max_value=D("10"), places=3),
        st.decimals(min_value=D("1"), max_value=D("1000"), places=2),
        st.sampled_from(["a", "b"]),
        st.decimals(min_value=D("0"), max_value=D("1"), places=4),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(fills_strategy, st.decimals(min_value=D("1"), max_value=D("1000"), places=2))
def test_accounting_invariants(fills, mark) -> None:
    pf = Portfolio()
    signed = {"a": D(0), "b": D(0)}
    cash = {"a": D(0), "b": D(0)}
    fees = D(0)
    for i, (side, amount, price, venue, fee) in enumerate(fills):
        f = fill(side, str(amount), str(price), str(i), venue=venue, fee=str(fee))
        assert pf.apply_fill(f)
        assert not pf.apply_fill(f)  # duplicates never count
        s = amount if side == "buy" else -amount
        signed[venue] += s
        cash[venue] -= s * price
        fees += fee
    pf.mark("BTC/USDT", mark)
    for venue in ("a", "b"):
        pos = pf.position(venue, "BTC/USDT")
        assert pos.quantity == signed[venue]
        assert pos.cash_flow == cash[venue]
        unrealized = pos.unrealized_pnl(mark)
        # exact: no rounding anywhere in FIFO accounting
        assert pos.realized_pnl + unrealized == cash[venue] + signed[venue] * mark
        # lots all point the same way
        assert len({lot.quantity > 0 for lot in pos.lots}) <= 1
    assert pf.net_quantity("BTC/USDT") == signed["a"] + signed["b"]
    total_fees = sum(p.fees for p in pf.positions())
    assert total_fees == fees
    assert pf.total_pnl() == sum(cash.values()) + sum(signed.values()) * mark - fees
