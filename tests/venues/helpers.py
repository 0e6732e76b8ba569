"""Helpers: a real ccxt.pro client for a venue, bounded waits, book comparison."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import ccxt.pro
import trio
import trio_asyncio

from actors.venues import Venue, venue_ccxt_config


class Client:
    """A ccxt.pro instance whose coroutine methods are called from trio."""

    def __init__(self, exchange: Any, loop: Any = None) -> None:
        self.ex = exchange
        self.loop = loop
        """The trio-asyncio loop the exchange runs on."""

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        """``await client.fetch_order_book("BTC/USDT")`` runs ccxt's coroutine on asyncio."""
        return trio_asyncio.aio_as_trio(getattr(self.ex, name))


@asynccontextmanager
async def ccxt_client(
    venue: Venue,
    *,
    api_key: str | None = None,
    secret: str | None = None,
    password: str | None = None,
    **extra: Any,
) -> AsyncIterator[Client]:
    """Open an asyncio loop inside trio and the unmodified ccxt.pro class of the venue's
    protocol (``binance`` or ``okx``) pointed at ``venue``."""
    cfg = venue_ccxt_config(venue)
    for key, value in (("apiKey", api_key), ("secret", secret), ("password", password)):
        if value is not None:
            cfg[key] = value
    cfg["enableRateLimit"] = False
    if venue.certificate is None:
        # ccxt sleeps 250 ms in close() for aiohttp's TLS shutdown; plain http needs none
        cfg["timeout_on_exit"] = 0
    options = extra.pop("options", {})
    cfg["options"].update(options)
    cfg.update(extra)
    async with trio_asyncio.open_loop() as loop:
        exchange = getattr(ccxt.pro, venue.config.protocol)(cfg)
        try:
            yield Client(exchange, loop)
        finally:
            await trio_asyncio.aio_as_trio(exchange.close)()


async def keep_watching(c: Client, method: str, *args: object) -> None:
    """Hold a ccxt watch open; results land in ccxt's caches, which the test inspects."""
    while True:
        await getattr(c, method)(*args)


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


class RawWs:
    """A bare websocket client (wsproto over a trio TCP stream): whole text messages in,
    text out, websocket pings answered. For what ccxt does not reach (or must not hide)."""

    def __init__(self, stream: trio.SocketStream, ws: Any) -> None:
        self.stream = stream
        self.ws = ws
        self._parts: list[str] = []
        self._ready: list[str] = []
        self.closed = False

    @classmethod
    async def connect(cls, port: int, target: str) -> RawWs:
        """Open ``ws://127.0.0.1:<port><target>``; raises ``ConnectionRefusedError`` with the
        HTTP status if the server refuses the upgrade."""
        from wsproto import WSConnection
        from wsproto.connection import ConnectionType
        from wsproto.events import AcceptConnection, RejectConnection, Request

        stream = await trio.open_tcp_stream("127.0.0.1", port)
        ws = WSConnection(ConnectionType.CLIENT)
        await stream.send_all(ws.send(Request(host="127.0.0.1", target=target)))
        with trio.fail_after(10):
            while True:
                data = await stream.receive_some(65536)
                if not data:
                    raise ConnectionResetError("closed during the handshake")
                ws.receive_data(data)
                for ev in ws.events():
                    if isinstance(ev, AcceptConnection):
                        return cls(stream, ws)
                    if isinstance(ev, RejectConnection):
                        await stream.aclose()
                        raise ConnectionRefusedError(ev.status_code)

    async def send(self, text: str) -> None:
        """Send one text message."""
        from wsproto.events import TextMessage

        await self.stream.send_all(self.ws.send(TextMessage(text)))

    async def recv(self, timeout: float = 10.0) -> str:
        """The next whole text message (fragments joined)."""
        from wsproto.events import CloseConnection, Ping, TextMessage

        with trio.fail_after(timeout):
            while not self._ready:
                data = await self.stream.receive_some(1 << 20)
                if not data:
                    self.closed = True
                    raise ConnectionResetError("peer closed")
                self.ws.receive_data(data)
                for ev in self.ws.events():
                    if isinstance(ev, TextMessage):
                        self._parts.append(ev.data)
                        if ev.message_finished:
                            self._ready.append("".join(self._parts))
                            self._parts = []
                    elif isinstance(ev, Ping):
                        await self.stream.send_all(self.ws.send(ev.response()))
                    elif isinstance(ev, CloseConnection):
                        self.closed = True
                        await self.stream.send_all(self.ws.send(ev.response()))
                        raise ConnectionResetError(f"closed by the server ({ev.code})")
            return self._ready.pop(0)

    async def aclose(self) -> None:
        """Close the TCP stream."""
        await self.stream.aclose()


def okx_checksum(bids: list[list[str]], asks: list[list[str]]) -> int:
    """OKX's documented book checksum, written here independently of the venue: up to 25
    levels, ``bid:size:ask:size`` interleaved, a short side left out, CRC32 as signed int."""
    import zlib

    parts: list[str] = []
    for i in range(25):
        if i < len(bids):
            parts += [bids[i][0], bids[i][1]]
        if i < len(asks):
            parts += [asks[i][0], asks[i][1]]
    value = zlib.crc32(":".join(parts).encode())
    return value - 2**32 if value >= 2**31 else value


def okx_string(x: float) -> str:
    """How OKX writes a number ccxt parsed into a float (no trailing zeros)."""
    from decimal import Decimal

    return format(Decimal(repr(x)).normalize(), "f")
