"""A periodic one-line status of the whole tree, and lifecycle events, in the log."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from actors.runtime import RestartScheduled, System
from actors.runtime.stats import ActorStats

if TYPE_CHECKING:
    from actors.remote import Node

log = logging.getLogger("actors.status")


def status_line(stats: dict[str, ActorStats]) -> str:
    """``actors 31 (running 30, restarting 1) | restarts 2 | dead letters 0 | ...``."""
    states: dict[str, int] = {}
    for s in stats.values():
        states[s.state] = states.get(s.state, 0) + 1
    by_state = ", ".join(f"{state} {n}" for state, n in sorted(states.items()))
    restarts = sum(s.restarts for s in stats.values())
    dead = sum(s.dead_letters for s in stats.values())
    dropped = sum(s.dropped for s in stats.values())
    processed = sum(s.processed for s in stats.values())
    fullest = max(stats.values(), key=lambda s: s.high_water / s.capacity, default=None)
    line = (
        f"actors {len(stats)} ({by_state}) | messages {processed} | restarts {restarts} | "
        f"dropped {dropped} | dead letters {dead}"
    )
    if fullest is not None and fullest.high_water:
        line += f" | fullest mailbox {fullest.path} {fullest.high_water}/{fullest.capacity}"
    return line


async def report_status(system: System, interval: float) -> None:
    """Log ``status_line`` every ``interval`` seconds and every crash/restart as it happens."""
    with system.subscribe(capacity=256) as events:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_log_events, events)
            while True:
                await trio.sleep(interval)
                log.info("%s", status_line(system.stats()))


async def _log_events(events: object) -> None:
    # Crashes (with their tracebacks) and supervisors giving up are logged by the runtime
    # itself, whether or not anyone watches; restarts are told here.
    async for event in events:  # type: ignore[attr-defined]
        if isinstance(event, RestartScheduled):
            log.info("restart of %s in %.2fs (attempt %d)", event.path, event.delay, event.attempt)


async def report_node(node: Node, interval: float) -> None:
    """Log the node's ``status_line`` (its peers' liveness, leases, transport counters) every
    ``interval`` seconds, for a node of a split desk."""
    while True:
        await trio.sleep(interval)
        log.info("%s", node.status_line())
