"""The blocking monitor: a handler that holds the event loop is named, with its stack.

These tests run in real time on purpose: blocking the thread is what they are about, and a
virtual clock does not move while the thread is held.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
import trio

from actors.runtime import Actor, ChildSpec, open_system
from actors.runtime.monitor import BlockingMonitor


class Blocker(Actor):
    """``"block"`` holds the thread (no checkpoint) until the monitor has counted it."""

    async def handle(self, message: Any) -> Any:
        if message == "block":
            cell = self.ctx._cell
            deadline = time.monotonic() + 20.0
            while cell.blocked == 0 and time.monotonic() < deadline:
                time.sleep(0.01)  # noqa: ASYNC251 - blocking the loop is the point
            return cell.blocked
        return message


async def test_a_handler_blocking_the_loop_is_reported_with_its_actor_and_stack(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="actors.monitor")
    spec = ChildSpec("blocker", Blocker, stall_timeout=0.2)
    async with open_system([spec], blocked_after=0.2) as system:
        ref = system.lookup("/blocker")
        assert ref is not None
        # The stall watchdog (a trio task) cannot see this; the monitor thread can.
        assert await ref.ask("block", timeout=30.0) == 1
        with trio.fail_after(10):
            while not any("free again" in r.getMessage() for r in caplog.records):  # noqa: ASYNC110
                await trio.sleep(0.01)
        stats = system.stats()["/blocker"]
        assert stats.blocked == 1 and stats.restarts == 0
        assert system.monitor is not None and system.monitor.episodes >= 1
    [report] = [r.getMessage() for r in caplog.records if "by actor /blocker" in r.getMessage()]
    assert "blocked for over 0.2s" in report
    assert "in handle" in report and "time.sleep(0.01)" in report


async def test_blocking_outside_any_actor_is_reported_as_such(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="actors.monitor")
    async with open_system([], blocked_after=0.2) as system:
        assert system.monitor is not None
        deadline = time.monotonic() + 20.0
        while system.monitor.episodes == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # noqa: ASYNC251 - this test body is the blocking code
        assert system.monitor.episodes >= 1
    assert any("by code outside any actor" in r.getMessage() for r in caplog.records)


async def test_the_monitor_can_be_switched_off() -> None:
    async with open_system([], blocked_after=None) as system:
        assert system.monitor is None


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_a_threshold_must_be_finite_and_positive(bad: float) -> None:
    with pytest.raises(ValueError, match="blocked_after must be a finite number > 0"):
        BlockingMonitor(bad)
