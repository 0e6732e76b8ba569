"""The command line: ``actors run | check | sim-exchange``. The only place that parses argv."""

from __future__ import annotations

import argparse
import enum
import sys
from collections.abc import Sequence

import trio

from actors.observe.logs import configure_logging
from actors.runtime import ChildSpec, GiveUp, SupervisorGaveUp


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``actors`` console script; returns the exit status."""
    parser = argparse.ArgumentParser(prog="actors", description=__doc__)
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING... (INFO)")
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a topology until SIGINT/SIGTERM")
    run.add_argument("config", help="topology file, e.g. config/paper.toml")
    run.add_argument("--duration", type=float, help="stop gracefully after this many seconds")

    check = commands.add_parser("check", help="validate a topology and print its tree")
    check.add_argument("config")

    sim = commands.add_parser("sim-exchange", help="serve embedded venue(s) on loopback")
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

    args = parser.parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    if args.command == "run":
        return _run(args.config, args.duration)
    if args.command == "check":
        return _check(args.config)
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


def _run(path: str, duration: float | None) -> int:
    from actors.topology.load import ConfigError, load
    from actors.topology.run import run_topology

    try:
        topology = load(path)
        outcome = trio.run(lambda: run_topology(topology, source=path, duration=duration))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return ExitCode.USAGE
    except SupervisorGaveUp as exc:
        print(f"actors: the desk stopped: {exc}", file=sys.stderr)
        return ExitCode.GAVE_UP
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
    return ExitCode.OK


def _check(path: str) -> int:
    from actors.topology.build import build
    from actors.topology.load import ConfigError, load

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
    return ExitCode.OK


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
