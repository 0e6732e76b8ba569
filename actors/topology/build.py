"""Turning a validated topology into the children of the root supervisor."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from actors.runtime import ChildSpec
from actors.testing.runner import FaultRunner
from actors.testing.venues import LocalVenue, VenueHandle
from actors.topology.load import ConfigError, group_policies, located
from actors.topology.nodes import NodePlan, node_plan, place
from actors.topology.numbers import number_problems
from actors.topology.schema import StrategySection, Topology, VenueSection
from actors.trading.config import DeskOptions, StrategySpec, VenueSpec
from actors.trading.desk import desk_specs
from actors.trading.journal import probe_journal
from actors.trading.journal_session import account_problem
from actors.trading.ratelimit import VenueBudget
from actors.trading.shutdown import ShutdownReport
from actors.trading.strategy import InvalidParams, Strategy, resolve
from actors.venues.actor import VenueActor
from actors.venues.client import ccxt_config
from actors.venues.config import DEFAULT_BALANCES, VenueConfig


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Plan:
    """What a topology becomes: the root's children and what an operator needs to know."""

    specs: list[ChildSpec]
    max_restarts: int
    within: float
    endpoints: dict[str, str] = field(default_factory=dict)
    """Base URL of every embedded venue, by name."""
    budgets: dict[str, VenueBudget] = field(default_factory=dict)
    """Shared per-venue rate budgets (429 pauses, malformed-frame counts)."""
    venues: list[VenueSpec] = field(default_factory=list)
    """The desk's view of each venue, as built from the topology."""
    blocked_after: float | None = 0.5
    """Threshold of the blocking monitor (None: off); see ``actors.runtime.monitor``."""
    report: ShutdownReport = field(default_factory=ShutdownReport)
    """Filled in when the router stops: the orders left possibly live at a venue."""
    embedded: dict[str, VenueConfig] = field(default_factory=dict)
    """Configuration of every embedded venue (port, protocol, credentials), by name."""
    node: NodePlan | None = None
    """This process's share of a split desk (``specs`` are that share); None: the whole."""
    faults: FaultRunner | None = None
    """The runner of the topology's ``[faults]`` plan (chaos mode), started with the desk."""
    served: EmbeddedVenues | None = None
    """The embedded venues this process serves, once they run (for faults and invariants)."""


class EmbeddedVenues:
    """The embedded venues of a plan, reachable from the process that runs them.

    The venues actor is built through :meth:`factory`, which keeps the incarnation it made,
    so a fault plan and the invariants can use the venues in-process (their knobs, their
    engines) without a look into the actor from outside.
    """

    def __init__(self) -> None:
        self._actor: VenueActor | None = None

    def factory(self, configs: tuple[VenueConfig, ...]) -> Callable[[], VenueActor]:
        """The venues actor's factory: a fresh ``VenueActor`` per incarnation, remembered."""

        def make() -> VenueActor:
            self._actor = VenueActor(configs)
            return self._actor

        return make

    def handles(self) -> dict[str, VenueHandle]:
        """``LocalVenue`` handles by name of the venues running now (empty before start)."""
        venues = self._actor.venues() if self._actor is not None else []
        return {v.config.name: LocalVenue(v) for v in venues}


def build(
    topology: Topology,
    *,
    source: str = "<topology>",
    env: Mapping[str, str] = os.environ,
    pick_port: Callable[[], int] = free_port,
    node: str | None = None,
) -> Plan:
    """The supervision tree of ``topology``: embedded venues first, then the desk.

    Embedded venues asked for port 0 get a free port now, so a restarted venue comes back
    where its clients look for it. Keys of real exchanges come from the environment; a
    missing variable is a ``ConfigError`` naming the key. With ``node``, only the groups
    the topology's ``[nodes]`` place on that node (``actors.topology.nodes``).
    """
    share = node_plan(topology, node, source=source) if node is not None else None
    groups = group_policies(topology)
    venue_configs: list[VenueConfig] = []
    venue_specs: list[VenueSpec] = []
    endpoints: dict[str, str] = {}
    embedded: dict[str, VenueConfig] = {}
    problems: list[str] = []
    for i, venue in enumerate(topology.venues):
        if venue.kind == "embedded":
            config = _embedded(venue, pick_port)
            venue_configs.append(config)
            embedded[venue.name] = config
            url = f"http://127.0.0.1:{config.port}"
            endpoints[venue.name] = url
            ccxt: dict[str, Any] = ccxt_config(
                url,
                config.api_key,
                config.secret,
                protocol=config.protocol,
                password=config.passphrase,
            )
        else:
            ccxt = dict(venue.options)
            for key, var in (
                ("apiKey", venue.api_key_env),
                ("secret", venue.secret_env),
                ("password", venue.password_env),
            ):
                if var is None:
                    continue
                if not env.get(var):
                    problems.append(
                        f"venues[{i}].{ENV_KEYS[key]}: environment variable {var} is not set"
                    )
                else:
                    ccxt[key] = env[var]
        try:
            venue_specs.append(
                VenueSpec(
                    venue.name,
                    ccxt,
                    tuple(venue.symbols),
                    exchange=venue.embedded.protocol
                    if venue.kind == "embedded"
                    else venue.exchange or "binance",
                    stall_after=venue.stall_after,
                    watch_trades=venue.watch_trades,
                    watch_tickers=venue.watch_tickers,
                    user_streams=venue.user_streams,
                    liveness_interval=venue.liveness_interval,
                    submit_timeout=venue.submit_timeout,
                    order_entry=venue.order_entry or "ws",
                    rate=venue.rate,
                    burst=venue.burst,
                    self_trade_mode=None
                    if topology.risk.self_trade == "off"
                    else topology.risk.self_trade,
                    sandbox=venue.kind == "exchange" and venue.sandbox,
                    identity="session" if venue.kind == "embedded" else "account",
                )
            )
        except ValueError as exc:
            problems.append(f"venues[{i}]: {exc}")
    journal_problem = probe_journal(topology.desk.journal) or account_problem(
        topology.desk.journal, venue_specs
    )
    if journal_problem:
        problems.append(f"desk.journal: {journal_problem}")
    if problems:
        raise ConfigError(source, problems)

    all_venues = [v.name for v in topology.venues]
    for i, s in enumerate(topology.strategies):
        problems += strategy_problems(f"strategies[{i}]", s, all_venues)
    if problems:
        raise ConfigError(source, problems)
    strategies = [
        StrategySpec(s.name, s.class_, strategy_params(s, all_venues)) for s in topology.strategies
    ]
    options = DeskOptions(
        journal_path=topology.desk.journal,
        book_depth=max(v.book_depth for v in topology.venues),
        book_stale_after=topology.desk.book_stale_after,
        cancel_on_shutdown=topology.desk.cancel_on_shutdown,
        orphans=topology.desk.orphans,
        groups=groups,
        desk_name=topology.desk.name,
        resume=topology.desk.resume,
        snapshot_every=topology.desk.snapshot_every,
        retention=topology.desk.retention,
        retain_orders=topology.desk.retain_orders,
        journal_sync=topology.journal.sync,
        client_id_block=topology.journal.id_block,
    )
    budgets: dict[str, VenueBudget] = {}
    report = ShutdownReport()
    try:
        specs = desk_specs(
            venue_specs, strategies, topology.risk, options, budgets=budgets, report=report
        )
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(source, [f"strategies: {exc}"]) from None
    served = EmbeddedVenues()
    if venue_configs:
        venues = groups["venues"]
        specs.insert(
            0,
            ChildSpec(
                "venues",
                served.factory(tuple(venue_configs)),
                backoff=venues.backoff,
                shutdown_grace=venues.shutdown_grace,
            ),
        )
    if topology.faults is not None and share is not None:
        raise ConfigError(
            source,
            ["faults: a fault plan runs on a whole desk in one process, not on one node of it"],
        )
    runner = _fault_runner(topology, specs, served, source)
    blocked_after = topology.supervision.blocked_after
    if share is not None:
        specs = place(specs, share)
    return Plan(
        specs,
        topology.supervision.max_restarts,
        topology.supervision.within,
        endpoints,
        budgets,
        venue_specs,
        blocked_after=blocked_after or None,
        report=report,
        embedded=embedded,
        node=share,
        faults=runner,
        served=served,
    )


def actor_paths(specs: Sequence[ChildSpec], parent: str = "") -> list[str]:
    """Every actor path of a tree of specs, supervisors included, in start order."""
    paths = []
    for spec in specs:
        path = f"{parent}/{spec.name}"
        paths.append(path)
        paths += actor_paths(spec.children, path)
    return paths


def _fault_runner(
    topology: Topology, specs: list[ChildSpec], served: EmbeddedVenues, source: str
) -> FaultRunner | None:
    """The runner of ``[faults]``; a fault aimed at a path with no actor is a ConfigError."""
    plan = topology.faults
    if plan is None:
        return None
    known = set(actor_paths(specs))
    problems = []
    for i, fault in enumerate(plan.inject):
        for key in ("actor", "to"):
            path = getattr(fault, key)
            if path is not None and path not in known:
                near = sorted(p for p in known if p.split("/")[1:2] == path.split("/")[1:2])
                hint = f" (there: {', '.join(near[:8])})" if near else ""
                problems.append(f"faults.inject[{i}].{key}: no actor at {path!r}{hint}")
    if problems:
        raise ConfigError(source, problems)
    return FaultRunner(
        plan,
        venues=served.handles,
        symbols={v.name: tuple(v.symbols) for v in topology.venues if v.kind == "embedded"},
        journal=topology.desk.journal,
        depth=max(v.book_depth for v in topology.venues),
    )


def strategy_problems(at: str, strategy: StrategySection, all_venues: list[str]) -> list[str]:
    """Problems loading ``strategy``'s class or fitting its params to the class's ``Params``."""
    params = strategy_params(strategy, all_venues)
    try:
        cls = resolve(strategy.class_)
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise ValueError(f"{strategy.class_!r} is not a Strategy subclass")
    except (ImportError, AttributeError, ValueError, TypeError) as exc:
        return [f"{at}.class: cannot load {strategy.class_!r}: {exc}"]
    try:
        typed = cls.parse_params(params)
    except InvalidParams as exc:
        return [located(str(exc), params, f"{at}.params")]
    return number_problems(typed, f"{at}.params", default_range=False)


def strategy_params(strategy: StrategySection, all_venues: list[str]) -> dict[str, Any]:
    """A strategy's params plus where it trades: ``symbols``/``venues`` lists, and
    ``symbol``/``venue`` when there is exactly one (explicit params win)."""
    venues = list(strategy.venues) or all_venues
    where: dict[str, Any] = {"symbols": list(strategy.symbols), "venues": venues}
    if len(strategy.symbols) == 1:
        where["symbol"] = strategy.symbols[0]
    if len(venues) == 1:
        where["venue"] = venues[0]
    return {**where, **strategy.params}


ENV_KEYS = {"apiKey": "api_key_env", "secret": "secret_env", "password": "password_env"}
"""ccxt credential -> the venue key naming the environment variable that holds it."""


def _embedded(venue: VenueSection, pick_port: Callable[[], int]) -> VenueConfig:
    embedded = venue.embedded
    return VenueConfig(
        name=venue.name,
        protocol=embedded.protocol,
        port=embedded.port or pick_port(),
        symbols=tuple(venue.symbols),
        seed=embedded.seed,
        rate_hz=embedded.rate_hz,
        api_key=embedded.api_key,
        secret=embedded.secret,
        balances=dict(embedded.balances) if embedded.balances else dict(DEFAULT_BALANCES),
        maker_fee=Decimal(str(embedded.maker_fee)),
        taker_fee=Decimal(str(embedded.taker_fee)),
    )
