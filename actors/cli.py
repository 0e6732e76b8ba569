"""The command line: ``actors run | check | ctl | sim-exchange``; the only place parsing argv."""

from __future__ import annotations

import argparse
import enum
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

import trio

from actors.observe.logs import LEVELS, configure_logging
from actors.runtime import ChildSpec, GiveUp, SupervisorGaveUp
from actors.topology.schema import VenueSection

DESCRIPTION = """\
Run a crypto trading desk: venues, order books, strategies, risk and an order router, each a
supervised actor that is restarted when it crashes. The desk is described by a topology file
(see config/paper.toml: two simulated exchanges, an arbitrage and a market maker).

  actors run config/paper.toml                  trade until Ctrl-C (a live view on a terminal)
  actors run config/paper.toml --duration 60    stop by itself after a minute
  actors check config/paper.toml                validate a topology, print its supervision tree
  actors run config/chaos.toml --duration 60 --report var/chaos.json
                                                trade through injected faults, check invariants
  actors verify config/chaos.toml               check the journal against the venues
  actors ctl status --config config/paper.toml  ask the running desk how it is doing
  actors ctl halt --config config/paper.toml    kill switch: no new orders (resume undoes it)
  actors sim-exchange --port 8765               a simulated exchange on its own
"""

EPILOG = """\
Options such as --log-level work before or after the command. Exit status: 0 stopped cleanly,
1 the desk gave up (restart limits exceeded), 2 bad topology or usage, 3 a part of the desk gave
up during the run, 4 orders may still be live at a venue after the stop, 5 a chaos run broke an
invariant. `actors verify` exits 1 when an invariant is violated.
"""

CTL_ACTIONS = ("halt", "reduce", "resume", "status", "orders", "positions", "cancel-all")


def _version() -> str:
    try:
        return version("actors")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _level(value: str) -> str:
    if value.upper() not in LEVELS:
        raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(LEVELS)}")
    return value.upper()


def _global_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The options every command takes. On subcommands they default to SUPPRESS, so a value
    given before the command is not overwritten by the subcommand's default."""

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    group = parser.add_argument_group("logging (before or after the command)")
    group.add_argument(
        "--log-level", type=_level, default=default("INFO"), help="DEBUG, INFO, WARNING... (INFO)"
    )
    group.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=default("text"),
        help="text lines, or one JSON object per line (text)",
    )
    group.add_argument(
        "--log-file", default=default(None), help="also write the log to this file (rotated)"
    )
    group.add_argument(
        "--log-file-max-mb",
        type=float,
        default=default(20.0),
        help="rotate the log file at this size (20)",
    )
    group.add_argument(
        "--log-file-backups",
        type=int,
        default=default(5),
        help="rotated log files to keep (5)",
    )


def parser() -> argparse.ArgumentParser:
    """The ``actors`` argument parser."""
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, defaults=False)
    main_parser = argparse.ArgumentParser(
        prog="actors",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    main_parser.add_argument("--version", action="version", version=f"actors {_version()}")
    _global_options(main_parser, defaults=True)
    commands = main_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=help_text, parents=[common])

    run = command("run", "run a desk until Ctrl-C (SIGINT), SIGTERM or --duration")
    run.add_argument("config", help="topology file, e.g. config/paper.toml")
    run.add_argument("--duration", type=float, help="stop gracefully after this many seconds")
    run.add_argument(
        "--summary-json", metavar="PATH", help="also write the run summary to PATH as JSON"
    )
    run.add_argument(
        "--node",
        help="run this node's share of a split desk (the topology's [nodes]; needs NATS)",
    )
    run.add_argument(
        "--report",
        metavar="PATH",
        help="write a soak report (faults, restarts, recovery, invariants, memory) to PATH",
    )
    run.add_argument(
        "--view",
        choices=("auto", "live", "lines"),
        default="auto",
        help="live: full-screen view; lines: status lines in the log; auto: live on a "
        "terminal (auto)",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue a journal of earlier embedded-venue sessions (desk.resume = true)",
    )

    check = command("check", "validate a topology and print its supervision tree")
    check.add_argument("config")

    verify = command("verify", "check a desk's journal against its venues, invariant by invariant")
    verify.add_argument("config", help="topology file of the desk")
    verify.add_argument(
        "--venue",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="where an embedded venue listens (default: its fixed port in the topology)",
    )

    ctl = command("ctl", "steer a running desk: " + ", ".join(CTL_ACTIONS))
    ctl.add_argument("action", choices=CTL_ACTIONS)
    where = ctl.add_mutually_exclusive_group()
    where.add_argument(
        "--config", help="topology file of the running desk (its control file is found from it)"
    )
    where.add_argument("--control", help="control file the desk wrote at start")
    ctl.add_argument("--reason", default="operator", help="why (halt/reduce/resume/cancel-all)")
    ctl.add_argument("--json", action="store_true", help="print the desk's answer as JSON")

    sim = command("sim-exchange", "serve simulated exchange(s) on loopback")
    sim.add_argument("--host", default="127.0.0.1", help="loopback only (127.0.0.1)")
    sim.add_argument(
        "--port", type=int, action="append", help="port of a venue (repeat for several; 0: free)"
    )
    sim.add_argument(
        "--protocol",
        default="binance",
        help="binance or okx; a comma-separated list gives one per --port (binance)",
    )
    sim.add_argument("--symbols", default="BTC/USDT,ETH/USDT", help="comma-separated symbols")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--rate", type=float, default=50.0, help="book changes/s per symbol")
    sim.add_argument("--api-key", help="API key to accept (default: generated for this run)")
    sim.add_argument("--secret", help="API secret (default: generated for this run)")
    sim.add_argument("--passphrase", help="OKX API passphrase (default: generated)")
    sim.add_argument("--tls", action="store_true", help="serve https/wss, self-signed")
    return main_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``actors`` console script; returns the exit status."""
    args = parser().parse_args(argv)
    try:
        configure_logging(
            args.log_level,
            args.log_format,
            file=args.log_file,
            max_bytes=int(args.log_file_max_mb * 1_000_000),
            backups=args.log_file_backups,
        )
    except (OSError, ValueError) as exc:
        print(f"actors: --log-file {args.log_file}: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    if args.command == "run":
        return _run(
            args.config,
            args.duration,
            args.summary_json,
            args.view,
            args.resume,
            args.node,
            args.report,
        )
    if args.command == "check":
        return _check(args.config)
    if args.command == "verify":
        return _verify(args.config, args.venue)
    if args.command == "ctl":
        return _ctl(args)
    return _sim_exchange(args)


class ExitCode(enum.IntEnum):
    """What the exit status of ``actors`` means (the README's operator guide lists them)."""

    OK = 0
    """Ran and stopped cleanly (or the topology checked out)."""
    GAVE_UP = 1
    """The root supervisor gave up (restart intensity exceeded): the whole desk stopped."""
    USAGE = 2
    """Bad topology file or command line; nothing was started."""
    DEGRADED = 3
    """Ran and stopped, but a part of the desk had given up during the run (a strategy
    stopped for crash-looping, a group that failed): read the log's CRITICAL lines."""
    OPEN_ORDERS_LEFT = 4
    """Ran and stopped, but orders may still be live at a venue (cancels on shutdown failed
    or timed out, or ``desk.cancel_on_shutdown`` is off): the log and stderr list them."""
    INVARIANT_VIOLATED = 5
    """A chaos run (``[faults]``) ran and stopped, but an invariant was violated at its end:
    the log's ``invariant FAIL`` lines (and ``--report``) name it with its evidence."""


def _run(
    path: str,
    duration: float | None,
    summary_json: str | None,
    view: str,
    resume: bool = False,
    node: str | None = None,
    report: str | None = None,
) -> int:
    from actors.remote import LeaseHeld
    from actors.topology.load import ConfigError, load
    from actors.topology.run import run_topology

    try:
        topology = load(path)
        if resume:
            topology = topology.resumed()
        outcome = trio.run(
            lambda: run_topology(
                topology,
                source=path,
                duration=duration,
                summary_json=summary_json,
                view=view,
                node=node,
                report=report,
            )
        )
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return ExitCode.USAGE
    except SupervisorGaveUp as exc:
        print(f"actors: the desk stopped: {exc}", file=sys.stderr)
        return ExitCode.GAVE_UP
    except LeaseHeld as exc:
        print(f"actors: not started: another node trades this account ({exc})", file=sys.stderr)
        return ExitCode.GAVE_UP
    except KeyboardInterrupt:  # before the desk (and its signal handling) started
        print("actors: interrupted while starting; nothing was running", file=sys.stderr)
        return ExitCode.OK
    system = outcome.system
    if system.gave_up:
        parts = ", ".join(event.child or event.path for event in system.gave_up)
        print(f"actors: stopped, but a part of the desk had given up: {parts}", file=sys.stderr)
        return ExitCode.DEGRADED
    if outcome.open_orders_left:
        left = outcome.open_orders_left
        print(
            f"actors: stopped with {len(left)} order(s) possibly live at a venue: "
            + ", ".join(left[:10])
            + (" ..." if len(left) > 10 else ""),
            file=sys.stderr,
        )
        return ExitCode.OPEN_ORDERS_LEFT
    if outcome.invariants is not None and not outcome.invariants.ok:
        names = ", ".join(r.name for r in outcome.invariants.violations)
        print(f"actors: stopped, but invariants were violated: {names}", file=sys.stderr)
        return ExitCode.INVARIANT_VIOLATED
    return ExitCode.OK


def _verify(path: str, venues: list[str]) -> int:
    from actors.testing.verify import verify_topology
    from actors.topology.load import ConfigError, load

    urls: dict[str, str] = {}
    for item in venues:
        name, sep, url = item.partition("=")
        if not sep or not name or not url:
            print(f"actors verify: --venue {item!r}: expected NAME=URL", file=sys.stderr)
            return ExitCode.USAGE
        urls[name] = url
    try:
        topology = load(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return ExitCode.USAGE
    unknown = sorted(set(urls) - {v.name for v in topology.venues})
    if unknown:
        print(f"actors verify: --venue: no venue named {', '.join(unknown)}", file=sys.stderr)
        return ExitCode.USAGE
    report = verify_topology(topology, urls=urls)
    print(report.text())
    failed = len(report.violations)
    print(f"{path}: {failed} invariant(s) violated" if failed else f"{path}: no violation")
    return 1 if failed else ExitCode.OK


def _check(path: str) -> int:
    from actors.topology.build import build
    from actors.topology.load import ConfigError, load
    from actors.topology.nodes import placement

    try:
        topology = load(path)
        plan = build(topology, source=path, pick_port=lambda: 0)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return ExitCode.USAGE
    print(f"{path}: ok: {len(topology.venues)} venues, {len(topology.strategies)} strategies")
    print(
        f"/ (root supervisor, one_for_one, max {plan.max_restarts} restarts within "
        f"{plan.within:g}s, then the desk stops)"
    )
    for line in tree_lines(plan.specs):
        print(line)
    journal = topology.journal
    durable = "every commit fsync'd" if journal.sync == "full" else "survives a process crash"
    print(
        f"journal {topology.desk.journal}: sync {journal.sync} ({durable}); client ids "
        f"leased {journal.id_block} at a time, the unused ones looked up at the next start"
    )
    for venue in topology.venues:
        print(f"venue {venue.name}: {venue_line(venue)}")
    for name, node in topology.nodes.items():
        print(placement(name, node))
    faults = topology.faults
    if faults is not None:
        stop = f", none after {faults.stop_after:g}s" if faults.stop_after else ""
        print(
            f"faults: {len(faults.inject)} (seed {faults.seed}, from {faults.start_after:g}s"
            f"{stop}; a timed run stops injecting {faults.settle:g}s before its end)"
        )
        for fault in faults.inject:
            print(f"  {fault.describe()}, {fault.trigger()}")
    return ExitCode.OK


def venue_line(venue: VenueSection) -> str:
    """How the desk reaches one venue: its protocol and where its orders go."""
    from actors.topology.load import ws_entry_available

    exchange = venue.embedded.protocol if venue.kind == "embedded" else venue.exchange or "binance"
    available = ws_entry_available(exchange)
    if venue.order_entry == "rest" or not available:
        entry = "REST" + ("" if available else " (no websocket order entry in ccxt)")
    else:
        entry = "websocket API, REST while its socket is down"
    return f"{venue.kind} {exchange}, orders and cancels over {entry}"


def tree_lines(specs: Sequence[ChildSpec], indent: str = "  ") -> list[str]:
    """The supervision tree as indented lines, with each node's effective supervision."""
    lines = []
    for spec in specs:
        if spec.supervision is not None:
            lines.append(f"{indent}{spec.name}/ ({spec.restart.value} {supervisor_line(spec)})")
            lines += tree_lines(spec.children, indent + "  ")
        else:
            box = spec.mailbox
            b = spec.backoff
            timeouts = "".join(
                f", {label} {value:g}s"
                for label, value in (("start", spec.start_timeout), ("stall", spec.stall_timeout))
                if value is not None
            )
            backoff = (
                f"backoff {b.initial:g}s x{b.multiplier:g} to {b.maximum:g}s "
                f"+-{b.jitter:.0%} (reset {b.reset_after:g}s)"
            )
            lines.append(
                f"{indent}{spec.name} ({spec.restart.value}, {backoff}, "
                f"grace {spec.shutdown_grace:g}s{timeouts}, "
                f"mailbox {box.overflow.value} {box.capacity})"
            )
    return lines


def _ctl(args: argparse.Namespace) -> int:
    from actors.observe.ctl import ControlError, ctl_command, find_control_file
    from actors.topology.load import ConfigError, load

    try:
        if args.control:
            control = args.control
        else:
            if not args.config:
                print("actors ctl: give --config TOPOLOGY or --control FILE", file=sys.stderr)
                return ExitCode.USAGE
            topology = load(args.config)
            if not topology.observe.control:
                print(
                    f"actors ctl: {args.config} turns the control endpoint off "
                    "(observe.control = false)",
                    file=sys.stderr,
                )
                return ExitCode.USAGE
            observe, desk = topology.observe, topology.desk
            control = find_control_file(observe.control_file, desk.journal, desk.name)
        text = ctl_command(control, args.action, reason=args.reason, as_json=args.json)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return ExitCode.USAGE
    except ControlError as exc:
        print(f"actors ctl {args.action}: {exc}", file=sys.stderr)
        return 1
    print(text)
    return ExitCode.OK


def supervisor_line(spec: ChildSpec) -> str:
    """``supervisor, one_for_one, max 5 restarts within 60s per child, then stop_child``."""
    settings = spec.supervision
    assert settings is not None
    each = " per child" if settings.give_up is GiveUp.STOP_CHILD else ""
    return (
        f"supervisor, {settings.strategy.value}, max {settings.max_restarts} restarts within "
        f"{settings.within:g}s{each}, then {settings.give_up.value}"
    )


def _sim_exchange(args: argparse.Namespace) -> int:
    from actors.venues.standalone import SimExchangeError, run_sim_exchange

    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    protocols = [p.strip() for p in args.protocol.split(",") if p.strip()]
    try:
        run_sim_exchange(
            host=args.host,
            ports=args.port or [0],
            symbols=symbols,
            seed=args.seed,
            rate_hz=args.rate,
            protocols=protocols,
            api_key=args.api_key,
            secret=args.secret,
            passphrase=args.passphrase,
            tls=args.tls,
        )
    except (SimExchangeError, ValueError) as exc:
        print(f"actors sim-exchange: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
