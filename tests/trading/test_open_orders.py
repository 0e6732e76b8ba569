"""A reconciliation's open orders: one call for every symbol where the exchange allows it.

Against the embedded venue and ccxt's unmodified classes: Binance answers ``openOrders``
without a symbol (one request for the desk's symbols, however many), OKX pages that answer,
so it is asked per symbol.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.trading.dialects import dialect_for
from actors.trading.private import open_orders
from actors.venues import VenueConfig, open_venue
from tests.venues.helpers import ccxt_client

SYMBOLS = ("BTC/USDT", "ETH/USDT", "S0/USDT")


@pytest.mark.parametrize(("protocol", "calls"), [("binance", [None]), ("okx", list(SYMBOLS[:2]))])
async def test_open_orders_of_many_symbols_in_as_few_calls_as_the_exchange_allows(
    protocol: str, calls: list[str | None]
) -> None:
    async with open_venue(VenueConfig(protocol=protocol, seed=3, symbols=SYMBOLS)) as venue:
        venue.pause_market()
        async with ccxt_client(venue) as client:
            await client.load_markets()
            for n, symbol in enumerate(SYMBOLS):  # one resting buy on each symbol
                price = float(
                    client.ex.price_to_precision(symbol, venue.book(symbol)["bids"][0][0] * 0.9)
                )
                amount = float(client.ex.amount_to_precision(symbol, 50 / price))  # notional 50
                params = {"clientOrderId": f"o{n}"}
                await client.create_order(symbol, "limit", "buy", amount, price, params)
            asked: list[Any] = []
            fetch = client.ex.fetch_open_orders

            async def counted(symbol: str | None = None, *args: Any, **kwargs: Any) -> Any:
                asked.append(symbol)
                return await fetch(symbol, *args, **kwargs)

            client.ex.fetch_open_orders = counted
            found = await open_orders(client.ex, dialect_for(protocol), "v", SYMBOLS[:2])
    # The orders of the symbols asked for, none of the third's, in the calls expected.
    assert sorted((o.client_order_id, o.symbol) for o in found) == [
        ("o0", "BTC/USDT"),
        ("o1", "ETH/USDT"),
    ]
    assert asked == calls
