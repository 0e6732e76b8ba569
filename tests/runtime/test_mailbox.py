"""Mailbox overflow policies, control messages and counters."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.runtime import Intercepted, MailboxClosed, MailboxFull, MailboxSpec, Overflow
from actors.runtime.mailbox import EMPTY, Mailbox


def drain(mailbox: Mailbox) -> list[Any]:
    out = []
    while (item := mailbox.pop_nowait()) is not EMPTY:
        out.append(item)
    return out


def test_drop_oldest_keeps_newest_and_counts() -> None:
    box = MailboxSpec(3, Overflow.DROP_OLDEST).build("/t")
    for i in range(5):
        assert box.put_nowait(i)
    assert drain(box) == [2, 3, 4]
    assert (box.received, box.dropped, box.high_water) == (5, 2, 3)


def test_drop_newest_refuses_new_and_counts() -> None:
    box = MailboxSpec(3, Overflow.DROP_NEWEST).build("/t")
    accepted = [box.put_nowait(i) for i in range(5)]
    assert accepted == [True, True, True, False, False]
    assert drain(box) == [0, 1, 2]
    assert (box.received, box.dropped) == (5, 2)


def test_fail_raises_and_loses_nothing_accepted() -> None:
    box = MailboxSpec(2, Overflow.FAIL).build("/t")
    box.put_nowait("a")
    box.put_nowait("b")
    with pytest.raises(MailboxFull, match=r"mailbox of /t is full \(2 messages\)"):
        box.put_nowait("c")
    assert drain(box) == ["a", "b"]
    assert (box.received, box.dropped) == (2, 0)


def test_block_put_nowait_raises_when_full() -> None:
    box = MailboxSpec(1, Overflow.BLOCK).build("/t")
    box.put_nowait(1)
    with pytest.raises(MailboxFull):
        box.put_nowait(2)


async def test_block_put_waits_for_room(autojump_clock: trio.abc.Clock) -> None:
    box = MailboxSpec(2, Overflow.BLOCK).build("/t")
    sent: list[int] = []

    async def producer() -> None:
        for i in range(4):
            await box.put(i)
            sent.append(i)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(producer)
        await trio.sleep(1)
        assert sent == [0, 1]  # the third put is parked: backpressure
        assert box.pop_nowait() == 0
        await trio.sleep(1)
        assert sent == [0, 1, 2]
        assert drain(box) == [1, 2]
        await trio.sleep(1)
    assert sent == [0, 1, 2, 3]
    assert drain(box) == [3]
    assert box.dropped == 0


def test_conflate_latest_per_key_wins_in_place() -> None:
    box = MailboxSpec(8, Overflow.CONFLATE, key=lambda m: m[0]).build("/t")
    for message in [("BTC", 1), ("ETH", 1), ("BTC", 2), ("BTC", 3), ("ETH", 2), ("SOL", 1)]:
        box.put_nowait(message)
    assert drain(box) == [("BTC", 3), ("ETH", 2), ("SOL", 1)]
    assert (box.received, box.dropped, box.high_water) == (6, 3, 3)


def test_conflate_unkeyed_messages_are_never_merged() -> None:
    box = MailboxSpec(8, Overflow.CONFLATE, key=lambda m: m if m != "tick" else None).build("/t")
    for message in ["tick", "a", "tick", "a"]:
        box.put_nowait(message)
    assert drain(box) == ["tick", "a", "tick"]


def test_conflate_more_keys_than_capacity_drops_oldest_key() -> None:
    box = MailboxSpec(2, Overflow.CONFLATE, key=lambda m: m).build("/t")
    for message in ["a", "b", "c"]:
        box.put_nowait(message)
    assert drain(box) == ["b", "c"]
    assert box.dropped == 1


def keyed_unless_order(message: tuple[str, int]) -> str | None:
    return None if message[0] == "order" else message[0]


def test_conflate_full_drops_oldest_keyed_never_unkeyed() -> None:
    box = MailboxSpec(3, Overflow.CONFLATE, key=keyed_unless_order).build("/t")
    for message in [("order", 1), ("BTC", 1), ("order", 2), ("ETH", 1)]:
        box.put_nowait(message)
    # Full: the new symbol pushes out the oldest market data, not an order.
    assert drain(box) == [("order", 1), ("order", 2), ("ETH", 1)]
    assert box.dropped == 1


def test_conflate_full_of_orders_refuses_more_orders_and_drops_new_market_data() -> None:
    box = MailboxSpec(2, Overflow.CONFLATE, key=keyed_unless_order).build("/t")
    box.put_nowait(("order", 1))
    box.put_nowait(("order", 2))
    with pytest.raises(MailboxFull):
        box.put_nowait(("order", 3))
    assert box.put_nowait(("BTC", 1)) is False
    assert drain(box) == [("order", 1), ("order", 2)]
    assert (box.received, box.dropped) == (3, 1)


async def test_conflate_unkeyed_sender_waits_for_room(autojump_clock: trio.abc.Clock) -> None:
    box = MailboxSpec(1, Overflow.CONFLATE, key=keyed_unless_order).build("/t")
    box.put_nowait(("order", 1))
    sent: list[int] = []

    async def sender() -> None:
        await box.put(("order", 2))
        sent.append(2)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender)
        await trio.sleep(1)
        assert sent == []  # backpressure, not loss
        assert await box.put(("BTC", 1)) is False  # market data never waits
        assert box.pop_nowait() == ("order", 1)
    assert sent == [2]
    assert drain(box) == [("order", 2)]


def test_conflate_requires_a_key() -> None:
    with pytest.raises(ValueError, match="needs a key"):
        MailboxSpec(2, Overflow.CONFLATE)


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity must be >= 1"):
        MailboxSpec(0)


@pytest.mark.parametrize("overflow", [o for o in Overflow if o is not Overflow.CONFLATE])
def test_control_messages_are_never_dropped_and_come_first(overflow: Overflow) -> None:
    box = MailboxSpec(1, overflow).build("/t")
    box.put_nowait("m")
    for i in range(100):
        box.put_control(("ctl", i))
    assert box.has_control
    taken = [box.pop_control() for _ in range(100)]
    assert taken == [("ctl", i) for i in range(100)]
    assert box.pop_nowait() == "m"


def test_closed_mailbox_refuses_and_returns_leftovers() -> None:
    box = MailboxSpec(4, Overflow.DROP_OLDEST).build("/t")
    box.put_nowait(1)
    box.put_nowait(2)
    assert box.close() == [1, 2]
    with pytest.raises(MailboxClosed, match="/t"):
        box.put_nowait(3)
    with pytest.raises(MailboxClosed):
        box.put_control("stop")


async def test_closing_wakes_blocked_senders(autojump_clock: trio.abc.Clock) -> None:
    box = MailboxSpec(1, Overflow.BLOCK).build("/t")
    box.put_nowait(1)
    outcome: list[BaseException] = []

    async def blocked_sender() -> None:
        try:
            await box.put(2)
        except MailboxClosed as exc:
            outcome.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(blocked_sender)
        await trio.sleep(1)
        assert outcome == []
        box.close()
    assert len(outcome) == 1


# -- properties: every policy against a reference model -------------------------------------

operations = st.lists(
    st.one_of(st.tuples(st.just("put"), st.integers(0, 5)), st.just(("pop", None))),
    max_size=60,
)


def conflation_key(message: int) -> int | None:
    """Values 0-3 conflate by value % 3; 4 and 5 carry no key (like order flow)."""
    return message % 3 if message < 4 else None


def reference(
    overflow: Overflow, capacity: int, ops: list[tuple[str, int | None]]
) -> tuple[list[Any], int]:
    """What each policy must deliver, written as plainly as possible."""
    queue: deque[Any] = deque()
    popped: list[Any] = []
    dropped = 0
    for op, value in ops:
        if op == "pop":
            if queue:
                popped.append(queue.popleft())
            continue
        if overflow is Overflow.CONFLATE:
            key = conflation_key(value)
            same = [i for i, w in enumerate(queue) if key is not None and conflation_key(w) == key]
            if same:
                queue[same[0]] = value
                dropped += 1
            elif len(queue) < capacity:
                queue.append(value)
            elif key is None:
                pass  # refused: unkeyed messages are never dropped
            else:
                keyed = [i for i, w in enumerate(queue) if conflation_key(w) is not None]
                dropped += 1
                if keyed:
                    del queue[keyed[0]]
                    queue.append(value)
        elif len(queue) < capacity:
            queue.append(value)
        elif overflow is Overflow.DROP_OLDEST:
            queue.popleft()
            queue.append(value)
            dropped += 1
        elif overflow is Overflow.DROP_NEWEST:
            dropped += 1
        # BLOCK and FAIL refuse: nothing changes, nothing counted as dropped.
    return popped + list(queue), dropped


@settings(max_examples=300, deadline=None)
@given(
    overflow=st.sampled_from(list(Overflow)),
    capacity=st.integers(1, 6),
    ops=operations,
)
def test_policies_match_reference_model(
    overflow: Overflow, capacity: int, ops: list[tuple[str, int | None]]
) -> None:
    spec = MailboxSpec(
        capacity, overflow, key=conflation_key if overflow is Overflow.CONFLATE else None
    )
    box = spec.build("/prop")
    popped: list[Any] = []
    refused = 0
    for op, value in ops:
        if op == "pop":
            if (item := box.pop_nowait()) is not EMPTY:
                popped.append(item)
            continue
        try:
            box.put_nowait(value)
        except MailboxFull:
            refused += 1
        assert len(box) <= capacity
    expected, expected_dropped = reference(overflow, capacity, ops)
    assert popped + drain(box) == expected
    assert box.dropped == expected_dropped
    puts = sum(1 for op, _ in ops if op == "put")
    # Nothing disappears uncounted: every put is delivered, dropped or refused.
    assert box.received + refused == puts
    assert len(expected) + box.dropped + refused == puts


@pytest.mark.parametrize("overflow", [Overflow.BLOCK, Overflow.DROP_OLDEST, Overflow.CONFLATE])
def test_intercept_hook_holds_or_drops_and_the_counts_still_add_up(overflow: Overflow) -> None:
    key = (lambda m: m % 2) if overflow is Overflow.CONFLATE else None
    box = MailboxSpec(8, overflow, key=key).build("/t")
    asked: list[Any] = []
    box.on_drop = asked.append
    held: list[Any] = []

    def hook(message: Any) -> Intercepted | None:
        if message == 1:
            held.append(message)
            return Intercepted.HOLD
        return Intercepted.DROP if message == 2 else None

    box.intercept = hook
    assert box.put_nowait(0) is True
    assert box.put_nowait(1) is True  # held: not received yet
    assert box.put_nowait(2) is False  # dropped: received and dropped, like the policy
    assert asked == [2]  # the owner hears of it (a dropped ask fails at once)
    box.put_control("stop")  # control messages never pass through the hook
    assert (box.received, box.dropped, len(box)) == (2, 1, 1)
    box.intercept = None
    assert box.put_nowait(held.pop()) is True  # offered again later: now received
    assert box.pop_control() == "stop"
    assert drain(box) == [0, 1]
    assert (box.received, box.dropped, box.high_water) == (3, 1, 2)
