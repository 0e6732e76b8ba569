"""Fault plans on a bare actor system, in virtual time: triggers, message faults, accounting."""

from __future__ import annotations

import math
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio

from actors.cli import main
from actors.runtime import (
    Actor,
    Backoff,
    ChildSpec,
    Crashed,
    MailboxFull,
    MailboxSpec,
    MessageDropped,
    Overflow,
    StallTimeout,
    open_system,
    supervisor_spec,
)
from actors.testing import Fault, FaultPlan, FaultRunner, crash_actor
from actors.testing.invariants import accounting, blast_radius, contained
from actors.topology.load import ConfigError, parse
from actors.trading.messages import OrderIntent, SubmitOrder
from actors.trading.protocol import PlaceOrder
from tests.topology.toml_writer import dumps

from ..runtime.helpers import next_event, of

ROOT = Path(__file__).resolve().parents[2]
FIXED = Backoff(initial=1.0, maximum=1.0, multiplier=1.0, jitter=0.0)


class Recorder(Actor):
    """Logs (time, message) of what it handles; ``("slow", s)`` sleeps first."""

    def __init__(self, log: list[tuple[float, Any]]) -> None:
        self.log = log

    async def handle(self, message: Any) -> Any:
        if isinstance(message, tuple) and message[0] == "slow":
            await trio.sleep(message[1])
        self.log.append((trio.current_time(), message))
        return message


def recorder(log: list[tuple[float, Any]], **spec: Any) -> ChildSpec:
    return ChildSpec("r", lambda: Recorder(log), backoff=FIXED, **spec)


async def running(system: Any, plan: FaultPlan, nursery: trio.Nursery) -> FaultRunner:
    runner = FaultRunner(plan)
    await nursery.start(runner.run, system)
    return runner


def test_a_plan_names_each_problem_with_its_key() -> None:
    bad = FaultPlan(
        inject=[
            Fault(kind="stall", actor="/router", at=1.0),
            Fault(kind="crash", venue="sim", every=2.0),
            Fault(kind="latency", venue="sim", at=1.0, every=2.0, seconds=5.0, delay=0.0),
            Fault(kind="drop_websockets", venue="sim", at=1.0, seconds=3.0),
            Fault(kind="crash", actor="market", after=3, of="X"),
        ]
    )
    assert bad.problems() == [
        "faults.inject[0].seconds: a stall needs a duration > 0 seconds",
        "faults.inject[1].actor: crash needs the path of an actor",
        "faults.inject[1].venue: crash hits an actor; use actor, not venue",
        "faults.inject[2].at: give exactly one trigger of at, after, every (given: at, every)",
        "faults.inject[2].delay: latency needs a delay > 0 seconds",
        "faults.inject[3].seconds: drop_websockets acts at once and takes no duration",
        "faults.inject[4].actor: 'market' is not an actor path like /market/sim",
    ]
    with pytest.raises(ValueError, match="a stall needs a duration"):
        bad.check()
    for number in (math.nan, math.inf, -1.0):
        nan = FaultPlan(inject=[Fault(kind="stall", actor="/r", at=number, seconds=1.0)])
        with pytest.raises(
            ValueError, match=r"fault plan: Expected `float` .* `\$\.inject\[0\]\.at`"
        ):
            nan.check()


def test_the_faults_section_of_a_topology_is_located_and_finite() -> None:
    base: dict[str, Any] = {"venues": [{"name": "sim", "symbols": ["BTC/USDT"]}]}
    cases = {
        "nan": ({"kind": "stall", "actor": "/r", "every": math.nan, "seconds": 1.0},
                "faults.inject[0].every: expected a number > 0, got nan"),
        "unknown key": ({"kind": "crash", "actor": "/r", "at": 1.0, "sometimes": True},
                        "faults.inject[0].sometimes: unknown key"),
        "no venue": ({"kind": "drop_websockets", "venue": "nope", "at": 1.0},
                     "faults.inject[0].venue: no venue is named 'nope'"),
        "symbol": ({"kind": "sequence_gap", "venue": "sim", "symbol": "ETH/USDT", "at": 1.0},
                   "faults.inject[0].symbol: 'ETH/USDT' is not traded on 'sim'"),
        "kind": ({"kind": "explode", "venue": "sim", "at": 1.0},
                 "faults.inject[0].kind: invalid enum value 'explode'"),
    }  # fmt: skip
    for name, (fault, message) in cases.items():
        with pytest.raises(ConfigError) as caught:
            parse({**base, "faults": {"inject": [fault]}}, source="t.toml")
        assert any(p.startswith(message) for p in caught.value.problems), (name, caught.value)
    topology = parse({**base, "faults": {"inject": [{"kind": "crash", "actor": "/r", "at": 2}]}})
    assert topology.faults is not None and topology.faults.inject[0].at == 2.0
    assert msgspec.convert(msgspec.to_builtins(topology.faults), FaultPlan) == topology.faults


async def test_triggers_fire_at_a_time_every_so_often_and_after_messages(
    autojump_clock: Any,
) -> None:
    log: list[tuple[float, Any]] = []
    plan = FaultPlan(
        seed=3,
        start_after=1.0,
        stop_after=100.0,
        inject=[
            Fault(kind="crash", actor="/r", at=2.0),
            Fault(kind="crash", actor="/r", every=10.0, jitter=0.5),
            Fault(kind="crash", actor="/r", after=5, of="str", times=2),
        ],
    )
    async with open_system([recorder(log)]) as system, trio.open_nursery() as nursery:
        events = system.subscribe()
        t0 = trio.current_time()
        runner = await running(system, plan, nursery)
        r = system.lookup("/r")
        assert r is not None
        crashed = await next_event(events, of(Crashed, "/r"))
        assert crashed.at - t0 == pytest.approx(3.0)  # start_after + at
        sent_at = trio.current_time()
        for i in range(12):  # ints are not counted, strs are: crashes after the 5th and 10th
            await r.send(i)
            await r.send(f"m{i}")
        await runner.finished.wait()  # stop_after ends the plan: no trigger fires again
        nursery.cancel_scope.cancel()
    moments = [rec.started - t0 for rec in runner.log.records]
    assert moments[0] == pytest.approx(3.0)
    assert moments.count(sent_at - t0) == 2  # the two ``after`` crashes, as the strs arrived
    every = [m for m in moments[1:] if m != sent_at - t0]
    gaps = [b - a for a, b in zip([1.0, *every], every, strict=False)]
    assert len(every) >= 6 and all(m <= 101.0 for m in every)
    assert all(5.0 <= g <= 15.0 for g in gaps), gaps  # every 10 s, jitter 0.5
    assert runner.log.counts() == {"crash": len(moments)}


def test_the_same_seed_gives_the_same_moments() -> None:
    plan = FaultPlan(seed=3, inject=[Fault(kind="crash", actor="/r", every=10.0)])
    first = _moments(plan)
    assert len(first) >= 4
    assert _moments(plan) == first != _moments(msgspec.structs.replace(plan, seed=4))


def _moments(plan: FaultPlan) -> list[float]:
    async def main() -> list[float]:
        async with open_system([recorder([])]) as system, trio.open_nursery() as nursery:
            runner = await running(system, plan, nursery)
            await trio.sleep(60.0)
            nursery.cancel_scope.cancel()
        return [round(r.started, 6) for r in runner.log.records]

    return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


async def test_delayed_messages_arrive_late_in_order_and_are_counted(
    autojump_clock: Any,
) -> None:
    log: list[tuple[float, Any]] = []
    plan = FaultPlan(inject=[Fault(kind="delay_messages", actor="/r", at=0.0, seconds=5.0,
                                   delay=2.0)])  # fmt: skip
    async with open_system([recorder(log)]) as system, trio.open_nursery() as nursery:
        runner = await running(system, plan, nursery)
        await trio.sleep(0.5)
        r = system.lookup("/r")
        assert r is not None
        sent = trio.current_time()
        for i in range(5):
            await r.send(i)
        assert log == []  # held, and not yet received either
        assert [r.kind for r in runner.log.active()] == ["delay_messages"]
        assert accounting(system.stats(), running=True).ok
        assert await r.ask("asked", timeout=10.0) == "asked"  # an ask waits out the delay
        assert [m for _, m in log] == [0, 1, 2, 3, 4, "asked"]
        assert all(t - sent == pytest.approx(2.0) for t, _ in log)
        await trio.sleep(6.0)  # the fault is over: no more delay, and the hook is gone
        assert system.mailbox("/r").intercept is None
        assert runner.log.active() == []
        await r.send("late")
        assert await r.ask("now") == "now"
        assert log[-1][0] == pytest.approx(trio.current_time())
        nursery.cancel_scope.cancel()
    assert runner.log.counts() == {"delay_messages": 1}
    assert accounting(system.all_stats()).ok


async def test_dropped_messages_are_counted_and_asks_fail_at_once(autojump_clock: Any) -> None:
    log: list[tuple[float, Any]] = []
    plan = FaultPlan(inject=[Fault(kind="drop_messages", actor="/r", at=0.0, seconds=5.0)])
    async with open_system([recorder(log)]) as system, trio.open_nursery() as nursery:
        await running(system, plan, nursery)
        await trio.sleep(0.5)
        r = system.lookup("/r")
        assert r is not None
        for i in range(3):
            await r.send(i)
        with pytest.raises(MessageDropped):
            await r.ask("lost")
        assert system.stats()["/r"].dropped == 4
        await trio.sleep(5.0)
        assert await r.ask("after") == "after"
        assert [m for _, m in log] == ["after"]
        nursery.cancel_scope.cancel()
    assert accounting(system.all_stats()).ok


@pytest.mark.parametrize("overflow", list(Overflow))
async def test_a_full_mailbox_under_a_firehose_meets_each_policy(
    autojump_clock: Any, overflow: Overflow
) -> None:
    log: list[tuple[float, Any]] = []
    key = (lambda m: m % 3) if overflow is Overflow.CONFLATE else None
    spec = recorder(log, mailbox=MailboxSpec(64, overflow, key=key))
    plan = FaultPlan(inject=[Fault(kind="fill_mailbox", actor="/r", at=0.0, seconds=3.0)])
    refused = 0
    async with open_system([spec]) as system, trio.open_nursery() as nursery:
        r = system.lookup("/r")
        assert r is not None
        for i in range(3):
            await r.send(i)
        await running(system, plan, nursery)
        await trio.sleep(0.1)
        box = system.mailbox("/r")
        assert box.capacity == 1  # full: the capacity is cut to what waits (none: one slot)
        started = trio.current_time()
        for i in range(100):  # the firehose
            try:
                await r.send(1000 + i)
            except MailboxFull:
                refused += 1
        waited = trio.current_time() - started
        await trio.sleep(5.0)
        assert box.capacity == 64  # the fault ended by itself
        nursery.cancel_scope.cancel()
    stats = system.all_stats()["/r"]
    check = accounting(system.all_stats())
    assert check.ok, check.line()
    handled = [m for _, m in log]
    assert handled[:3] == [0, 1, 2]
    if overflow is Overflow.BLOCK:
        assert waited >= 2.8 and stats.dropped == 0 and len(handled) == 103  # backpressure
    elif overflow is Overflow.FAIL:
        assert refused == 99 and stats.dropped == 0 and handled[3:] == [1000]
    elif overflow is Overflow.DROP_NEWEST:
        assert stats.dropped == 99 and handled[3:] == [1000]
    elif overflow is Overflow.DROP_OLDEST:
        assert stats.dropped == 99 and handled[3:] == [1099]
    else:  # conflate: the latest per key wins, one key fits
        assert stats.dropped == 99 and handled[3:] == [1099]
    assert waited < 2.8 or overflow is Overflow.BLOCK


async def test_a_stall_longer_than_the_watchdog_is_a_crash_and_an_injected_fault_no_letter(
    autojump_clock: Any,
) -> None:
    log: list[tuple[float, Any]] = []
    plan = FaultPlan(inject=[Fault(kind="stall", actor="/r", at=1.0, seconds=30.0)])
    async with open_system([recorder(log, stall_timeout=5.0)]) as system:
        events = system.subscribe()
        async with trio.open_nursery() as nursery:
            runner = await running(system, plan, nursery)
            crashed = await next_event(events, of(Crashed, "/r"))
            assert isinstance(crashed, Crashed) and isinstance(crashed.error, StallTimeout)
            crash_actor(system, "/r")
            await next_event(events, of(Crashed, "/r"))
            nursery.cancel_scope.cancel()
        stats = system.all_stats()
        assert stats["/r"].dead_letters == 0  # the injected faults were not messages
        assert accounting(stats).ok
        assert contained(stats, system.gave_up, blast_radius(runner.log)).ok
        assert not contained(stats, system.gave_up, blast_radius(None)).ok


def test_check_shows_the_plan_and_a_fault_aimed_at_no_actor_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chaos = ROOT / "config" / "chaos.toml"
    assert main(["check", str(chaos)]) == 0
    out = capsys.readouterr().out
    assert "faults: 6 (seed 7, from 5s; a timed run stops injecting 10s before its end)" in out
    assert "  crash on actor /market/sim-a, every ~15s (+-50%)" in out
    data = tomllib.loads(chaos.read_text())
    data["desk"]["journal"] = str(tmp_path / "j.sqlite")
    data["faults"]["inject"][0]["actor"] = "/market/sim-c"
    data["faults"]["inject"].append({"kind": "crash", "actor": "/router", "after": 3,
                                     "to": "/nowhere"})  # fmt: skip
    path = tmp_path / "chaos.toml"
    path.write_text(dumps(data))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{path}: faults.inject[0].actor: no actor at '/market/sim-c' "
        "(there: /market, /market/sim-a, /market/sim-b)",
        f"{path}: faults.inject[6].to: no actor at '/nowhere'",
    ]


async def test_recovery_to_the_next_order_is_measured_for_every_fault_it_follows(
    autojump_clock: Any,
) -> None:
    log: list[tuple[float, Any]] = []
    session = supervisor_spec("exec", [ChildSpec("sim", lambda: Recorder(log))])
    plan = FaultPlan(
        inject=[
            Fault(kind="crash", actor="/exec/sim", at=1.0),
            Fault(kind="stall", actor="/exec/sim", at=2.0, seconds=1.0),
        ]
    )
    intent = OrderIntent(
        client_order_id="ax-1", strategy="s", venue="sim", symbol="BTC/USDT", side="buy",
        order_type="market", amount=Decimal(1), created_at=0.0,
    )  # fmt: skip
    async with open_system([session]) as system, trio.open_nursery() as nursery:
        runner = FaultRunner(plan, symbols={"sim": ()})
        await nursery.start(runner.run, system)
        t0 = trio.current_time()
        await runner.finished.wait()
        await trio.sleep_until(t0 + 5.0)
        ref = system.lookup("/exec/sim")
        assert ref is not None
        await ref.send(PlaceOrder(submit=SubmitOrder(intent=intent, venue="sim")))
        await trio.sleep(0.1)
        nursery.cancel_scope.cancel()
    # Both faults were waiting for the same order; each got its own recovery time.
    assert [r.order_recovery for r in runner.log.records] == [pytest.approx(4.0),
                                                              pytest.approx(2.0)]  # fmt: skip
    assert [r.book_recovery for r in runner.log.records] == [None, None]  # no book touched
