"""Supervision: strategies, restart types, backoff, intensity, shutdown, watchdog."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
import trio

from actors.runtime import (
    ActorUnavailable,
    Backoff,
    ChildSpec,
    Crashed,
    GaveUp,
    GiveUp,
    Restart,
    RestartScheduled,
    StallTimeout,
    Started,
    StartTimeout,
    Stopped,
    Strategy,
    SupervisorGaveUp,
    open_system,
    supervisor_spec,
)

from .helpers import next_event, of, probe

FIXED = Backoff(initial=1.0, maximum=1.0, multiplier=1.0, jitter=0.0)


def children(names: str | list[str], log: list[tuple[Any, ...]], **options: Any) -> list[ChildSpec]:
    return [ChildSpec(name, probe(name, log), **options) for name in names]


def since(log: list[tuple[Any, ...]], mark: int) -> list[tuple[Any, ...]]:
    return [entry for entry in log[mark:] if entry[1] in ("start", "stop")]


async def test_one_for_one_restarts_only_the_crashed_child(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []
    async with open_system(children("abc", log, backoff=FIXED), max_restarts=5) as system:
        events = system.subscribe()
        a, b, c = (system.lookup(f"/{n}") for n in "abc")
        assert a and b and c
        await b.send("crash")
        crashed = await next_event(events, of(Crashed, "/b"))
        # While b waits out its backoff its siblings keep processing.
        assert await a.ask("still here") == "still here"
        assert await c.ask("me too") == "me too"
        with pytest.raises(ActorUnavailable, match="/b is not running"):
            await b.ask("anyone?")
        started = await next_event(events, of(Started, "/b"))
        assert started.incarnation == 2
        assert started.at - crashed.at == pytest.approx(1.0)
        assert await b.ask("back") == "back"
        stats = system.stats()
        assert [stats[f"/{n}"].incarnation for n in "abc"] == [1, 2, 1]
        assert [stats[f"/{n}"].restarts for n in "abc"] == [0, 1, 0]
        assert isinstance(crashed, Crashed) and "b crashed on purpose" in crashed.reason


async def test_one_for_all_restarts_everyone_in_order(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []
    async with open_system(
        [supervisor_spec("grp", children("abc", log, backoff=FIXED), strategy=Strategy.ONE_FOR_ALL)]
    ) as system:
        events = system.subscribe()
        mark = len(log)
        b = system.lookup("/grp/b")
        assert b is not None
        await b.send("crash")
        for name in "abc":
            await next_event(events, of(Started, f"/grp/{name}"))
        # b's on_stop runs as it crashes; then the others stop in reverse start order; then
        # everyone starts again in start order.
        assert since(log, mark) == [
            ("b", "stop"),
            ("c", "stop"),
            ("a", "stop"),
            ("a", "start"),
            ("b", "start"),
            ("c", "start"),
        ]
        assert [system.stats()[f"/grp/{n}"].incarnation for n in "abc"] == [2, 2, 2]


async def test_rest_for_one_restarts_the_crashed_and_later_children(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []
    async with open_system(
        [
            supervisor_spec(
                "grp", children("abcd", log, backoff=FIXED), strategy=Strategy.REST_FOR_ONE
            )
        ]
    ) as system:
        events = system.subscribe()
        mark = len(log)
        b = system.lookup("/grp/b")
        assert b is not None
        await b.send("crash")
        for name in "bcd":
            await next_event(events, of(Started, f"/grp/{name}"))
        assert since(log, mark) == [
            ("b", "stop"),
            ("d", "stop"),
            ("c", "stop"),
            ("b", "start"),
            ("c", "start"),
            ("d", "start"),
        ]
        assert [system.stats()[f"/grp/{n}"].incarnation for n in "abcd"] == [1, 2, 2, 2]


async def test_permanent_child_is_restarted_after_a_normal_exit(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []
    async with open_system(children("p", log, backoff=FIXED)) as system:
        events = system.subscribe()
        p = system.lookup("/p")
        assert p is not None
        assert await p.ask("exit") == "exiting"
        stopped = await next_event(events, of(Stopped, "/p"))
        assert not stopped.forced
        await next_event(events, of(Started, "/p"))
        assert system.stats()["/p"].incarnation == 2


async def test_transient_child_restarts_after_crash_but_not_after_normal_exit(
    autojump_clock: Any,
) -> None:
    log: list[tuple[Any, ...]] = []
    async with open_system(children("t", log, backoff=FIXED, restart=Restart.TRANSIENT)) as system:
        events = system.subscribe()
        t = system.lookup("/t")
        assert t is not None
        await t.send("crash")
        await next_event(events, of(Started, "/t"))
        await t.send("exit")
        stopped = await next_event(events, of(Stopped, "/t"))
        assert isinstance(stopped, Stopped) and stopped.incarnation == 2
        await trio.sleep(60)
        assert not [e for e in events.pending() if isinstance(e, (RestartScheduled, Started))]
        assert system.lookup("/t") is None
        with pytest.raises(ActorUnavailable):
            await t.ask("hello")


async def test_temporary_child_is_never_restarted(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []
    async with open_system(children("x", log, restart=Restart.TEMPORARY)) as system:
        events = system.subscribe()
        x = system.lookup("/x")
        assert x is not None
        await x.send("crash")
        await next_event(events, of(Crashed, "/x"))
        await trio.sleep(60)
        assert system.lookup("/x") is None
        assert not [e for e in events.pending() if isinstance(e, (RestartScheduled, Started))]


async def test_backoff_delays_follow_the_formula_with_bounded_jitter(autojump_clock: Any) -> None:
    backoff = Backoff(initial=0.5, maximum=4.0, multiplier=2.0, jitter=0.2, reset_after=1000)
    log: list[tuple[Any, ...]] = []
    async with open_system(
        children("f", log, backoff=backoff), max_restarts=100, within=1.0, seed=7
    ) as system:
        events = system.subscribe()
        f = system.lookup("/f")
        assert f is not None
        scheduled: list[RestartScheduled] = []
        for attempt in range(6):
            await f.send("crash")
            crash = await next_event(events, of(Crashed, "/f"))
            event = await next_event(events, of(RestartScheduled, "/f"))
            assert isinstance(event, RestartScheduled)
            started = await next_event(events, of(Started, "/f"))
            assert event.attempt == attempt
            assert started.at - crash.at == pytest.approx(event.delay)
            scheduled.append(event)
        for event in scheduled:
            base = min(4.0, 0.5 * 2.0**event.attempt)
            assert min(4.0, base * 0.8) <= event.delay <= min(4.0, base * 1.2)
        # The same seed gives the same jitter.
        rng = random.Random(7)
        assert [e.delay for e in scheduled] == [backoff.delay(n, rng) for n in range(6)]


async def test_backoff_resets_after_a_stable_period(autojump_clock: Any) -> None:
    backoff = Backoff(initial=1.0, maximum=60.0, multiplier=3.0, jitter=0.0, reset_after=30.0)
    log: list[tuple[Any, ...]] = []
    async with open_system(
        children("f", log, backoff=backoff), max_restarts=10, within=1
    ) as system:
        events = system.subscribe()
        f = system.lookup("/f")
        assert f is not None
        delays = []
        for pause in (0, 0, 29, 30, 0):
            await trio.sleep(pause)
            await f.send("crash")
            event = await next_event(events, of(RestartScheduled, "/f"))
            await next_event(events, of(Started, "/f"))
            assert isinstance(event, RestartScheduled)
            delays.append(event.delay)
        # 29 s up is not stable enough; 30 s is, and the sequence starts over.
        assert delays == [1.0, 3.0, 9.0, 1.0, 3.0]


async def test_exceeding_intensity_escalates_to_the_parent(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []
    inner = supervisor_spec(
        "inner", children(["leaf"], log, backoff=FIXED), max_restarts=2, within=60, backoff=FIXED
    )
    async with open_system([inner], max_restarts=5, within=60) as system:
        events = system.subscribe()
        for _ in range(3):
            leaf = system.lookup("/inner/leaf")
            assert leaf is not None
            await leaf.send("crash")
            await next_event(events, of(Crashed, "/inner/leaf"))
        gave_up = await next_event(events, of(GaveUp, "/inner"))
        assert isinstance(gave_up, GaveUp) and gave_up.restarts == 2
        crashed = await next_event(events, of(Crashed, "/inner"))
        assert isinstance(crashed, Crashed)
        assert isinstance(crashed.error, SupervisorGaveUp)
        assert "more than 2 restarts within 60s" in str(crashed.error)
        assert "/inner/leaf" in str(crashed.error)
        # The parent answers by restarting the whole subtree, leaf included.
        await next_event(events, of(RestartScheduled, "/inner"))
        await next_event(events, of(Started, "/inner/leaf"))
        leaf = system.lookup("/inner/leaf")
        assert leaf is not None and await leaf.ask("fresh") == "fresh"


async def test_stop_child_gives_up_on_one_child_and_keeps_its_siblings(
    autojump_clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[tuple[Any, ...]] = []
    group = supervisor_spec(
        "group",
        children("ab", log, backoff=FIXED),
        max_restarts=2,
        within=60,
        give_up=GiveUp.STOP_CHILD,
    )
    async with open_system([group], max_restarts=0, within=60) as system:
        events = system.subscribe()
        b = system.lookup("/group/b")
        assert b is not None
        # Each child's restarts count on their own: b may crash twice, a as well.
        for _ in range(2):
            await b.send("crash")
            await next_event(events, of(Started, "/group/b"))
        a = system.lookup("/group/a")
        assert a is not None
        await a.send("crash")
        await next_event(events, of(Started, "/group/a"))
        # b's third crash within 60 s is one too many: b alone is stopped for good.
        await b.send("crash")
        gave_up = await next_event(events, of(GaveUp, "/group"))
        assert isinstance(gave_up, GaveUp) and gave_up.child == "/group/b"
        assert system.lookup("/group/b") is None
        assert await a.ask("still trading") == "still trading"
        assert system.stats()["/group"].restarts == 0  # the group itself never failed
        assert system.gave_up == [gave_up]
    assert any(
        r.levelname == "CRITICAL" and "/group gave up on /group/b" in r.getMessage()
        for r in caplog.records
    )


async def test_a_crash_logs_its_traceback_once_a_minute_and_repeats_in_one_line(
    autojump_clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[tuple[Any, ...]] = []
    async with open_system(children("p", log, backoff=FIXED), max_restarts=100) as system:
        events = system.subscribe()
        for pause in (0, 0, 0, 61):
            await trio.sleep(pause)
            p = system.lookup("/p")
            assert p is not None
            await p.send("crash")
            await next_event(events, of(Started, "/p"))
    crashes = [r for r in caplog.records if "/p crashed" in r.getMessage()]
    assert [r.exc_info is not None for r in crashes] == [True, False, False, True]
    assert "p crashed on purpose" in crashes[0].getMessage()
    assert "crashed again" in crashes[1].getMessage()
    assert "and 2 more times since the last traceback" in crashes[3].getMessage()
    # The traceback points at the raise in the handler.
    assert crashes[0].exc_info is not None
    assert crashes[0].exc_info[2] is not None


async def test_root_giving_up_stops_the_system_with_a_clear_error(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []
    with pytest.raises(
        SupervisorGaveUp, match=r"supervisor / gave up: more than 1 restarts"
    ) as info:
        async with open_system(
            children("ab", log, backoff=FIXED), max_restarts=1, within=60
        ) as system:
            for _ in range(2):
                a = system.lookup("/a")
                assert a is not None
                await a.send("crash")
                await trio.sleep(5)
            await trio.sleep_forever()
    assert "/a" in str(info.value)
    # a's stop hook ran as it crashed; b was stopped before the error surfaced.
    assert log[-2:] == [("a", "stop"), ("b", "stop")]


async def test_shutdown_is_reverse_start_order_across_levels(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []
    tree = [
        ChildSpec("journal", probe("journal", log)),
        supervisor_spec("feeds", children("xy", log)),
        ChildSpec("router", probe("router", log)),
    ]
    async with open_system(tree):
        assert [e[0] for e in log] == ["journal", "x", "y", "router"]
    assert [e[0] for e in log if e[1] == "stop"] == ["router", "y", "x", "journal"]


async def test_busy_child_is_cancelled_after_its_grace_period(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []
    async with open_system([ChildSpec("slow", probe("slow", log), shutdown_grace=2.0)]) as system:
        events = system.subscribe()
        slow = system.lookup("/slow")
        assert slow is not None
        await slow.send(("sleep", 1000))
        await trio.sleep(1)
        before = trio.current_time()
    stopped = await next_event(events, of(Stopped, "/slow"))
    assert isinstance(stopped, Stopped) and stopped.forced
    assert stopped.at - before == pytest.approx(2.0)
    assert log[-1] == ("slow", "stop")  # on_stop still ran


async def test_stop_hook_is_bounded_by_the_grace_period(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []
    spec = ChildSpec("sticky", probe("sticky", log, stop_delay=1000), shutdown_grace=3.0)
    async with open_system([spec]) as system:
        events = system.subscribe()
        before = trio.current_time()
    stopped = await next_event(events, of(Stopped, "/sticky"))
    assert stopped.at - before == pytest.approx(3.0)


async def test_stall_watchdog_turns_a_stuck_handler_into_a_crash(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []
    spec = ChildSpec("feed", probe("feed", log), stall_timeout=5.0, backoff=FIXED)
    async with open_system([spec]) as system:
        events = system.subscribe()
        feed = system.lookup("/feed")
        assert feed is not None
        assert await feed.ask(("sleep", 4)) == "slept"  # within the limit: fine
        await trio.sleep(17)  # idle time is not a stall
        await feed.send(("sleep", 1000))
        sent_at = trio.current_time()
        crashed = await next_event(events, of(Crashed, "/feed"))
        assert isinstance(crashed, Crashed) and isinstance(crashed.error, StallTimeout)
        assert crashed.at - sent_at == pytest.approx(5.0)
        assert "took longer than 5s" in str(crashed.error)
        await next_event(events, of(Started, "/feed"))
        assert await feed.ask("alive") == "alive"


async def test_start_timeout_counts_as_a_crash(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []
    spec = ChildSpec(
        "hang", probe("hang", log, start_delay=math.inf), start_timeout=2.0, backoff=FIXED
    )
    async with open_system([spec], max_restarts=10, within=1) as system:
        events = system.subscribe()
        crashed = await next_event(events, of(Crashed, "/hang"))
        assert isinstance(crashed, Crashed) and isinstance(crashed.error, StartTimeout)


async def test_supervisor_stops_promptly_while_a_child_crash_loops(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []
    looping = ChildSpec(
        "loop",
        probe("loop", log, fail_start=True),
        backoff=Backoff(initial=10.0, maximum=10.0, jitter=0.0),
    )
    async with open_system(
        [supervisor_spec("sup", [looping], max_restarts=1000, within=1)]
    ) as system:
        events = system.subscribe()
        await next_event(events, of(RestartScheduled, "/sup/loop"))
        await next_event(events, of(RestartScheduled, "/sup/loop"))
        before = trio.current_time()
    # No backoff sleep is waited out: stopping is immediate.
    assert trio.current_time() - before < 1.0
    assert system.lookup("/sup/loop") is None


async def test_supervisor_stops_promptly_while_a_child_hangs_in_on_start(
    autojump_clock: Any,
) -> None:
    log: list[tuple[Any, ...]] = []
    hang = ChildSpec("hang", probe("hang", log, start_delay=math.inf), start_timeout=None)
    ok = ChildSpec("ok", probe("ok", log))
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            system_ref: list[Any] = []

            async def run() -> None:
                async with open_system([ok, supervisor_spec("sup", [hang])]) as system:
                    system_ref.append(system)
                    await trio.sleep_forever()

            nursery.start_soon(run)
            await trio.sleep(5)
            assert [e for e in log if e[0] == "hang"] == [("hang", "start")]
            nursery.cancel_scope.cancel()
    # Even a hard cancellation runs every stop hook, in reverse start order.
    assert log[-2:] == [("hang", "stop"), ("ok", "stop")]
