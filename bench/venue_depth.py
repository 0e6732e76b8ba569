"""Highest depth-update rate the embedded venue sustains to one ccxt.pro client, book in sync.

The venue runs in its own process (``run_sim_exchange``); this process runs one ccxt.pro
``watch_order_book`` client and, as the same-run baseline, a bare trio+wsproto client that
keeps its own book with Binance's recipe. Each step sets the synthetic rate, runs for
``STEP_S`` seconds, pauses the market and checks both books against the venue's own.

Run: ``.venv/bin/python bench/venue_depth.py``
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import ccxt
import ccxt.pro
import msgspec
import trio
import trio_asyncio
from wsproto import WSConnection
from wsproto.connection import ConnectionType
from wsproto.events import AcceptConnection, Ping, Request, TextMessage

SYM = "BTC/USDT"
RATES = [1000, 4000, 16000, 32000, 64000, 128000, 256000]
STEP_S = 4.0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


TOKEN: dict[str, str] = {}
"""The venue's control token, from the line ``sim-exchange`` printed."""


async def http(port: int, method: str, path: str, body: bytes = b"") -> Any:
    """One HTTP/1.1 request to the venue; returns the decoded JSON body."""
    async with await trio.open_tcp_stream("127.0.0.1", port) as s:
        auth = f"X-Sim-Token: {TOKEN['token']}\r\n" if path.startswith("/_sim") else ""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Length: {len(body)}\r\n{auth}\r\n"
        )
        await s.send_all(head.encode() + body)
        data = b""
        while chunk := await s.receive_some(1 << 16):
            data += chunk
    return msgspec.json.decode(data.partition(b"\r\n\r\n")[2])


class RawBook:
    """A minimal Binance-recipe book over a bare wsproto connection (the baseline client)."""

    def __init__(self) -> None:
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.nonce: int | None = None
        self.buffer: list[dict[str, Any]] = []
        self.frames = 0
        self.gaps = 0

    def apply(self, ev: dict[str, Any]) -> None:
        """Apply one diff (Binance spot rules)."""
        if self.nonce is None:
            self.buffer.append(ev)
            return
        if ev["u"] <= self.nonce:
            return
        if ev["U"] != self.nonce + 1 and not (ev["U"] <= self.nonce + 1 <= ev["u"]):
            self.gaps += 1
        for side, key in ((self.bids, "b"), (self.asks, "a")):
            for p, q in ev[key]:
                if float(q) == 0:
                    side.pop(p, None)
                else:
                    side[p] = q
        self.nonce = ev["u"]

    def as_lists(self) -> tuple[list[list[float]], list[list[float]]]:
        """Sorted float levels, comparable with ccxt's and the venue's."""
        b = sorted(([float(p), float(q)] for p, q in self.bids.items()), reverse=True)
        a = sorted([float(p), float(q)] for p, q in self.asks.items())
        return b, a


async def raw_client(port: int, book: RawBook) -> None:
    """Subscribe, snapshot, apply diffs forever.

    wsproto hands a large message over in pieces as its bytes arrive (``message_finished``
    false until the last); they are joined before decoding. (Decoding each piece was this
    client's bug behind ``msgspec.DecodeError: Input data was truncated`` at the 128k step,
    where one 100 ms diff outgrows a TCP read; the venue sends whole frames.)
    """
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    ws = WSConnection(ConnectionType.CLIENT)
    await stream.send_all(ws.send(Request(host="127.0.0.1", target="/ws")))
    parts: list[str] = []
    while True:
        ws.receive_data(await stream.receive_some(1 << 20))
        for ev in ws.events():
            if isinstance(ev, AcceptConnection):
                sub = {"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 1}
                await stream.send_all(ws.send(TextMessage(msgspec.json.encode(sub).decode())))
                snap = await http(port, "GET", "/api/v3/depth?symbol=BTCUSDT&limit=5000")
                book.bids = dict(snap["bids"])
                book.asks = dict(snap["asks"])
                book.nonce = snap["lastUpdateId"]
                pending, book.buffer = book.buffer, []
                for e in pending:
                    book.apply(e)
            elif isinstance(ev, TextMessage):
                parts.append(ev.data)
                if not ev.message_finished:
                    continue
                msg = msgspec.json.decode("".join(parts))
                parts = []
                if msg.get("e") == "depthUpdate":
                    book.frames += 1
                    book.apply(msg)
            elif isinstance(ev, Ping):
                await stream.send_all(ws.send(ev.response()))


async def main() -> None:
    """Step the rate up, report each step and the highest in-sync rate."""
    code = (
        "from actors.venues import run_sim_exchange;"
        "run_sim_exchange(ports=[0], symbols=['BTC/USDT'], seed=1, rate_hz=50.0)"
    )
    # started once, before anything is timed
    argv = [sys.executable, "-c", code]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, cwd=ROOT)  # noqa: ASYNC220
    assert proc.stdout is not None
    line = msgspec.json.decode(proc.stdout.readline())
    port = int(line["url"].rsplit(":", 1)[1])
    TOKEN["token"] = line["control"]["token"]
    cfg = line["ccxt"]
    cfg["enableRateLimit"] = False
    results: list[dict[str, Any]] = []
    t_start = time.monotonic()
    try:
        async with trio_asyncio.open_loop():
            ex = ccxt.pro.binance(cfg)
            try:
                await _steps(ex, port, results, t_start)
            finally:
                await trio_asyncio.aio_as_trio(ex.close)()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    best_ccxt = max((r["depth_updates_s"] for r in results if r["ccxt_in_sync"]), default=0)
    best_raw = max((r["depth_updates_s"] for r in results if r["raw_in_sync"]), default=0)
    print(f"highest depth updates/s with ccxt.pro in sync: {best_ccxt}")
    print(f"baseline, bare wsproto client in sync (same run): {best_raw}")
    if best_raw:
        print(f"ratio ccxt/baseline: {best_ccxt / best_raw:.2f}")
    print(f"total {time.monotonic() - t_start:.0f}s")


async def _steps(ex: Any, port: int, results: list[dict[str, Any]], t_start: float) -> None:
    """Run the rate steps with both clients attached."""
    async with trio.open_nursery() as nursery:
        raw = RawBook()
        nursery.start_soon(raw_client, port, raw)
        watch = trio_asyncio.aio_as_trio(ex.watch_order_book)
        await trio_asyncio.aio_as_trio(ex.load_markets)()
        stats = {"updates": 0, "resyncs": 0}

        async def watcher() -> None:
            while True:
                try:
                    await watch(SYM)
                    stats["updates"] += 1
                except ccxt.NetworkError:
                    stats["resyncs"] += 1

        nursery.start_soon(watcher)
        for rate in RATES:
            await http(port, "POST", "/_sim/market/rate", msgspec.json.encode({"rate_hz": rate}))
            await http(port, "POST", "/_sim/market/resume")
            s0 = await http(port, "GET", "/_sim/state")
            stats["updates"] = stats["resyncs"] = 0
            raw.frames = raw.gaps = 0
            t0 = time.monotonic()
            await trio.sleep(STEP_S)
            s1 = await http(port, "GET", "/_sim/state")
            dt = time.monotonic() - t0
            await http(port, "POST", "/_sim/market/pause")
            ids = s1["update_ids"]["BTCUSDT"] - s0["update_ids"]["BTCUSDT"]
            ccxt_ok = raw_ok = False
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not (ccxt_ok and raw_ok):
                await trio.sleep(0.2)
                own = await http(port, "GET", "/_sim/book/BTC/USDT")
                ob = ex.orderbooks.get(SYM)
                ccxt_ok = (
                    ob is not None
                    and ob["nonce"] == own["publishedUpdateId"] == own["lastUpdateId"]
                    and [list(x) for x in ob["bids"]] == own["bids"]
                    and [list(x) for x in ob["asks"]] == own["asks"]
                )
                rb, ra = raw.as_lists()
                raw_ok = raw.nonce == own["lastUpdateId"] and (rb, ra) == (
                    own["bids"],
                    own["asks"],
                )
            row = {
                "target_events_s": rate,
                "depth_updates_s": round(ids / dt),
                "ccxt_in_sync": ccxt_ok and stats["resyncs"] == 0,
                "ccxt_resyncs": stats["resyncs"],
                "ccxt_book_updates_s": round(stats["updates"] / dt, 1),
                "raw_in_sync": raw_ok and raw.gaps == 0,
                "raw_frames_s": round(raw.frames / dt, 1),
            }
            results.append(row)
            print(row, flush=True)
            if not row["ccxt_in_sync"] and not row["raw_in_sync"]:
                break
            if time.monotonic() - t_start > 150:
                break
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
