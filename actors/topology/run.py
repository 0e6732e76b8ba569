"""Running a topology as a supervised long-running process, with what the operator sees."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import trio

from actors.observe.collect import DeskObserver, DeskSnapshot
from actors.observe.control import serve_control
from actors.observe.ctl import control_file_path
from actors.observe.lines import report_trading
from actors.observe.metrics import serve_metrics
from actors.observe.status import report_node, report_status
from actors.observe.summary import (
    TradingFigures,
    figures_from_journal,
    figures_from_snapshot,
    latency_summary,
    per_venue_line,
    recovery_lines,
    run_summary,
    summary_dict,
    trading_lines,
)
from actors.observe.view import live_view
from actors.remote import Node
from actors.runtime import System, open_system
from actors.runtime.cell import unwrap
from actors.testing.faultlog import FaultLog
from actors.testing.invariants import InvariantReport
from actors.testing.soak import SoakRecorder, report_lines, soak_report, write_report
from actors.topology.build import Plan, build
from actors.topology.load import ConfigError
from actors.topology.nodes import join, supervise
from actors.topology.schema import Topology
from actors.trading.ccxt_bridge import open_loop
from actors.trading.journal import Journal, JournalError
from actors.trading.shutdown import ShutdownReport

log = logging.getLogger("actors.run")


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended: the stopped system, and the orders it left possibly live at a venue.

    ``actors run`` exits 4 when ``open_orders_left`` is not empty (see the README).
    """

    system: System
    open_orders_left: tuple[str, ...] = ()
    invariants: InvariantReport | None = None
    """The invariants checked at the end of a chaos run (``[faults]``), if they were."""


@dataclass(frozen=True)
class Observe:
    """What a running desk shows about itself (everything off by default).

    >>> Observe(status_interval=10.0, metrics_port=0).view
    False
    """

    status_interval: float = 0.0
    """Seconds between status lines in the log (0: none)."""
    metrics_port: int | None = None
    """Serve /metrics, /health, /ready on this 127.0.0.1 port (0: a free one)."""
    poll_interval: float = 1.0
    """Seconds between looks at books, orders and risk."""
    control_file: Path | None = None
    """Serve the ``actors ctl`` endpoint and write its URL and token here."""
    view: bool = False
    """Draw the live view on stdout."""
    desk: str = "desk"

    @property
    def polls(self) -> bool:
        """Whether anything needs the desk's snapshot."""
        return bool(
            self.status_interval
            or self.metrics_port is not None
            or self.control_file is not None
            or self.view
        )


@dataclass
class Running:
    """A desk running inside ``open_desk``: the system and its observers' endpoints."""

    system: System
    observer: DeskObserver | None = None
    metrics_port: int | None = None
    control_url: str | None = None
    node: Node | None = None
    """This process's node of a split desk (``[nodes]``), else None."""


@asynccontextmanager
async def open_desk(
    plan: Plan, *, handle_signals: bool = False, observe: Observe | None = None
) -> AsyncIterator[Running]:
    """Run ``plan``'s tree, inside the process's asyncio loop, while the block runs.

    The one way a desk process is put together: ``actors run`` uses it, and so do the tests
    and benchmarks that need a whole desk. Leaving the block stops the tree gracefully. A
    plan built for one node of a split desk (``build(..., node=NAME)``) joins the cluster
    first (``actors.topology.nodes``), so remote paths resolve as the actors start.

    >>> # async with open_desk(build(load("config/paper.toml")), observe=Observe()) as desk:
    >>> #     await desk.system.stopped.wait()
    """
    observe = observe or Observe()
    system_options = {
        "max_restarts": plan.max_restarts,
        "within": plan.within,
        "blocked_after": plan.blocked_after,
    }
    async with open_loop(), join(plan.node) as node, trio.open_nursery() as observers:
        try:
            async with open_system(
                plan.specs,
                handle_signals=handle_signals,
                resolver=node.resolve if node is not None else None,
                **system_options,
            ) as system:
                if node is not None and plan.node is not None:
                    node.attach(system)
                    supervise(node, plan.node, system, observers)
                running = Running(system, node=node)
                if observe.status_interval > 0:
                    observers.start_soon(report_status, system, observe.status_interval)
                    if node is not None:
                        observers.start_soon(report_node, node, observe.status_interval)
                if observe.polls:
                    running.observer = DeskObserver(system, interval=observe.poll_interval)
                    await observers.start(running.observer.run)
                    if observe.status_interval > 0:
                        observers.start_soon(
                            report_trading, running.observer, observe.status_interval
                        )
                if observe.metrics_port is not None:
                    running.metrics_port = await observers.start(
                        serve_metrics,
                        system,
                        observe.metrics_port,
                        running.observer,
                        plan.faults.log if plan.faults is not None else None,
                        node,
                    )
                if observe.control_file is not None:
                    running.control_url = await observers.start(
                        serve_control, system, observe.control_file, running.observer
                    )
                if observe.view and running.observer is not None:
                    await observers.start(live_view, running.observer, observe.desk)
                if plan.faults is not None:
                    await observers.start(plan.faults.run, system)
                try:
                    yield running
                finally:
                    if plan.faults is not None:
                        plan.faults.stop_injecting()  # no fault lands in the shutdown
        finally:
            observers.cancel_scope.cancel()


@asynccontextmanager
async def open_plan(
    plan: Plan, *, handle_signals: bool = False, observe: Observe | None = None
) -> AsyncIterator[System]:
    """``open_desk`` yielding just the ``System``.

    >>> # async with open_plan(build(load("config/paper.toml"))) as system:
    >>> #     await system.stopped.wait()
    """
    async with open_desk(plan, handle_signals=handle_signals, observe=observe) as running:
        yield running.system


def observe_of(topology: Topology, view: str = "lines") -> Observe:
    """The ``Observe`` settings of a topology (``view``: ``live`` draws the terminal view)."""
    section = topology.observe
    return Observe(
        status_interval=section.status_interval,
        metrics_port=section.metrics_port,
        poll_interval=section.poll_interval,
        control_file=(
            control_file_path(section.control_file, topology.desk.journal, topology.desk.name)
            if section.control
            else None
        ),
        view=view == "live",
        desk=topology.desk.name,
    )


async def run_topology(
    topology: Topology,
    *,
    source: str = "<topology>",
    duration: float | None = None,
    handle_signals: bool = True,
    summary_json: str | None = None,
    view: str = "auto",
    node: str | None = None,
    report: str | None = None,
) -> RunOutcome:
    """Run ``topology`` until SIGINT/SIGTERM (or ``duration`` seconds); how it ended.

    One trio-asyncio loop at the root carries every ccxt.pro client. The first signal stops
    the tree gracefully in reverse start order; a second one cancels it outright. Raises
    ``SupervisorGaveUp`` if the root exceeded its restart intensity. ``view``: ``auto`` draws
    the live view when stdout is a terminal, ``live`` always, ``lines`` never. ``node``: the
    node of a split desk (``[nodes]``) this process runs.

    >>> # trio.run(run_topology, load("config/paper.toml"))
    """
    from actors.observe.view import wants_live_view

    if topology.nodes and node is None:
        names = ", ".join(topology.nodes)
        raise ConfigError(
            source, [f"nodes: a split desk runs one node per process: --node ({names})"]
        )
    plan = build(topology, source=source, node=node)
    Path(topology.desk.journal).parent.mkdir(parents=True, exist_ok=True)
    mode = "live" if wants_live_view(view) else "lines"
    system = await run_plan(
        plan,
        duration=duration,
        handle_signals=handle_signals,
        observe=observe_of(topology, mode),
        journal=topology.desk.journal,
        summary_json=summary_json,
        report=report,
    )
    invariants = plan.faults.report if plan.faults is not None else None
    return RunOutcome(system, tuple(plan.report.open_orders), invariants)


async def run_plan(
    plan: Plan,
    *,
    duration: float | None = None,
    handle_signals: bool = True,
    observe: Observe | None = None,
    journal: str | None = None,
    summary_json: str | None = None,
    report: str | None = None,
) -> System:
    """Run an already built ``Plan`` until it stops (see ``run_topology``).

    When it stops, the summary is printed to stderr whatever the log level (and written to
    ``summary_json`` as JSON); its trading figures come from ``journal`` when that is a file.
    With a fault plan and a ``duration``, the invariants are checked before the stop; with
    ``report``, a soak report (faults, restarts, recovery, invariants, memory and
    descriptors over time) is written there as JSON.
    """
    started, wall_started = time.monotonic(), time.time()
    for name, url in plan.endpoints.items():
        config = plan.embedded.get(name)
        if config is None:
            log.info("embedded venue %s at %s", name, url)
            continue
        # Generated for this run unless the topology gave them: a ccxt client of one's own
        # (or `actors ctl`-style tooling) needs them to reach this paper venue.
        log.info(
            "embedded venue %s (%s) at %s; apiKey %s secret %s%s",
            name,
            config.protocol,
            url,
            config.api_key,
            config.secret,
            f" passphrase {config.passphrase}" if config.protocol == "okx" else "",
        )
    system: System | None = None
    observer: DeskObserver | None = None
    node: Node | None = None
    soak = SoakRecorder(interval=min(5.0, (duration or 300.0) / 60)) if report else None
    try:
        async with (
            open_desk(plan, handle_signals=handle_signals, observe=observe) as running,
            trio.open_nursery() as sampling,
        ):
            system, observer, node = running.system, running.observer, running.node
            await system.ready.wait()
            log.info("desk up: %d actors; Ctrl-C (SIGINT) or SIGTERM stops it", len(system.paths()))
            if soak is not None:
                await sampling.start(soak.run, system)
            if plan.faults is not None and duration is not None:
                plan.faults.run_for(duration)
            with trio.move_on_after(math.inf if duration is None else duration):
                await system.stopped.wait()
            if not system.stopped.is_set():
                log.info("ran for %gs: stopping", duration)
                if plan.faults is not None and plan.faults.plan.verify:
                    await plan.faults.verify()
                if observer is not None:
                    await observer.poll()
            sampling.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise unwrap(group) from None
    finally:
        if system is not None:
            last = observer.snapshot if observer is not None else None
            marks = dict(observer.marks) if observer is not None else {}
            with trio.CancelScope(shield=True):
                figures = await trio.to_thread.run_sync(
                    _figures, journal, wall_started, last, marks
                )
            if last is not None and last.order_stats is not None:
                latency = latency_summary(last.order_stats.tick_to_order)
                figures = dataclasses.replace(figures, tick_to_order=latency)
            faults = plan.faults.log if plan.faults is not None else None
            _report(
                figures, system, time.monotonic() - started, summary_json, faults, plan.report,
                malformed={v: b.malformed_frames for v, b in plan.budgets.items()},
                resubscribed={v: b.resubscribes for v, b in plan.budgets.items()},
                node=node,
            )  # fmt: skip
            if report is not None:
                _soak_report(plan, system, time.monotonic() - started, soak, report)
    assert system is not None
    return system


def _soak_report(
    plan: Plan, system: System, elapsed: float, soak: SoakRecorder | None, path: str
) -> None:
    runner = plan.faults
    invariants = runner.report if runner is not None else None
    why = None
    if invariants is None:
        why = "no [faults] plan" if runner is None else "the run did not end by --duration"
    content = soak_report(
        system,
        elapsed,
        faults=runner.log if runner is not None else None,
        invariants=invariants,
        recorder=soak,
        why_unchecked=why,
    )
    for line in report_lines(content):
        print(line, file=sys.stderr, flush=True)
    try:
        write_report(path, content)
    except OSError as exc:
        print(f"actors: cannot write --report {path}: {exc}", file=sys.stderr)


def _figures(
    journal: str | None,
    since: float,
    last: DeskSnapshot | None,
    marks: dict[tuple[str, str], float],
) -> TradingFigures:
    if journal and journal != ":memory:" and Path(journal).is_file():
        try:
            with Journal(journal) as j:
                # The whole history: compaction moved older records to the archive.
                events = ((e.at, e.message) for e in j.history())
                return figures_from_journal(events, since, marks)
        except JournalError as exc:
            log.warning("summary: cannot read the journal (%s); using the last view", exc)
    if last is not None:
        return figures_from_snapshot(last)
    return TradingFigures(source="none")


def _report(
    figures: TradingFigures,
    system: System,
    elapsed: float,
    path: str | None,
    faults: FaultLog | None = None,
    router: ShutdownReport | None = None,
    malformed: dict[str, int] | None = None,
    node: Node | None = None,
    resubscribed: dict[str, int] | None = None,
) -> None:
    stats = system.all_stats()
    lines = ["run summary:", *trading_lines(figures)]
    if router is not None:
        lines += recovery_lines(router.lease_lookups, router.lease_adopted)
    lines.append(run_summary(stats, elapsed))
    lines += per_venue_line("malformed venue frames dropped", malformed)
    lines += per_venue_line("dropped sockets resubscribed in place", resubscribed)
    if faults is not None:
        lines.append(faults.summary_line())
    if node is not None:  # a split desk: which node this was, and how its peers were
        lines.append(node.status_line())
    print("\n".join(lines), file=sys.stderr, flush=True)
    if path is not None:
        content = summary_dict(figures, stats, elapsed)
        if router is not None:
            content["recovery"] = {
                "lease_lookups": router.lease_lookups,
                "lease_adopted": router.lease_adopted,
            }
        if faults is not None:
            content["faults"] = {"injected": faults.counts(), "failed": faults.failed()}
        content["malformed_frames"] = dict(sorted((malformed or {}).items()))
        content["resubscribes"] = dict(sorted((resubscribed or {}).items()))
        if node is not None:
            content["node"] = node.status()
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(json.dumps(content, indent=2))
        except OSError as exc:
            print(f"actors: cannot write --summary-json {path}: {exc}", file=sys.stderr)
