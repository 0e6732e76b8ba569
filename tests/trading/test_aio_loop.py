"""The batching asyncio loop: queued callbacks in one trio pass, order and fairness kept."""

from __future__ import annotations

import asyncio

import pytest
import trio

from actors.trading.aio_loop import (
    BATCH,
    BatchingTrioEventLoop,
    batching_supported,
    internals_fingerprint,
)
from actors.trading.ccxt_bridge import open_loop


def test_the_adapter_is_pinned_to_the_trio_asyncio_internals_it_was_read_against() -> None:
    # Fails when trio-asyncio changes: re-read TrioEventLoop._main_loop_one against
    # BatchingTrioEventLoop, then add the new version and hash to aio_loop.TESTED.
    assert batching_supported(), f"untested trio-asyncio internals: {internals_fingerprint()}"


async def passes_to_run(loop: asyncio.AbstractEventLoop, n: int) -> tuple[int, list[int]]:
    """Queue ``n`` callbacks; how many trio passes a bystander task saw until all ran."""
    ran: list[int] = []
    done = trio.Event()
    passes = 0

    def callback(i: int) -> None:
        ran.append(i)
        if len(ran) == n:
            done.set()

    for i in range(n):
        loop.call_soon(callback, i)
    async with trio.open_nursery() as nursery:

        async def bystander() -> None:
            nonlocal passes
            while True:
                passes += 1
                await trio.lowlevel.checkpoint()

        nursery.start_soon(bystander)
        await done.wait()
        nursery.cancel_scope.cancel()
    return passes, ran


@pytest.mark.parametrize("batching", [True, False])
async def test_queued_callbacks_run_in_order_and_batching_needs_far_fewer_passes(
    batching: bool,
) -> None:
    async with open_loop(batching=batching) as loop:
        assert isinstance(loop, BatchingTrioEventLoop) is batching
        passes, ran = await passes_to_run(loop, 50)
    assert ran == list(range(50))  # FIFO either way
    if batching:
        assert passes <= 5, passes  # one pass took (nearly) all of them
    else:
        assert passes >= 45, passes  # one callback per trio pass


async def test_trio_tasks_get_a_turn_at_least_every_batch() -> None:
    async with open_loop() as loop:
        passes, ran = await passes_to_run(loop, BATCH * 10)
    assert ran == list(range(BATCH * 10))
    assert passes >= 10  # never more than BATCH callbacks without a checkpoint


async def test_timers_and_futures_still_work() -> None:
    async with open_loop() as loop:
        fired: list[str] = []
        loop.call_later(0.01, fired.append, "later")
        loop.call_soon(fired.append, "soon")
        future = loop.create_future()
        loop.call_later(0.02, future.set_result, 42)
        with trio.fail_after(10):
            while len(fired) < 2 or not future.done():  # noqa: ASYNC110 - asyncio drives them
                await trio.sleep(0.005)
        assert fired == ["soon", "later"] and future.result() == 42
