"""Exchange dialects, client ids per dialect and rounding through a market (no network)."""

from __future__ import annotations

import functools
import random
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.pro
import pytest
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, SIGNIFICANT_DIGITS, TICK_SIZE
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.trading.ccxt_bridge import fetch_all_trades, market_info_of
from actors.trading.config import StrategySpec, VenueSpec
from actors.trading.desk import client_id_format
from actors.trading.dialects import ClientIdRules, Dialect, dialect_for, strictest
from actors.trading.ids import ClientIdFormat, ClientOrderIdGenerator, owner_of, strategy_tag
from actors.trading.markets import MarketInfo

DIALECTS = ["binance", "binanceus", "okx", "kraken"]
"""Exchanges with a dialect file, and one that gets the generic default."""

# --- lookup --------------------------------------------------------------------------------


def test_each_exchange_gets_its_file_or_the_generic_default() -> None:
    assert dialect_for("binance").client_ids == ClientIdRules(36, r"[.A-Z:/a-z0-9_-]")
    assert dialect_for("binanceus").client_ids == dialect_for("binance").client_ids
    assert dialect_for("okx").client_ids == ClientIdRules(32, "[A-Za-z0-9]")
    generic = dialect_for("kraken")
    assert type(generic) is Dialect and generic.generic and generic.exchange == "kraken"
    assert not dialect_for("okx").generic
    assert dialect_for("../etc").exchange == "../etc"  # never imported as a module path
    assert strictest([dialect_for("binance"), dialect_for("okx")]) == ClientIdRules(32)


def test_unified_parameters_everywhere_and_dialect_extras_only_where_known() -> None:
    for name in DIALECTS:
        d = dialect_for(name)
        assert d.lookup_params("c1") == {"clientOrderId": "c1"}  # never origClientOrderId
    binance, okx, generic = dialect_for("binance"), dialect_for("okx"), dialect_for("kraken")
    assert binance.order_params("c1", "GTC", "cancel_resting") == {
        "clientOrderId": "c1",
        "timeInForce": "GTC",
        "selfTradePrevention": "EXPIRE_MAKER",
    }
    assert okx.order_params("c1", "IOC", "cancel_both")["selfTradePrevention"] == "EXPIRE_BOTH"
    assert generic.order_params("c1", None, "reject") == {"clientOrderId": "c1"}
    assert binance.order_params("c1", None, None) == {"clientOrderId": "c1"}
    assert binance.ticker_params == {"name": "ticker"} and okx.ticker_params == {}


def test_ccxt_turns_the_unified_self_trade_param_into_each_exchange_own() -> None:
    market = {"id": "BTCUSDT", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT",
              "spot": True, "type": "spot", "precision": {"price": 0.01, "amount": 0.00001},
              "limits": {}, "info": {"orderTypes": ["LIMIT", "MARKET"]}}  # fmt: skip
    seen = {}
    for name, field, want in [
        ("binance", "selfTradePreventionMode", "EXPIRE_MAKER"),
        ("okx", "stpMode", "cancel_maker"),
    ]:
        ex = getattr(ccxt, name)()
        ex.set_markets([{**market, "id": "BTC-USDT" if name == "okx" else "BTCUSDT"}])
        params = dialect_for(name).order_params("c1", "GTC", "cancel_resting")
        request = ex.create_order_request("BTC/USDT", "limit", "buy", 0.001, 60000, params)
        seen[name] = request.get(field)
        assert seen[name] == want, (name, request)


def test_only_dialects_that_confirm_the_private_stream_call_authenticate() -> None:
    bybit = ccxt.pro.bybit()  # its authenticate(url) needs a url: never called generically
    assert dialect_for("bybit").authenticate(bybit) is None
    okx = ccxt.pro.okx()
    assert dialect_for("okx").authenticate(okx) == okx.authenticate
    assert dialect_for("okx").ws_order_entry(okx)
    assert not dialect_for("coinbase").ws_order_entry(ccxt.pro.coinbase())
    assert not Dialect(ws_orders=False).ws_order_entry(okx)


@pytest.mark.parametrize(
    ("name", "exc", "want"),
    [
        ("okx", ccxt.ExchangeError('okx {"code":"50100","msg":"API frozen"}'), "auth"),
        ("okx", ccxt.AuthenticationError('okx {"code":"50113","msg":"Invalid Sign"}'), "auth"),
        ("okx", ccxt.InvalidNonce('okx {"code":"50102","msg":"Timestamp expired"}'), "clock"),
        ("okx", ccxt.BadRequest('okx {"code":"1","data":[{"sCode":"51000"}]}'), None),
        ("binance", ccxt.BadRequest('binance {"code":-1021,"msg":"outside recvWindow"}'), "clock"),
        ("binance", ccxt.BadRequest('binance {"code":-1022,"msg":"Signature"}'), "auth"),
        ("binance", ccxt.PermissionDenied("binance IP not allowed"), "auth"),
        ("kraken", ccxt.ExchangeError('kraken {"code":"50100"}'), None),
        ("kraken", RuntimeError("-1021"), None),
    ],
)
def test_credential_errors_by_class_then_by_the_dialect_codes(
    name: str, exc: BaseException, want: str | None
) -> None:
    assert dialect_for(name).credential_error(exc) == want


async def test_okx_fills_page_backwards_by_bill_id_binance_forward_by_trade_id() -> None:
    fills = [{"id": f"t{i}", "order": "9", "info": {"billId": str(1000 + i)}} for i in range(250)]
    calls: list[dict[str, Any]] = []

    async def okx_fills(symbol: str, since: Any, limit: int, params: dict[str, Any]) -> Any:
        calls.append(params)
        older = [
            f for f in reversed(fills) if int(f["info"]["billId"]) < int(params.get("after", 10**9))
        ]
        return older[:limit]  # fmt: skip

    okx = dialect_for("okx")
    got = await fetch_all_trades(okx_fills, "BTC/USDT", "9", dialect=okx)
    assert sorted(t["id"] for t in got) == sorted(f["id"] for f in fills)
    assert calls == [
        {"ordId": "9"},
        {"ordId": "9", "after": "1150"},
        {"ordId": "9", "after": "1050"},
    ]
    # The generic dialect asks once, unfiltered (the caller filters by order id).
    calls.clear()
    assert len(await fetch_all_trades(okx_fills, "BTC/USDT", "9", dialect=Dialect())) == 100
    assert calls == [{}]


# --- client ids ----------------------------------------------------------------------------

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
names = st.text(min_size=1, max_size=30).filter(lambda s: any(c in ALNUM for c in s))
prefixes = st.text(alphabet=ALNUM, min_size=1, max_size=4)


@settings(max_examples=200)
@given(
    name=names,
    prefix=prefixes,
    when=st.floats(min_value=0, max_value=2.8e9),
    seed=st.integers(0, 2**32),
    skip=st.integers(0, 36**4 - 50),
    exchange=st.sampled_from(DIALECTS),
)
def test_client_ids_are_valid_for_every_dialect_and_name_their_owner(
    name: str, prefix: str, when: float, seed: int, skip: int, exchange: str
) -> None:
    rules = dialect_for(exchange).client_ids
    fmt = ClientIdFormat(prefix=prefix, max_len=rules.max_len)
    gen = fmt.generator(name, wall_clock=lambda: when, rng=random.Random(seed))
    gen._counter = skip  # late in a long session: the counter is at its widest
    decoy = "zz9" if strategy_tag(name) != "zz9" else "yy8"
    for cid in [gen.next() for _ in range(50)]:
        assert rules.accepts(cid), (exchange, cid)
        assert owner_of(cid, [decoy, name], prefix) == name


def test_a_desk_refuses_ids_its_strictest_venue_cannot_take() -> None:
    venues = [VenueSpec("b", {}, ("BTC/USDT",)), VenueSpec("o", {}, ("BTC/USDT",), exchange="okx")]
    assert client_id_format(venues, [StrategySpec("mm", "x:Y")], "ax").max_len == 32
    digits_only = ClientIdRules(10, "[0-9]")
    with pytest.raises(ValueError, match="do not fit"):
        ClientOrderIdGenerator("mm", max_len=digits_only.max_len)
    assert not digits_only.accepts(ClientIdFormat().generator("mm").next())


# --- rounding through a market -------------------------------------------------------------

MODES = {
    TICK_SIZE: {"price": 0.05, "amount": 0.001},
    DECIMAL_PLACES: {"price": 2, "amount": 4},
    SIGNIFICANT_DIGITS: {"price": 5, "amount": 3},
}


@functools.cache
def _exchange(mode: int) -> tuple[Any, MarketInfo]:
    ex = ccxt.Exchange()
    ex.precisionMode = mode
    market = {"id": "X", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT", "spot": True,
              "precision": MODES[mode], "limits": {"amount": {"min": 0.001},
                                                   "cost": {"min": 5.0}}}  # fmt: skip
    ex.set_markets([market])
    return ex, market_info_of("sim", ex.markets["BTC/USDT"], mode)


@settings(max_examples=300)
@given(
    mode=st.sampled_from(sorted(MODES)),
    value=st.decimals(min_value="1", max_value="1000000", places=7),
)
def test_rounding_matches_ccxt_and_up_down_bracket_the_value(mode: int, value: Decimal) -> None:
    ex, market = _exchange(mode)
    assert market.price(value) == Decimal(ex.price_to_precision("BTC/USDT", value))
    assert market.amount(value) == Decimal(ex.amount_to_precision("BTC/USDT", value))
    down, up = market.price(value, "down"), market.price(value, "up")
    assert down <= value <= up
    assert market.price(down) == down and market.price(up) == up  # both on the grid
    assert up - down in (0, market.tick(down), market.tick(up))


def test_limits_are_checked_with_the_figure_and_the_bound() -> None:
    _, market = _exchange(TICK_SIZE)
    assert market.problem(Decimal("0.0001"), Decimal("60000")) == (
        "BTC/USDT on sim: amount 0.0001 is below the minimum 0.001"
    )
    assert market.problem(Decimal("0.001"), Decimal("1000")) == (
        "BTC/USDT on sim: cost 1 is below the minimum 5"
    )
    assert market.problem(Decimal("0.001"), Decimal("60000")) is None
    with pytest.raises(ValueError, match="finite"):
        market.price(float("nan"))
