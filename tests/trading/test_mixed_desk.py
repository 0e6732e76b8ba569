"""The paper desk as shipped: one Binance-protocol and one OKX-protocol venue in one process.

Built the way ``actors run`` builds it (``load`` + ``build`` + ``open_plan``) from
``config/paper.toml``, with the journal in a temporary directory and quiet-market settings
(the tests freeze the synthetic market), real ccxt.pro ``binance`` and ``okx`` classes on
loopback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from actors.topology.build import build
from actors.topology.load import load
from actors.topology.run import open_plan
from actors.trading.messages import Fill, OrderStatus
from actors.trading.orders import TERMINAL
from actors.trading.protocol import OrderView
from actors.venues import Venue
from tests.trading.e2e_helpers import (
    Desk,
    book_matches_venue,
    price_of,
    rest_ask,
    rest_bid,
    sweep_bids,
    wait_for,
)

pytestmark = pytest.mark.e2e
SYM = "BTC/USDT"
PAPER = Path(__file__).resolve().parents[2] / "config" / "paper.toml"


@asynccontextmanager
async def paper_desk(tmp_path: Path, strategies: tuple[str, ...] = ("arb",)) -> AsyncIterator[Desk]:
    """config/paper.toml as ``actors run`` builds it, ready for a frozen market: a book that
    holds still is neither a stalled feed nor stale, and only ``strategies`` run."""
    topology = load(PAPER)
    quiet = {"stall_after": 120.0, "liveness_interval": 0.0}
    topology = msgspec.structs.replace(
        topology,
        desk=msgspec.structs.replace(
            topology.desk, journal=str(tmp_path / "j.sqlite"), book_stale_after=120.0
        ),
        venues=[msgspec.structs.replace(v, **quiet) for v in topology.venues],
        risk=msgspec.structs.replace(topology.risk, max_book_age=None),
        strategies=[s for s in topology.strategies if s.name in strategies],
        observe=msgspec.structs.replace(topology.observe, status_interval=0.0),
        faults=None,  # the demo's periodic feed crash has no place in a frozen market
    )
    assert [(v.name, v.embedded.protocol) for v in topology.venues] == [
        ("sim-a", "binance"),
        ("sim-b", "okx"),
    ]
    plan = build(topology, source=str(PAPER))
    async with open_plan(plan) as system:
        await system.ready.wait()
        desk = Desk(system, plan.budgets)
        desk.venues = desk.peek("/venues").venues()
        yield desk


def venue_named(desk: Desk, name: str) -> Venue:
    return next(v for v in desk.venues if v.config.name == name)


async def freeze(desk: Desk) -> None:
    """Pause every venue's market once our books are fresh; wait until they equal theirs."""
    for venue in desk.venues:
        await desk.wait_fresh(venue.config.name, SYM, timeout=30.0)
    for venue in desk.venues:
        venue.pause_market()
    for venue in desk.venues:
        await wait_for(lambda v=venue: book_matches_venue(desk, v, SYM), timeout=15.0)


async def test_arbitrage_between_a_binance_and_an_okx_venue_fills_on_both(
    tmp_path: Path,
) -> None:
    async with paper_desk(tmp_path) as desk:
        a, b = venue_named(desk, "sim-a"), venue_named(desk, "sim-b")
        # Each venue's session handed the strategy its market, loaded by ccxt's own class.
        arb = desk.peek("/strategies/arb")
        await wait_for(lambda: arb.market("sim-a", SYM) and arb.market("sim-b", SYM), 30.0)
        assert arb.market("sim-b", SYM).price_step == Decimal("0.01")
        assert arb.market("sim-a", SYM).min_cost == Decimal("5")  # Binance's minNotional
        await freeze(desk)
        # A crossed pair, made on the frozen venues: OKX offers 30 bp below Binance's bid.
        bid = price_of(a.book(SYM, 1)["bids"][0][0])
        rest_bid(a, SYM, bid, Decimal("0.01"))
        cheap = price_of(float(bid) * (1 - 0.003))
        sweep_bids(b, SYM, cheap)  # nothing on OKX bids at or above the offer we rest
        rest_bid(b, SYM, price_of(float(cheap) * (1 - 0.002)), Decimal("0.01"))  # two-sided
        rest_ask(b, SYM, cheap, Decimal("0.01"))

        async def our_legs() -> dict[str, OrderView] | None:
            # By venue, side and price: an edge the market made by itself before the freeze
            # may have been taken too, and is no business of this test.
            legs = {
                v.venue: v
                for v in (await desk.orders()).values()
                if (v.venue, v.side, v.price) in {("sim-a", "sell", bid), ("sim-b", "buy", cheap)}
                and v.status in TERMINAL
            }
            return legs if len(legs) == 2 else None

        legs = await wait_for(our_legs, timeout=30.0)
        assert {v: leg.status for v, leg in legs.items()} == {
            "sim-a": OrderStatus.FILLED,
            "sim-b": OrderStatus.FILLED,
        }
        fills = {(f.venue, f.side, f.price) for f in await desk.journal() if isinstance(f, Fill)}
        assert {("sim-a", "sell", bid), ("sim-b", "buy", cheap)} <= fills
        for venue in (a, b):  # the venues agree, and took the ids the desk made
            cid = legs[venue.config.name].client_order_id
            order = venue.engine.client_ids[(venue.config.api_key, "BTCUSDT", cid)]
            assert order.status == "FILLED" and cid.startswith("ax3arb") and cid.isalnum()


async def test_a_dropped_okx_socket_is_resubscribed_by_that_venues_connections_alone(
    tmp_path: Path,
) -> None:
    async with paper_desk(tmp_path, strategies=()) as desk:
        await freeze(desk)
        b = venue_named(desk, "sim-b")
        before = await desk.book("sim-b", SYM)
        assert b.faults.drop_websockets() > 0
        await wait_for(lambda: desk.peek("/market/sim-b").resubscribes >= 1, timeout=30.0)
        # Back in sync with OKX's book (a fresh snapshot after the stale spell).
        await wait_for(lambda: _fresh_again(desk, before.stale_episodes), timeout=30.0)
        await wait_for(lambda: book_matches_venue(desk, b, SYM), timeout=15.0)
        # The Binance venue's connections never noticed.
        for path in ("/market/sim-a", "/exec/sim-a", "/books/sim-a/BTC-USDT", "/router"):
            assert desk.restarts(path) == 0, path
        assert not (await desk.book("sim-a", SYM)).stale


async def _fresh_again(desk: Desk, episodes: int) -> bool:
    view = await desk.book("sim-b", SYM)
    return view.stale_episodes > episodes and not view.stale
