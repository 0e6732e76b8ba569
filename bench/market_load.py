"""Tick-to-order and book age at decision under market load: desk vs bare scripts vs a poller.

The embedded venue runs in this process with its synthetic market RUNNING at 100, 1,000 and
5,000 events/s (the depth-update rate is measured and reported: one Binance update id per
book-level change, sent to clients aggregated per 100 ms as on Binance). Each trial a second
venue account posts a sell at fair value (inside the spread) with a marker quantity; every
taker buys exactly that (IOC) on the first book it sees whose best ask shows the marker size.

Three venue-side clocks (``time.perf_counter``, comparable across processes on Linux):
``placed`` (the marker rests), ``emitted`` (the first depth update carrying it leaves,
``Venue.on_depth_published``), ``received`` (the taker's order arrives,
``Venue.on_order_received``). Two figures per trial:

* tick-to-order = received - emitted (websocket takers only: a poller has no emission);
* book age at decision = received - placed: how old the change was when the taker acted on
  it, which is what a strategy that acts on a stale book pays (depth batching, poll period,
  then the pipeline).

Takers, one process at a time, interleaved in blocks (A B C D A B C D), every rate inside a
block: ``desk`` (the full desk, ``desk_specs``, REST order entry), ``desk-ws`` (the same
with ``order_entry = "ws"``, not in the default set), ``bare`` (asyncio ccxt.pro
``watch_order_book`` -> ``create_order``), ``bare-ws`` (the same with ``create_order_ws``),
``poll`` (``fetch_order_book`` in a loop at the venue's permitted rate: Binance's 6,000 weight
per minute at weight 5 per depth call = one call per 50 ms, then ``create_order``).

The bench venue's fair value holds still and its synthetic takers trade only 20 bps away from
it (``open_bench_venue``), so nothing sweeps the marker before the takers see it; makers and
cancels still move the book at the stated rate (the update ids per second are measured).

Run: ``.venv/bin/python bench/market_load.py [--trials 15] [--blocks 2] [--out FILE.json]``
(about 3 min; ``--quick``: a few trials, under a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio

SCRIPT = str(Path(__file__).resolve())
ROOT = Path(SCRIPT).parents[1]
for _p in (str(ROOT), str(ROOT / "bench")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from tick_to_order import KEY, MAKER_KEY, MAKER_SECRET, SYM, pct, taker_ccxt_config  # noqa: E402

from actors.trading.messages import TopOfBook  # noqa: E402
from actors.trading.strategy import Strategy, StrategyParams  # noqa: E402
from actors.venues import Venue, VenueConfig  # noqa: E402
from actors.venues.binance.ratelimit import depth_weight  # noqa: E402
from actors.venues.config import symbol_spec  # noqa: E402

MARKER = Decimal("0.00137")
"""The opportunity's quantity: no synthetic maker quotes it (their sizes are random)."""
RATES = (100, 1000, 5000)
KINDS = ("desk", "desk-ws", "bare", "bare-ws", "poll")
WS_KINDS = frozenset({"desk", "desk-ws", "bare", "bare-ws"})
BINANCE_WEIGHT_PER_MINUTE = 6000
POLL_LIMIT = 5
JITTER = random.Random(7)
POLL_INTERVAL = 60.0 / (BINANCE_WEIGHT_PER_MINUTE / depth_weight(POLL_LIMIT))
"""Seconds between depth polls at Binance's permitted rate (0.05 s: 20 calls/s)."""


def machine() -> dict[str, Any]:
    """Where a result was measured: cores, python, load average (1/5/15 min) at the end."""
    return {"nproc": os.cpu_count(), "python": sys.version.split()[0], "loadavg": os.getloadavg()}


def is_marker(size: float | None) -> bool:
    """True when a best-ask size is the marker quantity."""
    return size is not None and abs(size - float(MARKER)) < 1e-9


@dataclass(frozen=True)
class BenchVenueConfig(VenueConfig):
    """The venue of this bench: fair value holds still, synthetic takers stay 20 bps off it."""

    def specs(self) -> list[Any]:
        """Each symbol's spec without volatility and with a negative taker band."""
        return [
            replace(symbol_spec(s), taker_band_bps=-20.0, vol_bps_per_sqrt_s=0.0)
            for s in self.symbols
        ]


def bench_venue_config(symbols: tuple[str, ...] = (SYM,), rate_hz: float = 100.0) -> VenueConfig:
    """A bench venue: rich accounts, no order-count or weight limit in the way of the takers."""
    rich = {"USDT": Decimal(10**9), "BTC": Decimal(1000), "ETH": Decimal(10**4)}
    return BenchVenueConfig(
        seed=1,
        symbols=symbols,
        rate_hz=rate_hz,
        order_limit_10s=10**6,
        weight_limit_1m=10**7,
        balances=rich,
    )


@asynccontextmanager
async def open_bench_venue(config: VenueConfig) -> AsyncIterator[Venue]:
    """Run a venue whose fair value never moves (no walk, no per-venue deviation).

    Makers then quote at least 0.5 bp off a fixed fair value and never cross, so an order at
    fair value rests untouched while makers and cancels move the book at the set rate. The
    account that posts the markers (``MAKER_KEY``) is funded.
    """
    from actors.venues.accounts import Account
    from actors.venues.synthetic import FairValueModel

    model = FairValueModel(config.seed, config.specs(), 1, divergence_bps=0.0)
    venue = Venue(config, model=model)
    async with trio.open_nursery() as nursery:
        await nursery.start(venue.run)
        venue.accounts.add(
            Account(MAKER_KEY, MAKER_SECRET, {"BTC": Decimal(100), "USDT": Decimal(10**7)})
        )
        try:
            yield venue
        finally:
            nursery.cancel_scope.cancel()


# --- the takers (each runs as its own process) -------------------------------------------


class MarkerTaker(Strategy):
    """Buys the marker quantity at the best ask on the first top showing it (once per nonce)."""

    class Params(StrategyParams, frozen=True, kw_only=True):
        """Nothing to set: the marker is the module's."""

    async def setup(self) -> None:
        """No marker seen yet."""
        self.fired_nonce = -1

    async def on_book(self, top: TopOfBook) -> None:
        """Decide on every top."""
        if top.stale or top.ask is None or not is_marker(top.ask_size):
            return
        nonce = top.nonce if top.nonce is not None else 0
        if nonce > self.fired_nonce:
            self.fired_nonce = nonce
            await self.submit(
                top.symbol,
                "buy",
                MARKER,
                Decimal(str(top.ask)),
                venue=top.venue,
                time_in_force="IOC",
            )


def _fire(book: dict[str, Any], fired: int) -> tuple[float, int] | None:
    """The price to buy at and the book's nonce, when this book shows a fresh marker."""
    asks = book["asks"]
    if not asks or not is_marker(asks[0][1]):
        return None
    nonce = book.get("nonce") or 0
    return (asks[0][0], nonce) if nonce > fired else None


async def bare_taker(port: int, ws_entry: bool) -> None:
    """A plain asyncio ccxt.pro loop: watch -> decide -> create_order (REST or ws-api)."""
    import ccxt.pro

    exchange = ccxt.pro.binance(taker_ccxt_config(port, "rolling"))
    create = exchange.create_order_ws if ws_entry else exchange.create_order
    try:
        await exchange.load_markets()
        if ws_entry:  # open the ws-api connection now, not on the first order
            await exchange.fetch_balance_ws()
        print("READY", flush=True)
        fired = -1
        while True:
            try:
                book = await exchange.watch_order_book(SYM)
            except ccxt.pro.NetworkError:  # dropped: the next watch reconnects and resyncs
                continue
            hit = _fire(book, fired)
            if hit is not None:
                price, fired = hit
                await create(SYM, "limit", "buy", float(MARKER), price, {"timeInForce": "IOC"})
    finally:
        await exchange.close()


async def poll_taker(port: int) -> None:
    """A REST-polling bot: fetch_order_book every POLL_INTERVAL (fixed deadlines)."""
    import ccxt.pro

    exchange = ccxt.pro.binance(taker_ccxt_config(port, "rolling"))
    loop = asyncio.get_running_loop()
    try:
        await exchange.load_markets()
        print("READY", flush=True)
        fired = -1
        deadline = loop.time()
        while True:
            deadline = max(deadline + POLL_INTERVAL, loop.time() - POLL_INTERVAL)
            book = await exchange.fetch_order_book(SYM, POLL_LIMIT)
            hit = _fire(book, fired)
            if hit is not None:
                price, fired = hit
                await exchange.create_order(
                    SYM, "limit", "buy", float(MARKER), price, {"timeInForce": "IOC"}
                )
            await asyncio.sleep(max(0.0, deadline - loop.time()))
    finally:
        await exchange.close()


async def desk_taker(
    port: int, journal: str, feed_reset_after: float | None = None, entry: str = "rest"
) -> None:
    """The full desk with one ``MarkerTaker`` strategy; orders over REST or the ws API.

    ``feed_reset_after``: shorten the venue-facing groups' backoff ``reset_after`` (default
    30 s), so drops a few seconds apart each restart from the initial backoff (``recovery.py``).
    """
    from actors.topology.build import Plan
    from actors.topology.run import open_plan
    from actors.trading.config import (
        DEFAULT_GROUPS,
        FEED_BACKOFF,
        DeskOptions,
        StrategySpec,
        VenueSpec,
    )
    from actors.trading.desk import desk_specs
    from actors.trading.risk import RiskLimits

    venue = VenueSpec(
        "sim",
        taker_ccxt_config(port, "rolling"),
        (SYM,),
        watch_trades=False,
        rate=1000.0,
        burst=100,
        order_entry=entry,  # type: ignore[arg-type]
    )
    strategy = StrategySpec("taker", "market_load:MarkerTaker", {})
    groups = dict(DEFAULT_GROUPS)
    if feed_reset_after is not None:
        backoff = replace(FEED_BACKOFF, reset_after=feed_reset_after)
        for name, policy in groups.items():
            if policy.backoff == FEED_BACKOFF:
                groups[name] = replace(policy, backoff=backoff)
    options = DeskOptions(journal_path=journal, groups=groups)
    specs = desk_specs([venue], [strategy], RiskLimits(), options)
    async with open_plan(Plan(specs, max_restarts=3, within=5.0)):
        print("READY", flush=True)
        await trio.sleep_forever()


# --- the venue side ------------------------------------------------------------------------


class Clocks:
    """Venue-side timestamps of one trial, fed by the venue's observer hooks."""

    def __init__(self, market_id: str) -> None:
        self.market_id = market_id
        self.reset()

    @classmethod
    def hooked(cls, venue: Venue) -> Clocks:
        """Clocks of the marker symbol, fed by ``venue``'s observer hooks."""
        clocks = cls(venue.market_of(SYM).id)
        venue.on_depth_published = clocks.on_depth
        venue.on_order_received = clocks.on_order
        return clocks

    def reset(self) -> None:
        """Forget the last trial."""
        self.placed: float | None = None
        self.emitted: float | None = None
        self.received: float | None = None
        self.order = trio.Event()

    def on_depth(self, market_id: str, update_id: int, at: float) -> None:
        """The first depth update after the marker was placed carries it."""
        if market_id == self.market_id and self.placed is not None and self.emitted is None:
            self.emitted = at

    def on_order(self, api_key: str, client_order_id: str | None, at: float) -> None:
        """The taker's first order of the trial stops the clocks."""
        if api_key == KEY and self.placed is not None and self.received is None:
            self.received = at
            self.order.set()


async def start_client(argv: list[str], timeout: float = 60.0) -> tuple[trio.Process, str]:
    """Start ``argv`` (a client of this venue); wait for its READY line and return it too."""
    proc = await trio.lowlevel.open_process(argv, stdout=subprocess.PIPE, cwd=str(ROOT))
    assert proc.stdout is not None
    with trio.fail_after(timeout):
        buf = b""
        while b"READY" not in buf:
            chunk = await proc.stdout.receive_some(4096)
            if not chunk:
                raise RuntimeError(f"{argv[2:]} exited before READY")
            buf += chunk
    line = buf[buf.index(b"READY") :].split(b"\n", 1)[0].decode()
    return proc, line


async def trial(
    venue: Any, clocks: Clocks, symbol: str = SYM, wait: float = 1.5
) -> tuple[float, float] | None:
    """Place one marker; (tick-to-order ms or nan, book age ms), or None when nobody took it."""
    maker = venue.accounts.by_key[MAKER_KEY]
    market = venue.market_of(symbol)
    # at fair value: no maker quotes within 0.5 bp of it and no synthetic taker reaches it
    price = Decimal(str(round(venue.market.fair(symbol_spec(symbol)), 2)))
    clocks.market_id = market.id
    clocks.reset()
    clocks.placed = time.perf_counter()
    venue.orders.place(
        maker,
        {"symbol": market.id, "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
         "quantity": str(MARKER), "price": str(price)},
    )  # fmt: skip
    with trio.move_on_after(wait):
        await clocks.order.wait()
    venue.orders.cancel_all(maker, {"symbol": market.id})
    if clocks.received is None:
        return None
    tick = (clocks.received - clocks.emitted) * 1000 if clocks.emitted else float("nan")
    return tick, (clocks.received - clocks.placed) * 1000


async def main(trials: int, blocks: int, kinds: tuple[str, ...], rates: tuple[int, ...]) -> dict:
    """Alternate blocks of takers; inside each block, every rate in turn."""

    res: dict[str, Any] = {
        "rates": {str(r): {k: {"tick": [], "age": [], "missed": 0} for k in kinds} for r in rates},
        "updates_per_s": {str(r): [] for r in rates},
    }
    with tempfile.TemporaryDirectory() as tmp:
        async with open_bench_venue(bench_venue_config()) as venue:
            clocks = Clocks.hooked(venue)
            for _ in range(blocks):
                for kind in kinds:
                    argv = [sys.executable, SCRIPT, "--client", kind, "--port", str(venue.port)]
                    argv += ["--journal", os.path.join(tmp, f"j-{time.time_ns()}.sqlite")]
                    proc, _ = await start_client(argv)
                    try:
                        await trio.sleep(1.0)  # subscriptions and start-up reconciliation
                        for rate in rates:
                            await _rate_block(venue, clocks, kind, rate, trials, res)
                    finally:
                        proc.kill()
                        await proc.wait()
    return res


async def _rate_block(
    venue: Any, clocks: Clocks, kind: str, rate: int, trials: int, res: dict
) -> None:
    """Run ``trials`` markers at ``rate`` against the running taker ``kind``."""
    venue.set_rate(rate)
    await trio.sleep(0.5)
    market = venue.market_of(SYM)
    u0, t0 = venue.engine.books[market.id].update_id, trio.current_time()
    row = res["rates"][str(rate)][kind]
    for _ in range(trials):
        got = await trial(venue, clocks)
        if got is None:
            row["missed"] += 1
        else:
            row["tick"].append(got[0])
            row["age"].append(got[1])
        # the cancel is published before the next marker; the jitter spreads markers over the
        # 100 ms depth period and the poll period (a fixed gap would phase-lock them)
        await trio.sleep(0.25 + JITTER.uniform(0.0, 0.1))
    u1, t1 = venue.engine.books[market.id].update_id, trio.current_time()
    res["updates_per_s"][str(rate)].append((u1 - u0) / (t1 - t0))


def report(res: dict) -> str:
    """Markdown: one row per rate and taker, ratios against ``bare`` of the same rate."""
    lines = [
        "| events/s | depth updates/s | taker | n | tick-to-order p50 / p99 / p99.9 ms "
        "| p50 vs bare | book age p50 / p99 ms | age p50 vs bare | missed |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for rate, row in res["rates"].items():
        ups = res["updates_per_s"][rate]
        upd = f"{sum(ups) / len(ups):,.0f}" if ups else "-"
        base = row.get("bare", {})
        b_tick = _q(base.get("tick", []), 0.5)
        b_age = _q(base.get("age", []), 0.5)
        for kind, r in row.items():
            tick = [x for x in r["tick"] if x == x]
            t50, t99, t999 = (_q(tick, q) for q in (0.5, 0.99, 0.999))
            a50, a99 = _q(r["age"], 0.5), _q(r["age"], 0.99)
            tick_s = f"{t50:.2f} / {t99:.2f} / {t999:.2f}" if kind in WS_KINDS and tick else "-"
            lines.append(
                f"| {int(rate):,} | {upd} | {kind} | {len(r['age'])} | {tick_s} | "
                f"{_ratio(t50, b_tick) if kind in WS_KINDS else '-'} | {a50:.1f} / {a99:.1f} | "
                f"{_ratio(a50, b_age)} | {r['missed']} |"
            )
    return "\n".join(lines)


def _q(values: list[float], q: float) -> float:
    return pct(values, q) if values else float("nan")


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if a == a and b == b and b > 0 else "-"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=15, help="markers per taker, rate, block")
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--kinds", default="desk,bare,bare-ws,poll", help=f"from {KINDS}")
    parser.add_argument("--rates", default=",".join(map(str, RATES)))
    parser.add_argument("--quick", action="store_true", help="3 trials, 1 block")
    parser.add_argument("--out", help="write the raw samples as JSON here (for bench/plots.py)")
    parser.add_argument("--client", choices=KINDS)
    parser.add_argument("--port", type=int)
    parser.add_argument("--journal")
    parser.add_argument("--feed-reset-after", type=float)
    args = parser.parse_args()
    if args.client in ("bare", "bare-ws"):
        asyncio.run(bare_taker(args.port, args.client == "bare-ws"))
    elif args.client == "poll":
        asyncio.run(poll_taker(args.port))
    elif args.client in ("desk", "desk-ws"):
        entry = "ws" if args.client == "desk-ws" else "rest"
        trio.run(desk_taker, args.port, args.journal, args.feed_reset_after, entry)
    else:
        kinds = tuple(k for k in args.kinds.split(",") if k)
        if unknown := [k for k in kinds if k not in KINDS]:
            parser.error(f"unknown --kinds {unknown}; choose from {KINDS}")
        rates = tuple(int(r) for r in args.rates.split(","))
        trials, blocks = (3, 1) if args.quick else (args.trials, args.blocks)
        started = time.perf_counter()
        out = trio.run(main, trials, blocks, kinds, rates)
        out["machine"] = machine()
        out["command"] = " ".join(["bench/market_load.py", *sys.argv[1:]])
        print(report(out))
        print(f"wall time {time.perf_counter() - started:.1f}s, machine {machine()}")
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(out))
