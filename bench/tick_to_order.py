"""Tick-to-order latency: the actor pipeline vs a bare ccxt.pro asyncio script, same run.

The embedded venue runs in this process with its synthetic market paused (a still book). Each
trial, a second venue account posts a sell one tick inside the best ask: that is the
opportunity. The clock starts when the venue emits the depth update carrying it and stops when
the venue receives the taker's order, both read at the venue with ``time.perf_counter`` through
its observer hooks (``Venue.on_depth_published``, ``Venue.on_order_received``). The taker
IOC-buys exactly the posted quantity, which restores the book for the next trial.

Two takers run as their own processes, one at a time, in alternating blocks (A B A B):

* ``bare``: ``asyncio.run`` of ccxt.pro ``watch_order_book`` -> decide -> ``create_order``;
* ``desk``: the full desk (``desk_specs``: market-data connection -> book actor -> strategy ->
  risk -> journal (write-ahead) -> router -> private session -> ``create_order``), on trio
  with trio-asyncio, ``order_entry = "rest"``;
* ``desk-ws``: the same desk with ``order_entry = "ws"`` (``create_order_ws`` on the private
  session's socket);
* ``bare-ws``: the bare script with ``create_order_ws``.

For the desks, each trial is also cut into stages (medians printed per kind): the venue's
depth update -> the book actor accepted it (``TopOfBook.received_at``: websocket, ccxt's
parse, the pump, one hop) -> the strategy decided (one hop) -> risk approved
(``RiskApproved.at``, read back from the journal: one hop and the checks) -> the router
sent (``SubmitOrder.sent_at``: one hop and routing) -> the venue received the order (the
write-ahead commit, the hop to the session, ccxt's request and the wire). Desk times are
trio's clock, which is ``perf_counter`` plus a constant the desk prints at start.

The venue counts which transport served each block's orders (``ws.place``/``rest.place``),
printed per block, so a desk-ws figure can be trusted to be the websocket path.

Both use the same ccxt options and the same rule: buy when the best ask is below the trigger,
once per book update (nonce) showing it. ccxt's REST limiter is on in both; ``--ccxt-limiter``
picks its algorithm (default ``rolling``: ccxt's documented rolling-window limiter over
Binance's 60 s request-weight window; ``leaky``: ccxt's default leaky bucket, which in ccxt
4.5 does not refill while idle, so every lone order waits cost x rateLimit = 0.2 x 50 ms =
10 ms; ``off``: no ccxt limiter).

Run: ``.venv/bin/python bench/tick_to_order.py [--trials 100] [--blocks 2]`` (< 2 min).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio

SCRIPT = str(Path(__file__).resolve())
ROOT = Path(SCRIPT).parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from actors.trading.messages import TopOfBook  # noqa: E402
from actors.trading.strategy import Strategy, StrategyParams  # noqa: E402

SYM = "BTC/USDT"
KEY, SECRET = "sim-api-key", "sim-secret"
MAKER_KEY, MAKER_SECRET = "bench-maker", "bench-maker-secret"
AMOUNT = "0.001"
LIMITERS = ("rolling", "leaky", "off")


def taker_ccxt_config(port: int, limiter: str) -> dict[str, Any]:
    """The ccxt options of both takers (one function, so they cannot drift apart).

    ``rolling``: ccxt's rolling-window limiter over 60 s, i.e. ``60000 / rateLimit`` cost units
    per minute (binance: 1200 = Binance's 6000 request weight per minute at ccxt's 0.2 cost
    per weight unit), the same long-run budget as ccxt's default leaky bucket, without its
    idle penalty. ``leaky``: ccxt's default. ``off``: ``enableRateLimit`` False.
    """
    from actors.venues import ccxt_config

    cfg = ccxt_config(port, KEY, SECRET)
    if limiter == "off":
        cfg["enableRateLimit"] = False
    elif limiter == "rolling":
        cfg["enableRateLimit"] = True
        cfg["rateLimiterAlgorithm"] = "rollingWindow"
        cfg["rollingWindowSize"] = 60000
    elif limiter == "leaky":
        cfg["enableRateLimit"] = True
        cfg["rateLimiterAlgorithm"] = "leakyBucket"
    else:
        raise ValueError(f"limiter must be one of {LIMITERS}, got {limiter!r}")
    return cfg


# --- the takers ----------------------------------------------------------------------------


class BenchTaker(Strategy):
    """Buys the posted quantity at the best ask when it is below ``trigger`` (once per nonce)."""

    class Params(StrategyParams, frozen=True, kw_only=True):
        """The trigger price and the quantity to buy."""

        trigger: float
        amount: Decimal

    async def setup(self) -> None:
        """Read the trigger."""
        self.trigger = float(self.p.trigger)
        self.amount = self.p.amount
        self.fired_nonce = -1

    async def on_book(self, top: TopOfBook) -> None:
        """Decide on every top."""
        ask = top.ask
        if ask is None or top.stale:
            return
        nonce = top.nonce if top.nonce is not None else 0
        if ask < self.trigger and nonce > self.fired_nonce:
            self.fired_nonce = nonce
            decided = trio.current_time()
            cid = await self.submit(
                SYM,
                "buy",
                self.amount,
                Decimal(str(ask)),
                venue="sim",
                time_in_force="IOC",
            )
            # stage stamps for the parent (trio's clock; see CLOCK)
            print(f"STAGE {cid} {top.received_at!r} {decided!r}", flush=True)


async def bare_client(
    port: int, trigger: float, amount: float, limiter: str, ws: bool = False
) -> None:
    """The baseline: a plain asyncio ccxt.pro loop (orders over REST, or the ws-api)."""
    import ccxt.pro

    exchange = ccxt.pro.binance(taker_ccxt_config(port, limiter))
    create = exchange.create_order_ws if ws else exchange.create_order
    try:
        await exchange.load_markets()
        if ws:  # open the ws-api connection now, not on the first order
            await exchange.fetch_balance_ws()
        fired_nonce = -1
        clock = time.perf_counter  # the venue's clock too (CLOCK_MONOTONIC on Linux)
        print("CLOCK 0.0", flush=True)
        print("READY", flush=True)
        for n in itertools.count():
            book = await exchange.watch_order_book(SYM)
            got = clock()
            asks = book["asks"]
            ask = asks[0][0] if asks else None
            if ask is None:
                continue
            nonce = book.get("nonce") or 0
            if ask < trigger and nonce > fired_nonce:
                fired_nonce = nonce
                cid = f"bare{os.getpid()}x{n}"
                params = {"timeInForce": "IOC", "clientOrderId": cid}
                decided = clock()
                await create(SYM, "limit", "buy", amount, ask, params)
                # after the order, off its clock: the stamps for the parent (see SIDES)
                print(f"STAGE {cid} {got!r} {decided!r}", flush=True)
    finally:
        await exchange.close()


async def bare_under_trio(
    port: int, trigger: float, amount: float, limiter: str, batching: bool
) -> None:
    """The same bare script, run on trio through the desk's asyncio loop (the bridge alone)."""
    import trio_asyncio

    from actors.trading.ccxt_bridge import open_loop

    async with open_loop(batching=batching):
        await trio_asyncio.aio_as_trio(bare_client)(port, trigger, amount, limiter)


class _NoWaitJournal:
    """The router's journal ref with the write-ahead wait taken out (``desk-ws-nowal``)."""

    def __init__(self, ref: Any) -> None:
        self.ref = ref

    async def send(self, message: Any) -> None:
        await self.ref.send(message)

    async def ask(self, message: Any, **kwargs: Any) -> Any:
        import msgspec

        from actors.trading.messages import SubmitOrder
        from actors.trading.protocol import Append

        if type(message) is Append and [type(e) for e in message.events] == [SubmitOrder]:
            await self.ref.send(msgspec.structs.replace(message, durable=False))
            return 0
        return await self.ref.ask(message, **kwargs)


def without_write_ahead_wait() -> None:
    """EXPERIMENT, never the product: the router sends each order without waiting for its
    submit record's commit (the record is still queued, committed within the flush
    interval). What is left of the way out is what an execution actor owning the write-ahead
    could at best have: the upper bound of that cut, measured in the same run."""
    from actors.trading.router import Router

    start = Router.on_start

    async def on_start(self: Router) -> None:
        await start(self)
        self.journal = _NoWaitJournal(self.journal)  # type: ignore[assignment]

    Router.on_start = on_start  # type: ignore[method-assign]


SPLITS: dict[str, dict[str, tuple[str, ...]]] = {
    "desk-split": {"md": ("market", "books", "consolidated")},
    "desk-split3": {"md": ("market", "books", "consolidated"), "strategies": ("strategies",)},
}
"""Split desks (``[nodes]``) of the benchmark: the nodes other than ``exec``, which runs every
other group (journal, risk, router, sessions, and the strategy unless placed elsewhere)."""


def split_node(kind: str, node: str, specs: list[Any], nats_url: str, cluster: str) -> Any:
    """Node ``node``'s ``NodePlan`` of split desk ``kind`` (see ``SPLITS``) in ``cluster``
    (one per block: a killed block's lease must not hold up the next)."""
    from actors.topology.nodes import COMPANIONS, FEEDS, NodePlan, prefixes

    layout = dict(SPLITS[kind])
    companions = {c for cs in COMPANIONS.values() for c in cs}
    placed = {g for groups in layout.values() for g in groups}
    layout["exec"] = tuple(s.name for s in specs if s.name not in placed | companions)
    return NodePlan(
        name=node,
        cluster=cluster,
        servers=(nats_url,),
        groups=layout[node],
        market_data=(),
        peers={n: prefixes(g) for n, g in layout.items() if n != node},
        accounts=("sim",) if "exec" in layout[node] else (),
        feeds={n: (("sim", SYM),) for n, g in layout.items() if set(g) & set(FEEDS)},
        heartbeat=0.5,
        node_timeout=5.0,
        lease_ttl=10.0,
        ack_wait=10.0,
    )


async def desk_client(
    port: int,
    trigger: float,
    amount: str,
    journal: str,
    limiter: str,
    ws: bool = False,
    split: tuple[str, str, str, str] | None = None,
) -> None:
    """The actor pipeline: a full desk with one ``BenchTaker`` strategy (``ws``: orders
    over the websocket API); with ``split`` (kind, node, NATS URL, cluster), that node's
    share of split desk ``kind``."""
    from actors.topology.build import Plan
    from actors.topology.nodes import place
    from actors.topology.run import open_plan
    from actors.trading.config import DeskOptions, StrategySpec, VenueSpec
    from actors.trading.desk import desk_specs
    from actors.trading.risk import RiskLimits

    venue = VenueSpec(
        "sim",
        taker_ccxt_config(port, limiter),
        (SYM,),
        stall_after=3600.0,  # the benchmark's book is still between trials on purpose
        watch_trades=False,
        rate=1000.0,
        burst=100,
        order_entry="ws" if ws else "rest",
    )
    strategy = StrategySpec(
        "taker", "bench.tick_to_order:BenchTaker", {"trigger": trigger, "amount": amount}
    )
    options = DeskOptions(journal_path=journal, book_stale_after=3600.0)
    specs = desk_specs([venue], [strategy], RiskLimits(), options)
    node = None
    if split is not None:
        node = split_node(split[0], split[1], specs, split[2], split[3])
        specs = place(specs, node)
    async with open_plan(Plan(specs, max_restarts=3, within=5.0, node=node)):
        print(f"CLOCK {trio.current_time() - time.perf_counter()!r}", flush=True)
        print("READY", flush=True)
        await trio.sleep_forever()


# --- the venue side ------------------------------------------------------------------------


class Probe:
    """Venue-side timestamps of one trial, fed by the venue's observer hooks."""

    def __init__(self, market_id: str, taker_key: str) -> None:
        self.market_id = market_id
        self.taker_key = taker_key
        self.reset()

    def reset(self) -> None:
        """Forget the last trial."""
        self.emitted: float | None = None
        self.received: float | None = None
        self.client_order_id: str | None = None
        self.order = trio.Event()

    def on_depth(self, market_id: str, update_id: int, at: float) -> None:
        """Start the clock at the first depth update of the trial."""
        if market_id == self.market_id and self.emitted is None:
            self.emitted = at

    def on_order(self, api_key: str, client_order_id: str | None, at: float) -> None:
        """Stop it at the taker's first order of the trial (the maker's are not the taker's)."""
        if api_key == self.taker_key and self.received is None:
            self.received = at
            self.client_order_id = client_order_id
            self.order.set()


async def main(
    trials: int, blocks: int, limiter: str, kinds: tuple[str, ...]
) -> dict[str, list[float]]:
    """Run the venue and alternate blocks of both takers."""
    from actors.venues import VenueConfig, open_venue
    from actors.venues.accounts import Account

    config = VenueConfig(seed=1, symbols=(SYM,), rate_hz=50.0, order_limit_10s=100000)
    results: dict[str, list[float]] = {kind: [] for kind in kinds}
    STAGES.clear()
    SIDES.clear()
    with tempfile.TemporaryDirectory() as tmp, nats_for(kinds, tmp) as nats_url:
        async with open_venue(config) as venue:
            venue.accounts.add(
                Account(MAKER_KEY, MAKER_SECRET, {"BTC": Decimal(100), "USDT": Decimal(10**7)})
            )
            await trio.sleep(0.5)
            venue.pause_market()
            trigger = float(venue.book(SYM, limit=1)["asks"][0][0])
            probe = Probe(venue.market_of(SYM).id, KEY)
            venue.on_depth_published = probe.on_depth
            venue.on_order_received = probe.on_order
            for _ in range(blocks):
                for kind in kinds:
                    results[kind] += await _block(
                        venue, kind, trials, trigger, tmp, probe, limiter, nats_url
                    )
    return results


async def _ready(proc: trio.Process, kind: str) -> None:
    """Wait for ``READY`` on ``proc``'s stdout."""
    assert proc.stdout is not None
    buf = b""
    while b"READY" not in buf:
        chunk = await proc.stdout.receive_some(4096)
        if not chunk:
            raise RuntimeError(f"{kind} taker exited before READY")
        buf += chunk


@contextmanager
def nats_for(kinds: tuple[str, ...], tmp: str) -> Iterator[str | None]:
    """A nats-server on 127.0.0.1 while the block runs if a split desk is among ``kinds``;
    its URL (else None)."""
    if not any(kind in SPLITS for kind in kinds):
        yield None
        return
    from actors.remote import NatsServer

    with NatsServer(Path(tmp) / "nats") as server:
        yield server.url


async def _block(
    venue: Any,
    kind: str,
    trials: int,
    trigger: float,
    tmp: str,
    probe: Probe,
    limiter: str,
    nats_url: str | None = None,
) -> list[float]:
    """Start the taker's process (one per node of a split desk: the execution node's is the
    one read), run ``trials`` opportunities, return latencies in ms."""
    from actors.venues.accounts import Account

    maker: Account = venue.accounts.by_key[MAKER_KEY]
    cmd = [sys.executable, SCRIPT, "--client", kind, "--ccxt-limiter", limiter]
    cmd += ["--port", str(venue.port), "--trigger", repr(trigger)]
    journal = os.path.join(tmp, f"journal-{kind}-{time.time_ns()}.sqlite")
    cmd += ["--journal", journal]
    others: list[trio.Process] = []
    if kind in SPLITS:
        assert nats_url is not None
        cmd += ["--nats", nats_url, "--cluster", f"bench-{time.time_ns()}"]
        for node in SPLITS[kind]:
            extra = ["--node", node]
            others.append(
                await trio.lowlevel.open_process(cmd + extra, stdout=subprocess.PIPE, cwd=str(ROOT))
            )
        cmd += ["--node", "exec"]
    proc = await trio.lowlevel.open_process(cmd, stdout=subprocess.PIPE, cwd=str(ROOT))
    assert proc.stdout is not None
    latencies: list[float] = []
    served_before = dict(venue.entry.requests)
    lines: list[str] = []
    trials_at: list[tuple[float, float, str | None]] = []
    try:
        with trio.fail_after(90):
            for other in others:  # every node of a split desk is up before the trials
                await _ready(other, kind)
            buf = b""
            while b"READY" not in buf:
                chunk = await proc.stdout.receive_some(4096)
                if not chunk:
                    raise RuntimeError(f"{kind} taker exited before READY")
                buf += chunk
        lines += buf.decode().splitlines()
        reader = trio.CancelScope()

        async def read_rest() -> None:
            rest = b""
            with reader:
                while chunk := await proc.stdout.receive_some(4096):  # type: ignore[union-attr]
                    rest += chunk
                    *done, rest = rest.split(b"\n")
                    lines.extend(line.decode() for line in done)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_rest)
            latencies = await _trials(venue, maker, trials, probe, trials_at)
            await trio.sleep(0.2)  # the last stamps' lines
            reader.cancel()
    finally:
        for process in (proc, *others):
            process.kill()
            await process.wait()
    if kind not in SPLITS:  # one process: one clock
        SIDES.setdefault(kind, []).extend(_sides(lines, trials_at))
        if kind.startswith("desk"):
            STAGES.setdefault(kind, []).extend(_stages(lines, trials_at, journal))
    served = {
        k: n - served_before.get(k, 0)
        for k, n in venue.entry.requests.items()
        if k.endswith(".place") and n - served_before.get(k, 0)
    }
    print(f"block {kind}: {len(latencies)} samples, taker orders served by {served}", flush=True)
    return latencies


async def _trials(
    venue: Any, maker: Any, trials: int, probe: Probe, trials_at: list[Any]
) -> list[float]:
    """Post ``trials`` opportunities one after another; latencies in ms."""
    latencies: list[float] = []
    await trio.sleep(1.5)  # let subscriptions and start-up reconciliation settle
    tick = Decimal("0.01")
    for _ in range(trials):
        book = venue.book(SYM, limit=1)
        ask = Decimal(str(book["asks"][0][0]))
        price = ask - tick
        probe.reset()
        venue.orders.place(
            maker,
            {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
             "quantity": AMOUNT, "price": str(price)},
        )  # fmt: skip
        venue.publish_depth()  # the opportunity goes out: on_depth_published starts the clock
        with trio.move_on_after(2.0):
            await probe.order.wait()
        if probe.emitted is not None and probe.received is not None:
            latencies.append((probe.received - probe.emitted) * 1000)
            trials_at.append((probe.emitted, probe.received, probe.client_order_id))
        venue.orders.cancel_all(maker, {"symbol": "BTCUSDT"})
        venue.publish_depth()
        await trio.sleep(0.12)
    return latencies


STAGE_NAMES = ("venue->book", "book->strategy", "strategy->risk", "risk->router", "router->venue")
STAGES: dict[str, list[tuple[float, ...]]] = {}
"""Per desk kind, each trial's stage durations (ms, in ``STAGE_NAMES`` order)."""


def _stages(
    lines: list[str], trials_at: list[tuple[float, float, str | None]], journal: str
) -> list[tuple[float, ...]]:
    """Cut each desk trial into stages from the taker's stamps and its journal."""
    from actors.trading.journal import Journal
    from actors.trading.messages import RiskApproved, SubmitOrder

    offset, stamps = _stamps(lines)
    approved: dict[str, float] = {}
    sent: dict[str, float] = {}
    with Journal(journal) as j:
        for event in j.events():
            msg = event.message
            if isinstance(msg, RiskApproved):
                approved[msg.intent.client_order_id] = msg.at - offset
            elif isinstance(msg, SubmitOrder):
                sent[msg.intent.client_order_id] = msg.sent_at - offset
    out = []
    for emitted, received, cid in trials_at:
        if cid in stamps and cid in approved and cid in sent:
            book, decided = stamps[cid]
            points = (emitted, book, decided, approved[cid], sent[cid], received)
            out.append(tuple((b - a) * 1000 for a, b in itertools.pairwise(points)))
    return out


def _stamps(lines: list[str]) -> tuple[float, dict[str, tuple[float, float]]]:
    """The taker's clock offset and, per client order id, when it saw the book and decided
    (on the venue's ``perf_counter`` clock)."""
    offset = next(float(x.split()[1]) for x in lines if x.startswith("CLOCK "))
    stamps = {
        p[1]: (float(p[2]) - offset, float(p[3]) - offset)
        for p in (x.split() for x in lines if x.startswith("STAGE "))
    }
    return offset, stamps


SIDE_NAMES = ("venue->decision", "decision->venue")
SIDES: dict[str, list[tuple[float, float]]] = {}
"""Per taker kind (one process), each trial cut at the decision: the way in (the depth update
to the taker's decision: websocket, ccxt's parse, and for a desk the pump and two hops) and
the way out (decision to the venue's receipt: for a desk risk, the write-ahead, the router and
the session; for both ccxt's request and the wire)."""


def _sides(
    lines: list[str], trials_at: list[tuple[float, float, str | None]]
) -> list[tuple[float, float]]:
    """Cut each trial at the taker's decision."""
    _, stamps = _stamps(lines)
    return [
        ((stamps[cid][1] - emitted) * 1000, (received - stamps[cid][1]) * 1000)
        for emitted, received, cid in trials_at
        if cid in stamps
    ]


def median_table(
    first: str, names: tuple[str, ...], rows: dict[str, list[tuple[float, ...]]]
) -> str:
    """A markdown table of the median of each column of each kind's rows ("" if none)."""
    if not rows:
        return ""
    lines = [
        f"| {first} | trials | " + " | ".join(names) + " |",
        "|---|---:|" + "---:|" * len(names),
    ]
    for kind, kind_rows in rows.items():
        medians = [statistics.median(c) for c in zip(*kind_rows, strict=True)] if kind_rows else []
        cells = " | ".join(f"{m:.3f}" for m in medians) or " - " * len(names)
        lines.append(f"| {kind} | {len(kind_rows)} | {cells} |")
    return "\n".join(lines)


def side_report() -> str:
    """Median ms of the way in and the way out, per taker kind."""
    return median_table("taker", SIDE_NAMES, SIDES)  # type: ignore[arg-type]


def stage_report() -> str:
    """Median ms per stage of each desk kind."""
    return median_table("desk", STAGE_NAMES, STAGES)


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


KINDS = (
    "bare",
    "bare-ws",
    "bare-trio",
    "bare-trio-batch",
    "desk",
    "desk-ws",
    "desk-ws-nowal",
    *SPLITS,
)
"""``bare``: asyncio script, REST orders; ``bare-ws``: the same with ``create_order_ws``;
``bare-trio`` / ``bare-trio-batch``: the bare script on trio through trio-asyncio's plain loop /
the desk's batching loop (what the bridge costs); ``desk``: the whole desk, REST order entry;
``desk-ws``: the whole desk, websocket order entry; ``desk-ws-nowal``: an experiment, desk-ws
whose router does not wait for the write-ahead commit (``without_write_ahead_wait``: the upper
bound of an execution actor owning the write-ahead; not durable); ``desk-split``: the desk
(REST order entry) with market data on a node (process) of its own, joined by NATS;
``desk-split3``: the strategy on a third node (tops in, intents out over NATS)."""


def report(results: dict[str, list[float]], trials: int, blocks: int) -> str:
    """A markdown table of the figures."""
    lines = [
        "| taker | samples | p50 ms | p99 ms | mean ms | p50 vs bare | p99 vs bare "
        "| p50 vs bare-ws | p99 vs bare-ws |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    nan = float("nan")

    def base(kind: str) -> tuple[float, float]:
        v = results.get(kind) or []
        return (statistics.median(v), pct(v, 0.99)) if v else (nan, nan)

    (rest50, rest99), (ws50, ws99) = base("bare"), base("bare-ws")
    for kind, v in results.items():
        if not v:
            lines.append(f"| {kind} | 0 | - | - | - | - | - | - | - |")
            continue
        p50, p99 = statistics.median(v), pct(v, 0.99)
        lines.append(
            f"| {kind} | {len(v)}/{trials * blocks} | {p50:.3f} | {p99:.3f} | "
            f"{statistics.fmean(v):.3f} | {p50 / rest50:.2f} | {p99 / rest99:.2f} | "
            f"{p50 / ws50:.2f} | {p99 / ws99:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--client", choices=KINDS)
    parser.add_argument(
        "--kinds", default="bare,desk", help=f"takers to compare, comma-separated: {KINDS}"
    )
    parser.add_argument("--port", type=int)
    parser.add_argument("--trigger", type=float)
    parser.add_argument("--journal")
    parser.add_argument("--out", type=Path, help="write every sample (ms) as JSON here")
    parser.add_argument("--node", help="a split taker's node (internal)")
    parser.add_argument("--nats", help="a split taker's NATS URL (internal)")
    parser.add_argument("--cluster", help="a split taker's cluster (internal)")
    parser.add_argument(
        "--ccxt-limiter",
        choices=LIMITERS,
        default="rolling",
        help="ccxt's REST limiter in both takers (default: rolling window; see the docstring)",
    )
    parser.add_argument(
        "--no-ccxt-throttle",
        action="store_true",
        help="same as --ccxt-limiter off (isolates the pipeline's own cost)",
    )
    args = parser.parse_args()
    limiter = "off" if args.no_ccxt_throttle else args.ccxt_limiter
    if args.client in ("bare", "bare-ws"):
        ws = args.client == "bare-ws"
        asyncio.run(bare_client(args.port, args.trigger, float(AMOUNT), limiter, ws))
    elif args.client in ("bare-trio", "bare-trio-batch"):
        batching = args.client == "bare-trio-batch"
        trio.run(bare_under_trio, args.port, args.trigger, float(AMOUNT), limiter, batching)
    elif args.client in ("desk", "desk-ws", "desk-ws-nowal"):
        ws = args.client != "desk"
        if args.client == "desk-ws-nowal":
            without_write_ahead_wait()
        trio.run(desk_client, args.port, args.trigger, AMOUNT, args.journal, limiter, ws)
    elif args.client in SPLITS:
        split = (args.client, args.node, args.nats, args.cluster)
        trio.run(desk_client, args.port, args.trigger, AMOUNT, args.journal, limiter, False, split)
    else:
        kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            parser.error(f"unknown --kinds {unknown}; choose from {KINDS}")
        started = time.perf_counter()
        res = trio.run(main, args.trials, args.blocks, limiter, kinds)
        print(f"ccxt limiter: {limiter}")
        print(report(res, args.trials, args.blocks))
        print(stage_report())
        print(side_report())
        print(f"wall time {time.perf_counter() - started:.1f}s")
        if args.out:
            machine = {
                "nproc": os.cpu_count(),
                "python": platform.python_version(),
                "loadavg": list(os.getloadavg()),
            }
            command = "bench/tick_to_order.py " + " ".join(sys.argv[1:])
            data = {"command": command, "machine": machine, "samples_ms": res}
            args.out.write_text(json.dumps(data))
            print(f"wrote {args.out}")
