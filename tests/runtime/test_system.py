"""The system: registry, spawning, dead letters, stats, events, signals, actor tasks."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
import trio

from actors.runtime import (
    Actor,
    Backoff,
    ChildSpec,
    Crashed,
    DeadLetter,
    MailboxSpec,
    Overflow,
    Restart,
    StartChild,
    Started,
    StopChild,
    Stopped,
    System,
    WhichChildren,
    open_system,
    supervisor_spec,
)

from .helpers import next_event, of, probe

FIXED = Backoff(initial=1.0, maximum=1.0, multiplier=1.0, jitter=0.0)


async def test_registry_resolves_nested_paths(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []
    tree = [
        supervisor_spec(
            "feeds",
            [supervisor_spec("binance", [ChildSpec("BTC-USDT", probe("btc", log))])],
        )
    ]
    async with open_system(tree) as system:
        assert system.paths() == ["/", "/feeds", "/feeds/binance", "/feeds/binance/BTC-USDT"]
        ref = system.lookup("/feeds/binance/BTC-USDT")
        assert ref is not None and ref.path == "/feeds/binance/BTC-USDT"
        assert await ref.ask("hi") == "hi"
        assert system.lookup("/feeds/kraken") is None


async def test_early_sibling_can_reach_a_later_one_from_on_start(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []

    class Early(Actor):
        async def on_start(self) -> None:
            later = self.ctx.lookup("/later")
            assert later is not None  # registered before anyone started
            await later.send("hello from early")

    async with open_system([ChildSpec("early", Early), ChildSpec("later", probe("later", log))]):
        await trio.sleep(1)
    assert ("later", "msg", "hello from early") in log


async def test_spawn_stop_and_list_children(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []

    class Spawner(Actor):
        async def handle(self, message: Any) -> Any:
            return await self.ctx.spawn(ChildSpec(message, probe(message, log)))

    async with open_system([supervisor_spec("sup", [ChildSpec("spawner", Spawner)])]) as system:
        spawner, sup = system.lookup("/sup/spawner"), system.lookup("/sup")
        assert spawner is not None and sup is not None
        worker = await spawner.ask("worker")
        assert worker.path == "/sup/worker"
        assert await worker.ask(42) == 42
        assert await sup.ask(WhichChildren()) == [("spawner", "running"), ("worker", "running")]
        assert await sup.ask(StopChild("worker")) is True
        assert system.lookup("/sup/worker") is None
        assert log[-1] == ("worker", "stop")
        extra = await sup.ask(StartChild(ChildSpec("extra", probe("extra", log))))
        assert await extra.ask("x") == "x"
        # Bad requests are refused; the supervisor and its children carry on.
        with pytest.raises(ValueError, match="an actor already lives at /sup/extra"):
            await sup.ask(StartChild(ChildSpec("extra", probe("extra", log))))
        with pytest.raises(KeyError, match="/sup has no child named 'nobody'"):
            await sup.ask(StopChild("nobody"))
        assert await extra.ask("still") == "still"
        assert system.stats()["/sup"].restarts == 0


async def test_messages_waiting_at_a_crash_are_kept_for_the_restart(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []
    async with open_system([ChildSpec("p", probe("p", log), backoff=FIXED)]) as system:
        events = system.subscribe()
        p = system.lookup("/p")
        assert p is not None
        await p.send(("sleep", 1))
        await p.send("crash")
        for i in range(3):
            await p.send(i)
        dead = await next_event(events, of(DeadLetter, "/p"))
        assert isinstance(dead, DeadLetter) and dead.message == "crash"
        assert "crashed while handling it" in dead.reason
        await next_event(events, of(Started, "/p"))
        assert await p.ask("sync") == "sync"
        assert [e[2] for e in log if e[1] == "msg"] == [0, 1, 2, "sync"]
        stats = system.stats()["/p"]
        assert (stats.received, stats.processed, stats.dead_letters) == (6, 5, 1)


async def test_dead_letters_for_stopped_actors_and_leftovers(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []
    spec = ChildSpec("t", probe("t", log), restart=Restart.TEMPORARY, shutdown_grace=1.0)
    async with open_system([spec, ChildSpec("busy", probe("busy", log))]) as system:
        events = system.subscribe()
        t, busy = system.lookup("/t"), system.lookup("/busy")
        assert t is not None and busy is not None
        await t.ask("exit")
        await next_event(events, of(Stopped, "/t"))
        await trio.sleep(1)
        assert system.lookup("/t") is None
        await t.send("late")
        late = await next_event(events, of(DeadLetter, "/t"))
        assert isinstance(late, DeadLetter) and late.message == "late"
        assert late.reason == "actor stopped"
        # Leave two messages waiting behind a long handler, then shut down.
        await busy.send(("sleep", 100))
        await busy.send("a")
        await busy.send("b")
        before = system.dead_letters
    leftovers = [e for e in events.pending() if isinstance(e, DeadLetter) and e.path == "/busy"]
    assert {e.message for e in leftovers} == {"a", "b", ("sleep", 100)}
    assert system.dead_letters == before + 3


async def test_stats_account_for_every_message(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []
    spec = ChildSpec("p", probe("p", log), mailbox=MailboxSpec(4, Overflow.DROP_NEWEST))
    async with open_system([spec]) as system:
        p = system.lookup("/p")
        assert p is not None
        await p.send(("sleep", 10))
        await trio.sleep(1)
        for i in range(10):
            await p.send(i)
        await trio.sleep(20)
        s = system.stats()["/p"]
        assert (s.received, s.processed, s.dropped, s.depth, s.high_water) == (11, 5, 6, 0, 4)
        assert s.received == s.processed + s.dropped + s.depth + s.dead_letters
        assert s.uptime == pytest.approx(21.0)
        assert s.state == "running" and s.capacity == 4


async def test_slow_event_observer_loses_oldest_events_and_counts(autojump_clock: Any) -> None:
    async with open_system([ChildSpec("p", probe("p", []), backoff=FIXED)]) as system:
        events = system.subscribe(capacity=2)
        p = system.lookup("/p")
        assert p is not None
        await p.send("crash")
        await trio.sleep(5)
        kept = events.pending()
        assert len(kept) == 2 and events.dropped >= 1
        assert isinstance(kept[-1], Started)


async def test_background_task_crash_is_the_actors_crash(autojump_clock: Any) -> None:
    class Watcher(Actor):
        async def on_start(self) -> None:
            self.ctx.start_soon(self.watch)

        async def watch(self) -> None:
            await trio.sleep(3)
            raise ConnectionError("socket dropped")

    async with open_system([ChildSpec("w", Watcher, backoff=FIXED)]) as system:
        events = system.subscribe()
        up = trio.current_time()
        crashed = await next_event(events, of(Crashed, "/w"))
        assert isinstance(crashed, Crashed) and isinstance(crashed.error, ConnectionError)
        assert crashed.at - up == pytest.approx(3.0)
        started = await next_event(events, of(Started, "/w"))
        assert isinstance(started, Started) and started.incarnation == 2


async def test_send_after_delivers_a_timer_message(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []

    class Timed(Actor):
        async def on_start(self) -> None:
            self.ctx.send_after(7.0, "tick")

        async def handle(self, message: Any) -> None:
            log.append((message, trio.current_time()))

    async with open_system([ChildSpec("timed", Timed)]):
        start = trio.current_time()
        await trio.sleep(10)
    assert [m for m, _ in log] == ["tick"]
    assert log[0][1] - start == pytest.approx(7.0, abs=0.01)


async def test_sigterm_stops_the_system_gracefully() -> None:
    log: list[tuple[Any, ...]] = []
    system = System([ChildSpec("a", probe("a", log)), ChildSpec("b", probe("b", log))])
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(
                lambda task_status: system.run(handle_signals=True, task_status=task_status)
            )
            os.kill(os.getpid(), signal.SIGTERM)
    assert log == [("a", "start"), ("b", "start"), ("b", "stop"), ("a", "stop")]


async def test_second_signal_cancels_a_stuck_shutdown() -> None:
    log: list[tuple[Any, ...]] = []
    stuck = ChildSpec("stuck", probe("stuck", log, stop_delay=1000), shutdown_grace=1000)
    system = System([stuck])
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(
                lambda task_status: system.run(handle_signals=True, task_status=task_status)
            )
            os.kill(os.getpid(), signal.SIGINT)
            with trio.move_on_after(0.5):
                await trio.sleep_forever()
            assert log[-1] == ("stuck", "stop")  # its stop hook is hanging
            os.kill(os.getpid(), signal.SIGINT)


async def test_a_task_can_be_cancelled_before_its_actor_stops(autojump_clock: Any) -> None:
    ended: list[str] = []

    class Streams(Actor):
        async def on_start(self) -> None:
            self.scope = self.ctx.start_soon(self.stream)

        async def stream(self) -> None:
            try:
                await trio.sleep_forever()
            finally:
                ended.append("stream")

        async def handle(self, message: Any) -> str:
            self.scope.cancel()
            await trio.sleep(1)
            return "alive"

    async with open_system([ChildSpec("s", Streams)]) as system:
        s = system.lookup("/s")
        assert s is not None
        assert await s.ask("cut the stream") == "alive"
        assert ended == ["stream"]
        assert system.stats()["/s"].restarts == 0


def test_a_crash_of_several_tasks_is_described_leaf_by_leaf() -> None:
    from actors.runtime.stats import describe_crash

    group = ExceptionGroup(
        "Exceptions from Trio nursery",
        [OSError("socket closed"), ExceptionGroup("inner", [KeyError("symbol")])],
    )
    assert describe_crash(group) == "OSError: socket closed; KeyError: 'symbol'"
    assert describe_crash(ValueError("bad")) == "ValueError: bad"
