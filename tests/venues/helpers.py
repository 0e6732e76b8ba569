"""Helpers: a real ccxt.pro client for a venue, bounded waits, book comparison."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import ccxt.pro
import trio
import trio_asyncio

from actors.venues import Venue, ccxt_config


class Client:
    """A ccxt.pro binance instance whose coroutine methods are called from trio."""

    def __init__(self, exchange: Any, loop: Any = None) -> None:
        self.ex = exchange
        self.loop = loop
        """The trio-asyncio loop the exchange runs on."""

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        """``await client.fetch_order_book("BTC/USDT")`` runs ccxt's coroutine on asyncio."""
        return trio_asyncio.aio_as_trio(getattr(self.ex, name))


@asynccontextmanager
async def ccxt_client(
    venue: Venue, *, api_key: str | None = None, secret: str | None = None, **extra: Any
) -> AsyncIterator[Client]:
    """Open an asyncio loop inside trio and a ccxt.pro binance pointed at ``venue``."""
    cfg = ccxt_config(
        venue.port,
        venue.config.api_key if api_key is None else api_key,
        venue.config.secret if secret is None else secret,
    )
    cfg["enableRateLimit"] = False
    options = extra.pop("options", {})
    cfg["options"].update(options)
    cfg.update(extra)
    async with trio_asyncio.open_loop() as loop:
        exchange = ccxt.pro.binance(cfg)
        try:
            yield Client(exchange, loop)
        finally:
            await trio_asyncio.aio_as_trio(exchange.close)()


async def wait_until(
    predicate: Callable[[], bool], timeout: float = 10.0, describe: Callable[[], object] = str
) -> None:
    """Poll ``predicate`` until true; after ``timeout`` seconds fail, showing ``describe()``."""
    deadline = trio.current_time() + timeout
    while not predicate():
        if trio.current_time() > deadline:
            raise AssertionError(f"condition not met in {timeout}s: {describe()}")
        await trio.sleep(0.01)


def in_sync(venue: Venue, client: Client, symbol: str) -> bool:
    """Whether ccxt's live book has every diff the venue sent and nothing is pending."""
    book = client.ex.orderbooks.get(symbol)
    if book is None:
        return False
    own = venue.book(symbol)
    return own["lastUpdateId"] == own["publishedUpdateId"] == book["nonce"]


def sync_state(venue: Venue, client: Client, symbol: str) -> dict[str, object]:
    """Update ids on both sides, for failure messages."""
    book = client.ex.orderbooks.get(symbol)
    own = venue.book(symbol)
    return {
        "ccxt_nonce": None if book is None else book["nonce"],
        "venue_last": own["lastUpdateId"],
        "venue_published": own["publishedUpdateId"],
    }


def assert_same_book(venue: Venue, client: Client, symbol: str) -> None:
    """ccxt's book equals the venue's own, level by level."""
    own = venue.book(symbol)
    theirs = client.ex.orderbooks[symbol]
    assert [list(x) for x in theirs["bids"]] == own["bids"]
    assert [list(x) for x in theirs["asks"]] == own["asks"]


def ccxt_validator(name: str) -> Callable[..., None]:
    """ccxt's own structure validator ``name`` from ``ccxt/test/exchange/base/``."""
    import importlib

    module = importlib.import_module(f"ccxt.test.exchange.base.test_{name}")
    return getattr(module, f"test_{name}")


check_market = ccxt_validator("market")
check_order_book = ccxt_validator("order_book")
check_ticker = ccxt_validator("ticker")
check_trade = ccxt_validator("trade")
check_order = ccxt_validator("order")
check_balance = ccxt_validator("balance")


async def http(
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    token: str | None = None,
) -> tuple[int, bytes]:
    """A minimal HTTP/1.1 request over loopback; ``/_sim`` requests carry the control token
    of the venue of this process at ``port`` unless ``token`` is given ("" sends none)."""
    from actors.venues.control import local_token

    extra = dict(headers or {})
    if path.startswith("/_sim"):
        tok = local_token("127.0.0.1", port) if token is None else token
        if tok:
            extra["X-Sim-Token"] = tok
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in extra.items())
            + "\r\n"
        )
        await stream.send_all(head.encode() + body)
        data = b""
        with trio.fail_after(10):
            while chunk := await stream.receive_some(65536):
                data += chunk
    header, _, payload = data.partition(b"\r\n\r\n")
    return int(header.split()[1]), payload
