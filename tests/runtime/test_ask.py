"""Request-reply: answers, deadlines, and failing at once when the target is gone."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from actors.runtime import (
    Actor,
    ActorCrashed,
    ActorUnavailable,
    AskTimeout,
    Backoff,
    ChildSpec,
    MailboxSpec,
    MessageDropped,
    Overflow,
    Restart,
    RestartScheduled,
    open_system,
)

from .helpers import next_event, of, probe

FIXED = Backoff(initial=1.0, maximum=1.0, multiplier=1.0, jitter=0.0)


async def test_ask_returns_the_handlers_result(autojump_clock: Any) -> None:
    async with open_system([ChildSpec("p", probe("p", []))]) as system:
        p = system.lookup("/p")
        assert p is not None
        assert await p.ask({"x": 1}) == {"x": 1}


async def test_ask_times_out_with_a_clear_error(autojump_clock: Any) -> None:
    async with open_system([ChildSpec("p", probe("p", []))]) as system:
        p = system.lookup("/p")
        assert p is not None
        start = trio.current_time()
        with pytest.raises(AskTimeout, match=r"ask to /p timed out after 2s") as info:
            await p.ask(("sleep", 100), timeout=2.0)
        assert trio.current_time() - start == pytest.approx(2.0)
        assert isinstance(info.value, TimeoutError)
        # The actor itself is fine and answers the next ask once it is done sleeping.
        assert await p.ask("next", timeout=200) == "next"


async def test_ask_to_a_stopped_actor_fails_at_once(autojump_clock: Any) -> None:
    async with open_system([ChildSpec("t", probe("t", []), restart=Restart.TEMPORARY)]) as system:
        t = system.lookup("/t")
        assert t is not None
        await t.ask("exit")
        await trio.sleep(1)
        start = trio.current_time()
        with pytest.raises(ActorUnavailable, match=r"actor /t is not running \(stopped\)"):
            await t.ask("hello", timeout=30)
        assert trio.current_time() == start


async def test_pending_ask_fails_when_the_actor_crashes(autojump_clock: Any) -> None:
    class Fragile(Actor):
        async def handle(self, message: Any) -> Any:
            if message == "slow":
                await trio.sleep(10)
                return "done"
            raise RuntimeError("boom")

    spec = ChildSpec("f", Fragile, backoff=FIXED, mailbox=MailboxSpec(16))
    async with open_system([spec]) as system:
        f = system.lookup("/f")
        assert f is not None
        outcomes: dict[str, Any] = {}

        async def ask(name: str, message: str) -> None:
            try:
                outcomes[name] = await f.ask(message, timeout=60)
            except Exception as exc:
                outcomes[name] = exc

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask, "slow", "slow")
            await trio.sleep(1)
            nursery.start_soon(ask, "boom", "boom")
            await trio.sleep(1)
            # "boom" waits behind "slow"; a third ask queues behind both.
            nursery.start_soon(ask, "queued", "slow")
        assert outcomes["slow"] == "done"
        assert isinstance(outcomes["boom"], ActorCrashed)
        assert "RuntimeError('boom')" in str(outcomes["boom"])
        # The crash is the error's cause, as for any exception raised `from` another: a
        # traceback of the failed ask shows the crash above it.
        cause = outcomes["boom"].__cause__
        assert isinstance(cause, RuntimeError) and str(cause) == "boom"
        assert outcomes["boom"].cause is cause
        # The queued ask failed at the crash, not at its deadline.
        assert isinstance(outcomes["queued"], ActorCrashed)
        assert trio.current_time() < 60
        # ...and counts as a dead letter: received = processed + dropped + waiting + dead.
        s = system.stats()["/f"]
        assert (s.received, s.processed, s.dead_letters, s.depth) == (3, 1, 2, 0)


async def test_ask_during_restart_backoff_fails_at_once(autojump_clock: Any) -> None:
    async with open_system([ChildSpec("p", probe("p", []), backoff=FIXED)]) as system:
        events = system.subscribe()
        p = system.lookup("/p")
        assert p is not None
        await p.send("crash")
        await next_event(events, of(RestartScheduled, "/p"))
        with pytest.raises(ActorUnavailable, match=r"actor /p is not running \(restarting\)"):
            await p.ask("now?")


async def test_ask_dropped_by_the_mailbox_policy_fails_at_once(autojump_clock: Any) -> None:
    spec = ChildSpec("p", probe("p", []), mailbox=MailboxSpec(1, Overflow.DROP_OLDEST))
    async with open_system([spec]) as system:
        p = system.lookup("/p")
        assert p is not None
        outcome: list[Any] = []

        async def ask() -> None:
            try:
                outcome.append(await p.ask("first", timeout=60))
            except MessageDropped as exc:
                outcome.append(exc)

        await p.send(("sleep", 5))  # keep the actor busy
        await trio.sleep(1)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask)
            await trio.sleep(1)
            await p.send("pushes the ask out")
        assert len(outcome) == 1 and isinstance(outcome[0], MessageDropped)
        assert "drop_oldest" in str(outcome[0])
        assert trio.current_time() < 10
