"""Running a topology as a supervised long-running process."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import trio
import trio_asyncio

from actors.observe.metrics import serve_metrics
from actors.observe.status import report_status
from actors.observe.summary import run_summary
from actors.runtime import System
from actors.runtime.cell import unwrap
from actors.topology.build import Plan, build
from actors.topology.schema import Topology

log = logging.getLogger("actors.run")


async def run_topology(
    topology: Topology,
    *,
    source: str = "<topology>",
    duration: float | None = None,
    handle_signals: bool = True,
) -> System:
    """Run ``topology`` until SIGINT/SIGTERM (or ``duration`` seconds); return the stopped system.

    One trio-asyncio loop at the root carries every ccxt.pro client. The first signal stops
    the tree gracefully in reverse start order; a second one cancels it outright. Raises
    ``SupervisorGaveUp`` if the root exceeded its restart intensity.

    >>> # trio.run(run_topology, load("config/paper.toml"))
    """
    plan = build(topology, source=source)
    Path(topology.desk.journal).parent.mkdir(parents=True, exist_ok=True)
    return await run_plan(
        plan,
        duration=duration,
        handle_signals=handle_signals,
        status_interval=topology.observe.status_interval,
        metrics_port=topology.observe.metrics_port,
    )


async def run_plan(
    plan: Plan,
    *,
    duration: float | None = None,
    handle_signals: bool = True,
    status_interval: float = 0.0,
    metrics_port: int | None = None,
) -> System:
    """Run an already built ``Plan`` (see ``run_topology``)."""
    system = System(plan.specs, max_restarts=plan.max_restarts, within=plan.within)
    started = time.monotonic()
    for name, url in plan.endpoints.items():
        log.info("embedded venue %s at %s", name, url)
    try:
        async with trio_asyncio.open_loop() as loop, trio.open_nursery() as nursery:
            loop.set_exception_handler(_log_asyncio_error)
            if status_interval > 0:
                nursery.start_soon(report_status, system, status_interval)
            if metrics_port is not None:
                await nursery.start(serve_metrics, system, metrics_port)
            if duration is not None:
                nursery.start_soon(_stop_after, system, duration)
            nursery.start_soon(_announce, system)
            try:
                await system.run(handle_signals=handle_signals)
            finally:
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise unwrap(group) from None
    finally:
        log.info("%s", run_summary(system.all_stats(), time.monotonic() - started))
    return system


def _log_asyncio_error(loop: object, context: dict[str, object]) -> None:
    # trio-asyncio's default re-raises into the loop's nursery, ending every ccxt client at
    # once. An error in a callback belongs to one connection, whose actor notices on its own
    # (a stalled or broken stream is a crash it restarts from): log it, keep the process up.
    error = context.get("exception")
    log.error("error in an asyncio callback: %s (%r)", context.get("message"), error)


async def _announce(system: System) -> None:
    await system.ready.wait()
    log.info("desk up: %d actors; Ctrl-C (SIGINT) or SIGTERM stops it", len(system.paths()))


async def _stop_after(system: System, seconds: float) -> None:
    await trio.sleep(seconds)
    log.info("ran for %gs: stopping", seconds)
    await system.stop()
