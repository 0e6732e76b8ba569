"""How the desk builds its ccxt.pro instances."""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from actors.trading.ccxt_bridge import make_exchange, snapshot_of, trade_tick_of
from actors.trading.market_data import ticker_of


def test_instances_share_one_ssl_context_per_ca_file() -> None:
    # ccxt would parse the CA bundle again for each instance, on every session restart,
    # with the event loop blocked meanwhile.
    first = make_exchange("binance", {}, None)
    second = make_exchange("okx", {}, None)
    assert isinstance(first.ssl_context, ssl.SSLContext)
    assert first.ssl_context is second.ssl_context
    assert first.ssl_context.verify_mode == ssl.CERT_REQUIRED


def test_an_instance_that_does_not_verify_or_adds_os_certificates_is_left_to_ccxt() -> None:
    assert make_exchange("binance", {"verify": False}, None).ssl_context is None
    options = {"options": {"include_OS_certificates": True}}
    assert make_exchange("binance", options, None).ssl_context is None


@pytest.mark.parametrize(
    ("price", "amount"), [("NaN", "1"), ("1", "inf"), ("-1", "1"), ("1", "0"), (None, "1")]
)
def test_an_impossible_trade_or_book_level_is_refused_where_it_is_converted(
    price: Any, amount: Any
) -> None:
    trade = {"symbol": "BTC/USDT", "price": price, "amount": amount, "id": "7"}
    with pytest.raises((ValueError, TypeError)):
        trade_tick_of("sim", trade, 0.0)
    book = {"bids": [[price, amount]], "asks": [], "nonce": 1}
    with pytest.raises((ValueError, TypeError)):
        snapshot_of("sim", "BTC/USDT", book, 5, 0.0)


def test_a_ticker_with_a_non_finite_figure_is_refused() -> None:
    with pytest.raises(ValueError, match="bid"):
        ticker_of("sim", "BTC/USDT", {"bid": float("nan"), "ask": 2.0}, 0.0)
    assert ticker_of("sim", "BTC/USDT", {"bid": 1.0, "ask": None}, 0.0).ask is None
