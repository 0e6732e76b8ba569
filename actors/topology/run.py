"""Running a topology as a supervised long-running process."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import trio

from actors.observe.metrics import serve_metrics
from actors.observe.status import report_status
from actors.observe.summary import run_summary
from actors.runtime import System, open_system
from actors.runtime.cell import unwrap
from actors.topology.build import Plan, build
from actors.topology.schema import Topology
from actors.trading.ccxt_bridge import open_loop

log = logging.getLogger("actors.run")


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended: the stopped system, and the orders it left possibly live at a venue.

    ``actors run`` exits 4 when ``open_orders_left`` is not empty (see the README).
    """

    system: System
    open_orders_left: tuple[str, ...] = ()


async def run_topology(
    topology: Topology,
    *,
    source: str = "<topology>",
    duration: float | None = None,
    handle_signals: bool = True,
) -> RunOutcome:
    """Run ``topology`` until SIGINT/SIGTERM (or ``duration`` seconds); how it ended.

    One trio-asyncio loop at the root carries every ccxt.pro client. The first signal stops
    the tree gracefully in reverse start order; a second one cancels it outright. Raises
    ``SupervisorGaveUp`` if the root exceeded its restart intensity.

    >>> # trio.run(run_topology, load("config/paper.toml"))
    """
    plan = build(topology, source=source)
    Path(topology.desk.journal).parent.mkdir(parents=True, exist_ok=True)
    system = await run_plan(
        plan,
        duration=duration,
        handle_signals=handle_signals,
        status_interval=topology.observe.status_interval,
        metrics_port=topology.observe.metrics_port,
    )
    return RunOutcome(system, tuple(plan.report.open_orders))


@asynccontextmanager
async def open_plan(
    plan: Plan,
    *,
    handle_signals: bool = False,
    status_interval: float = 0.0,
    metrics_port: int | None = None,
) -> AsyncIterator[System]:
    """Run ``plan``'s tree, inside the process's asyncio loop, while the block runs.

    The one way a desk process is put together: ``actors run`` uses it, and so do the tests
    and benchmarks that need a whole desk. Leaving the block stops the tree gracefully.

    >>> # async with open_plan(build(load("config/paper.toml"))) as system:
    >>> #     await system.stopped.wait()
    """
    system_options = {
        "max_restarts": plan.max_restarts,
        "within": plan.within,
        "blocked_after": plan.blocked_after,
    }
    async with open_loop(), trio.open_nursery() as observers:
        try:
            async with open_system(
                plan.specs, handle_signals=handle_signals, **system_options
            ) as system:
                if status_interval > 0:
                    observers.start_soon(report_status, system, status_interval)
                if metrics_port is not None:
                    await observers.start(serve_metrics, system, metrics_port)
                yield system
        finally:
            observers.cancel_scope.cancel()


async def run_plan(
    plan: Plan,
    *,
    duration: float | None = None,
    handle_signals: bool = True,
    status_interval: float = 0.0,
    metrics_port: int | None = None,
) -> System:
    """Run an already built ``Plan`` until it stops (see ``run_topology``)."""
    started = time.monotonic()
    for name, url in plan.endpoints.items():
        log.info("embedded venue %s at %s", name, url)
    system: System | None = None
    try:
        async with open_plan(
            plan,
            handle_signals=handle_signals,
            status_interval=status_interval,
            metrics_port=metrics_port,
        ) as system:
            await system.ready.wait()
            log.info("desk up: %d actors; Ctrl-C (SIGINT) or SIGTERM stops it", len(system.paths()))
            with trio.move_on_after(math.inf if duration is None else duration):
                await system.stopped.wait()
            if not system.stopped.is_set():
                log.info("ran for %gs: stopping", duration)
    except BaseExceptionGroup as group:
        raise unwrap(group) from None
    finally:
        if system is not None:
            log.info("%s", run_summary(system.all_stats(), time.monotonic() - started))
    assert system is not None
    return system
