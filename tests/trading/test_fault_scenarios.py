"""Fault scenarios the other e2e tests do not cover, each ending with the seven invariants.

A desk on real ccxt.pro against embedded venues on loopback. Markets are frozen wherever a
book must hold still; every wait is for a condition. RELIABILITY.md lists every scenario of
the suite with what it proves.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.runtime import Backoff
from actors.trading.config import DEFAULT_GROUPS, DeskOptions, GroupPolicy
from actors.trading.messages import OrderStatus
from actors.venues import Venue, VenueConfig, open_venue, open_venues
from tests.trading.e2e_helpers import (
    Desk,
    book_matches_venue,
    price_of,
    rest_ask,
    running_desk,
    wait_for,
)

pytestmark = pytest.mark.e2e
SYM = "BTC/USDT"


async def _snapshot_nonce(desk: Desk, venue: str) -> int | None:
    view = await desk.book(venue, SYM)
    return None if view.snapshot is None else view.snapshot.nonce


async def test_a_socket_dropped_between_the_snapshot_and_the_first_delta(tmp_path: Path) -> None:
    # The market is frozen from the start: the feed subscribes, fetches the REST snapshot and
    # hands it on (ccxt resolves the book on the snapshot), and no delta follows.
    async with open_venue(VenueConfig(seed=81, rate_hz=40.0, symbols=(SYM,))) as venue:
        venue.pause_market()
        async with running_desk([venue], str(tmp_path / "j.sqlite"), quiet_ok=True) as desk:
            first = await desk.wait_fresh("sim", SYM)
            assert first.snapshot is not None and first.updates == 1  # the snapshot alone
            assert await book_matches_venue(desk, venue, SYM)
            # Sockets close before any delta; while nobody listens the book changes.
            assert venue.faults.drop_websockets() >= 1
            top = first.snapshot.asks[0][0]
            rest_ask(venue, SYM, price_of(top * 1.0005), Decimal("0.3"))
            venue.publish_depth()  # the delta goes out to nobody
            await wait_for(lambda: desk.peek("/market/sim").resubscribes >= 1, timeout=20.0)
            # The new connection resyncs from a new snapshot (with the missed change) and the
            # deltas that follow apply to it: never the old snapshot plus new deltas.
            await wait_for(lambda: book_matches_venue(desk, venue, SYM), timeout=20.0)
            venue.resume_market()
            await wait_for(lambda: _moved(desk, first.snapshot.nonce), timeout=20.0)
            await desk.verify(hit=["sim"])


async def _moved(desk: Desk, nonce: int | None) -> bool:
    now = await _snapshot_nonce(desk, "sim")
    return now is not None and nonce is not None and now > nonce + 5


async def test_one_venue_refuses_connections_while_the_other_keeps_trading(
    tmp_path: Path,
) -> None:
    configs = [
        VenueConfig(name="a", seed=82, rate_hz=40.0, symbols=(SYM,)),
        VenueConfig(name="b", seed=82, rate_hz=40.0, symbols=(SYM,)),
    ]
    journal = str(tmp_path / "j.sqlite")
    # Feeds and sessions retry every half second at most: back soon after the refusal ends.
    quick = GroupPolicy(Backoff(initial=0.1, maximum=0.5, jitter=0.1), max_restarts=60, within=60)
    options = DeskOptions(
        journal_path=journal, unknown_grace=3.0, unknown_retry=0.2, reconcile_interval=1.0,
        groups={**DEFAULT_GROUPS, "market": quick, "exec": quick},
    )  # fmt: skip
    async with (
        open_venues(configs) as (a, b),
        running_desk([a, b], journal, options=options, quiet_ok=True) as desk,
    ):
        await desk.wait_fresh("a", SYM)
        view_b = await desk.wait_fresh("b", SYM)
        b.pause_market()  # b holds still: the test's own liquidity is what fills
        assert view_b.snapshot is not None
        ask = price_of(view_b.snapshot.asks[0][0])
        rest_ask(b, SYM, ask, Decimal("0.002"))
        arrived: dict[str | None, float] = {}
        b.on_order_received = lambda _key, cid, t: arrived.setdefault(cid, trio.current_time())
        a.faults.refuse_connections(3.0)  # a refuses (and drops) every connection
        refused_until = a.faults.refuse_until
        # Meanwhile b trades: an IOC buy against the resting ask fills, on b's session.
        cid = await desk.submit(venue="b", symbol=SYM, side="buy", amount=Decimal("0.002"),
                                price=ask, time_in_force="IOC")  # fmt: skip
        assert isinstance(cid, str), cid
        await wait_for(lambda: _status(desk, cid, OrderStatus.FILLED), timeout=20.0)
        assert arrived[cid] < refused_until  # b took the order while a refused connections
        await wait_for(lambda: desk.restarts("/market/a") >= 1, timeout=20.0)
        for path in ("/market/b", "/exec/b", "/router", "/risk", "/strategies/probe"):
            assert desk.restarts(path) == 0, (path, desk.last_crash(path))
        # The refusal ends by itself; a's feed and session come back.
        await wait_for(lambda: _fresh_after(desk, "a"), timeout=40.0)
        await desk.verify(hit=["a"])


async def _status(desk: Desk, cid: str, status: OrderStatus) -> bool:
    return (await desk.orders())[cid].status is status


async def _fresh_after(desk: Desk, venue: str) -> bool:
    view = await desk.book(venue, SYM)
    stats = desk.system.stats()
    return (
        not view.stale
        and view.snapshot is not None
        and stats[f"/market/{venue}"].state == "running"
        and stats[f"/exec/{venue}"].state == "running"
    )


# --- malformed frames, hypothesis-generated, through the running desk ----------------------

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
_WILD = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.sampled_from(["", "abc", "NaN", "-1", "1e999", "0"]),
    st.lists(st.lists(st.sampled_from(["1", "abc", None, -5]), max_size=3), max_size=3),
)

json_level = st.one_of(
    st.text(min_size=1, max_size=40).filter(lambda t: not _is_json_object(t)),
    st.builds(lambda v: json.dumps(v), _JSON_VALUES).filter(lambda t: not _is_json_object(t)),
    st.builds(lambda n: '{"e":"depthUpdate","s":"BTCUSDT","U":1,"u":2,"b":[["1","1"]]}'[:n],
              st.integers(min_value=1, max_value=50)),
)  # fmt: skip
"""Frames that are not a JSON object: ccxt can only drop them, and the desk counts each."""

protocol_level = st.builds(
    lambda event, fields: json.dumps({"e": event, "s": "BTCUSDT", **fields}),
    st.sampled_from(["depthUpdate", "trade", "aggTrade", "24hrTicker", "bookTicker", "bogus"]),
    st.dictionaries(st.sampled_from(["E", "U", "u", "b", "a", "p", "q", "t", "T", "m"]), _WILD),
)
"""Well-formed JSON in the venue's own shapes with impossible contents."""


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck))
@given(junk=st.lists(json_level, min_size=8, max_size=8),
       shaped=st.lists(protocol_level, min_size=12, max_size=12))  # fmt: skip
def test_malformed_frames_never_crash_the_desk_and_are_counted(
    tmp_path_factory: pytest.TempPathFactory, junk: list[str], shaped: list[str]
) -> None:
    journal = str(tmp_path_factory.mktemp("frames") / "j.sqlite")
    trio.run(_frames_through_a_desk, journal, junk, shaped)


async def _frames_through_a_desk(journal: str, junk: list[str], shaped: list[str]) -> None:
    async with (
        open_venue(VenueConfig(seed=83, rate_hz=40.0, symbols=(SYM,))) as venue,
        running_desk([venue], journal) as desk,
    ):
        await desk.wait_fresh("sim", SYM)
        budget = desk.budgets["sim"]
        # Not a JSON object: every copy delivered is counted as a dropped malformed frame.
        before, delivered = budget.malformed_frames, 0
        for frame in junk:
            delivered += venue.hub.broadcast_raw(frame)
        await wait_for(lambda: budget.malformed_frames >= before + delivered, timeout=20.0)
        assert desk.restarts("/market/sim") == 0
        # The venue's own shapes with impossible contents: whatever ccxt makes of them, the
        # process goes on, the feed resyncs if it must, and the book ends equal to the venue's.
        for frame in shaped:
            venue.hub.broadcast_raw(frame)
        await wait_for(lambda: _recovered(desk, venue), timeout=40.0)
        stats = desk.system.stats()
        assert all(s.state == "running" for s in stats.values()), stats
        assert not desk.system.gave_up
        await desk.verify(hit=["sim"])


async def test_a_trade_ccxt_parsed_into_nonsense_is_a_counted_drop_not_a_restart(
    tmp_path: Path,
) -> None:
    # ccxt turns "p": "NaN" into a float NaN and "q": null into None; the desk counts and
    # drops such a trade where it converts it, and the feed goes on.
    def trade(price: Any, amount: Any, tid: int) -> str:
        fields = {"e": "trade", "E": 1, "s": "BTCUSDT", "t": tid, "p": price, "q": amount,
                  "T": 1, "m": True, "M": True}  # fmt: skip
        return json.dumps(fields)

    async with (
        open_venue(VenueConfig(seed=84, rate_hz=20.0, symbols=(SYM,))) as venue,
        running_desk([venue], str(tmp_path / "j.sqlite")) as desk,
    ):
        await desk.wait_fresh("sim", SYM)
        budget = desk.budgets["sim"]
        before = budget.malformed_frames
        frames = [trade("NaN", "0.1", 900001), trade("100", None, 900002), trade("-5", "1", 900003)]
        delivered = sum(venue.hub.broadcast_raw(frame) for frame in frames)
        assert delivered >= 3
        await wait_for(lambda: budget.malformed_frames >= before + 3, timeout=20.0)
        assert desk.restarts("/market/sim") == 0, desk.last_crash("/market/sim")
        await desk.wait_fresh("sim", SYM)


async def _recovered(desk: Desk, venue: Venue) -> Any:
    view = await desk.book("sim", SYM)
    running = desk.system.stats()["/market/sim"].state == "running"
    return running and not view.stale and view.snapshot is not None
