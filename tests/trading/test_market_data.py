"""The market-data actor's stall watch, in virtual time."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import trio

from actors.trading.market_data import INITIAL_SYNC, FeedStalled, MarketDataConnection

STALL_AFTER = 2.0


def _watch(last: list[float]):  # type: ignore[no-untyped-def]
    feed = SimpleNamespace(venue=SimpleNamespace(name="sim", stall_after=STALL_AFTER))
    return MarketDataConnection._stall_watch(feed, "BTC/USDT", last)  # type: ignore[arg-type]


async def test_the_first_book_may_take_the_initial_sync_then_stall_after_counts(
    autojump_clock: trio.abc.Clock,
) -> None:
    start = trio.current_time()
    # As _book_loop arms it: the first book is due INITIAL_SYNC from now.
    last = [start + INITIAL_SYNC - STALL_AFTER]
    with pytest.raises(ExceptionGroup) as raised:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_watch, last)
            await trio.sleep(INITIAL_SYNC / 2)  # a long REST queue, no stall yet
            last[0] = trio.current_time()  # the first book
            first_book = last[0]
    assert raised.group_contains(FeedStalled)
    # The next silence is caught after stall_after, not at the initial deadline.
    assert trio.current_time() - first_book == pytest.approx(STALL_AFTER, abs=0.01)


async def test_a_first_book_that_never_comes_is_a_stall_at_the_initial_deadline(
    autojump_clock: trio.abc.Clock,
) -> None:
    start = trio.current_time()
    with pytest.raises(FeedStalled):
        await _watch([start + INITIAL_SYNC - STALL_AFTER])
    assert trio.current_time() - start == pytest.approx(INITIAL_SYNC, abs=STALL_AFTER)
